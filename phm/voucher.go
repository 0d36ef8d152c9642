package phm

import (
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"fmt"
)

// Voucher layout (docs e2ee.md §5.3). Every voucher of one Params has the
// same length whether it matched, did not, is synthetic, repeats content or
// came from a low-quality image: the length must say nothing.
//
//	voucher  = version(1) ‖ epoch(4) ‖ id(16) ‖ K × element ‖ header
//	element  = Q(32) ‖ 3 × AEAD_{k_w}(k_img)(32+16)
//	header   = AEAD_{k_img}(share(32) ‖ DHF vector((1+S)·8) ‖ inner)
//	inner    = AEAD_{HKDF(K_acct, id)}(HPKE_seal(review key, payload(InnerSize)))
const (
	// Version is the voucher format's first byte.
	Version = 1
	// K is the fixed number of elements (keys) per voucher.
	K = 64
	// EpochSize is the length of the account epoch, sent in the clear:
	// the service keeps each epoch's positives apart, since its account
	// secrets are new.
	EpochSize = 4
	// IDSize is the length of a voucher id.
	IDSize = 16
	// KeySize is the length of the per-image key k_img.
	KeySize = 32
	// TagSize is the AES-GCM tag length.
	TagSize = 16
	// WaySize is one way's ciphertext: k_img sealed under that way's key.
	WaySize = KeySize + TagSize
	// ElementLen is the length of one encoded element.
	ElementLen = ElementSize + Ways*WaySize
	// ScalarSize is the length of an encoded group scalar (a Shamir share).
	ScalarSize = 32
	// InnerSize is the padded plaintext length of the inner payload.
	InnerSize = 4096
	// EncSize is the HPKE encapsulation length of InnerSuite's KEM
	// (ML-KEM-768 ciphertext 1088 B + X25519 share 32 B).
	EncSize = 1120
	// SealedInnerSize is the inner payload once HPKE-sealed to the review
	// key and sealed again under the account's per-voucher key.
	SealedInnerSize = EncSize + InnerSize + TagSize + TagSize
)

// Params are an account's threshold parameters, fixed for an epoch.
type Params struct {
	// T is the threshold: more than T real matches open an account (the
	// DHF and Shamir polynomials both need T+1 points).
	T int
	// S is the DHF capacity and the cap on synthetic vouchers per epoch.
	S int
}

// DefaultParams are v1's t = 30 (Apple's initial value) and s = 60 ≥ 2t.
var DefaultParams = Params{T: 30, S: 60}

// Validate refuses parameters the DHF cannot work with.
func (p Params) Validate() error {
	if p.T < 1 || p.S < 1 || p.T > 1024 || p.S > 1024 {
		return fmt.Errorf("phm: threshold t = %d, capacity s = %d out of range 1..1024", p.T, p.S)
	}
	return nil
}

// DHFSize is the encoded length of a DHF vector (x, p₁(x) … p_S(x)).
func (p Params) DHFSize() int { return (1 + p.S) * 8 }

// HeaderPlainSize is the header's plaintext length.
func (p Params) HeaderPlainSize() int { return ScalarSize + p.DHFSize() + SealedInnerSize }

// HeaderSize is the sealed header's length.
func (p Params) HeaderSize() int { return p.HeaderPlainSize() + TagSize }

// VoucherSize is the length of every encoded voucher under p.
func (p Params) VoucherSize() int { return 1 + EpochSize + IDSize + K*ElementLen + p.HeaderSize() }

// Element is one encoded element: Q and three sealed copies of k_img.
type Element [ElementLen]byte

// Voucher is a parsed voucher: what the service receives for one image.
type Voucher struct {
	Epoch    uint32
	ID       [IDSize]byte
	Elements [K]Element
	Header   []byte // sealed header, Params.HeaderSize() bytes
}

// MarshalBinary encodes v; its length is always Params.VoucherSize() for
// the header length v was made with.
func (v *Voucher) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, 1+EpochSize+IDSize+K*ElementLen+len(v.Header))
	out = append(out, Version)
	out = binary.BigEndian.AppendUint32(out, v.Epoch)
	out = append(out, v.ID[:]...)
	for i := range v.Elements {
		out = append(out, v.Elements[i][:]...)
	}
	return append(out, v.Header...), nil
}

// ErrVoucher is returned for bytes that are not a voucher of the expected
// parameters.
var ErrVoucher = errors.New("phm: not a voucher")

// ParseVoucher decodes a voucher made under p. Only the exact length is
// accepted, which is also its size limit.
func ParseVoucher(b []byte, p Params) (*Voucher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(b) != p.VoucherSize() {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrVoucher, len(b), p.VoucherSize())
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrVoucher, b[0], Version)
	}
	v := &Voucher{}
	b = b[1:]
	v.Epoch = binary.BigEndian.Uint32(b)
	b = b[EpochSize:]
	copy(v.ID[:], b[:IDSize])
	b = b[IDSize:]
	for i := range v.Elements {
		copy(v.Elements[i][:], b[:ElementLen])
		b = b[ElementLen:]
	}
	v.Header = append([]byte(nil), b...)
	return v, nil
}

// Header is the plaintext of a voucher's header: what opening any element
// of the voucher reveals.
type Header struct {
	// Share is the encoded Shamir share of K_acct at x′ = ShareID(id).
	Share [ScalarSize]byte
	// DHF is the detectable-hash vector (x, p₁(x) … p_S(x)).
	DHF []uint64
	// Inner is the sealed inner payload, SealedInnerSize bytes.
	Inner []byte
}

// MarshalHeader encodes h under p.
func MarshalHeader(h *Header, p Params) ([]byte, error) {
	if len(h.DHF) != 1+p.S || len(h.Inner) != SealedInnerSize {
		return nil, fmt.Errorf("phm: header with %d DHF values and %d inner bytes does not fit s = %d", len(h.DHF), len(h.Inner), p.S)
	}
	out := make([]byte, 0, p.HeaderPlainSize())
	out = append(out, h.Share[:]...)
	for _, v := range h.DHF {
		out = binary.BigEndian.AppendUint64(out, v)
	}
	return append(out, h.Inner...), nil
}

// ParseHeader decodes a header plaintext of exactly p.HeaderPlainSize() bytes.
func ParseHeader(b []byte, p Params) (*Header, error) {
	if len(b) != p.HeaderPlainSize() {
		return nil, fmt.Errorf("%w: header is %d bytes, want %d", ErrVoucher, len(b), p.HeaderPlainSize())
	}
	h := &Header{DHF: make([]uint64, 1+p.S)}
	copy(h.Share[:], b)
	b = b[ScalarSize:]
	for i := range h.DHF {
		h.DHF[i] = binary.BigEndian.Uint64(b)
		b = b[8:]
	}
	h.Inner = append([]byte(nil), b...)
	return h, nil
}

// shareDST separates the hash of a voucher id to its Shamir share id.
var shareDST = []byte("vigil-phm-v1-share-id")

// ShareID is x′ = HashToScalar(id), the point a voucher's Shamir share is
// evaluated at. Client and service derive it; it is never sent.
func ShareID(id [IDSize]byte) []byte {
	b, _ := Group.HashToScalar(id[:], shareDST).MarshalBinary()
	return b
}

// The inner payload's HPKE suite: post-quantum hybrid KEM to the review
// service's key (docs e2ee.md §5.8).
var (
	InnerKEM  = hpke.MLKEM768X25519()
	InnerKDF  = hpke.HKDFSHA256()
	InnerAEAD = hpke.AES256GCM()
)

// InnerInfo is the HPKE info for a voucher's payload: it binds the payload
// to the voucher id so that a payload cannot be moved to another voucher.
func InnerInfo(id [IDSize]byte) []byte {
	return append([]byte("vigil-phm-v1 inner "), id[:]...)
}

// Payload is the inner payload: what the review service sees of a matching
// image once its account passed the threshold.
type Payload struct {
	// SHA256 is the file's digest, for the case's content reference.
	SHA256 [32]byte
	// Width and Height are the original image's size in pixels.
	Width, Height int
	// Ref is the messenger's reference to the attachment (≤ MaxRefLen).
	Ref string
	// Derivative is a 128×128 greyscale JPEG of the image.
	Derivative []byte
}

// MaxRefLen bounds a payload's attachment reference.
const MaxRefLen = 256

// payload layout: magic(4) ‖ sha256(32) ‖ width(4) ‖ height(4) ‖
// reflen(2) ‖ ref ‖ jpeglen(2) ‖ jpeg ‖ zero padding to InnerSize.
const payloadFixed = 4 + 32 + 4 + 4 + 2 + 2

var payloadMagic = [4]byte{'p', 'h', 'm', 1}

// MaxDerivative is the largest derivative a payload holds along with a
// reference of MaxRefLen.
const MaxDerivative = InnerSize - payloadFixed - MaxRefLen

// MarshalPayload encodes p padded to InnerSize.
func MarshalPayload(p *Payload) ([]byte, error) {
	if len(p.Ref) > MaxRefLen {
		return nil, fmt.Errorf("phm: attachment reference is %d bytes, over %d", len(p.Ref), MaxRefLen)
	}
	if len(p.Derivative) > InnerSize-payloadFixed-len(p.Ref) {
		return nil, fmt.Errorf("phm: derivative of %d bytes does not fit the payload", len(p.Derivative))
	}
	if p.Width < 0 || p.Height < 0 || p.Width > 1<<31-1 || p.Height > 1<<31-1 {
		return nil, fmt.Errorf("phm: image size %dx%d out of range", p.Width, p.Height)
	}
	out := make([]byte, 0, InnerSize)
	out = append(out, payloadMagic[:]...)
	out = append(out, p.SHA256[:]...)
	out = binary.BigEndian.AppendUint32(out, uint32(p.Width))
	out = binary.BigEndian.AppendUint32(out, uint32(p.Height))
	out = binary.BigEndian.AppendUint16(out, uint16(len(p.Ref)))
	out = append(out, p.Ref...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(p.Derivative)))
	out = append(out, p.Derivative...)
	return out[:InnerSize], nil
}

// ParsePayload decodes a padded payload of exactly InnerSize bytes.
func ParsePayload(b []byte) (*Payload, error) {
	if len(b) != InnerSize || [4]byte(b[:4]) != payloadMagic {
		return nil, fmt.Errorf("%w: payload", ErrVoucher)
	}
	p := &Payload{}
	b = b[4:]
	copy(p.SHA256[:], b)
	b = b[32:]
	w, h := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if w > 1<<31-1 || h > 1<<31-1 {
		return nil, fmt.Errorf("%w: payload image size", ErrVoucher)
	}
	p.Width, p.Height = int(w), int(h)
	b = b[8:]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > MaxRefLen || n+2 > len(b) {
		return nil, fmt.Errorf("%w: payload reference length", ErrVoucher)
	}
	p.Ref = string(b[:n])
	b = b[n:]
	n = int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > len(b) {
		return nil, fmt.Errorf("%w: payload derivative length", ErrVoucher)
	}
	p.Derivative = append([]byte(nil), b[:n]...)
	return p, nil
}
