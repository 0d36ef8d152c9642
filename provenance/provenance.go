// Package provenance reads what a file says of its own origin: a C2PA
// manifest (JUMBF boxes in JPEG APP11 segments, a PNG caBX chunk or an ISO
// BMFF file's C2PA uuid box; a CBOR claim signed with COSE_Sign1, perhaps
// time-stamped (RFC 3161) and with a stapled OCSP response, and bound to
// the file by a hash of its bytes or of its boxes) and the IPTC digital
// source type in its XMP packet. It works on bytes already
// in memory (the hashing step's), does no I/O, and reports; what a file
// claims about itself is an indication for a reviewer, never a decision.
package provenance

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/vigil-oss/vigil"
)

// Limits bound the work spent on one file's provenance.
type Limits struct {
	// MaxManifestBytes bounds the manifest store (all of a JPEG's JUMBF
	// segments together, a PNG's caBX chunk).
	MaxManifestBytes int
	// MaxBoxDepth and MaxBoxes bound the JUMBF box tree.
	MaxBoxDepth, MaxBoxes int
	// MaxCBORDepth bounds CBOR nesting, MaxCBORItems the elements of one
	// CBOR array or the pairs of one map.
	MaxCBORDepth, MaxCBORItems int
	// MaxChain bounds the certificates in a signature's x5chain.
	MaxChain int
	// MaxXMPBytes bounds the XMP packet (after inflating a compressed one)
	// and MaxXMPDepth its element nesting.
	MaxXMPBytes, MaxXMPDepth int
	// MaxExclusions bounds the byte ranges a hard binding excludes.
	MaxExclusions int
	// MaxManifests bounds the manifests whose signatures are checked:
	// the active one and the newest of its ingredients'. Each costs a
	// claim signature and a chain's worth of certificate signatures.
	MaxManifests int
	// MaxTimestampBytes bounds an RFC 3161 time-stamp (a TSA's token with
	// its certificates is a few kilobytes).
	MaxTimestampBytes int
	// MaxBMFFBoxes bounds the boxes of a BMFF file walked for its
	// manifest and its hard binding (a fragmented video has two a
	// fragment).
	MaxBMFFBoxes int
}

// DefaultLimits are generous for real manifests (a few kilobytes, a
// thumbnail, a chain of two or three certificates) and small for hostile
// ones.
var DefaultLimits = Limits{
	MaxManifestBytes: 8 << 20, MaxBoxDepth: 8, MaxBoxes: 1024,
	MaxCBORDepth: 16, MaxCBORItems: 4096, MaxChain: 8,
	MaxXMPBytes: 1 << 20, MaxXMPDepth: 64, MaxExclusions: 64, MaxManifests: 5,
	MaxTimestampBytes: 256 << 10, MaxBMFFBoxes: 1 << 16,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	for _, f := range []struct{ v, def *int }{
		{&l.MaxManifestBytes, &d.MaxManifestBytes}, {&l.MaxBoxDepth, &d.MaxBoxDepth}, {&l.MaxBoxes, &d.MaxBoxes},
		{&l.MaxCBORDepth, &d.MaxCBORDepth}, {&l.MaxCBORItems, &d.MaxCBORItems}, {&l.MaxChain, &d.MaxChain},
		{&l.MaxXMPBytes, &d.MaxXMPBytes}, {&l.MaxXMPDepth, &d.MaxXMPDepth}, {&l.MaxExclusions, &d.MaxExclusions},
		{&l.MaxManifests, &d.MaxManifests}, {&l.MaxTimestampBytes, &d.MaxTimestampBytes},
		{&l.MaxBMFFBoxes, &d.MaxBMFFBoxes},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// Options configure a Reader.
type Options struct {
	Limits Limits
	// Roots are the trust anchors for C2PA signers (a deployment's copy of
	// the C2PA trust list, say), parsed with ParseCertificate so that
	// RSASSA-PSS keys are usable. None: no signer is trusted; signatures
	// are still checked and reported.
	Roots []*x509.Certificate
	// TSARoots are the trust anchors for RFC 3161 time-stamping
	// authorities (C2PA keeps a list of its own for them); none: Roots
	// are used.
	TSARoots []*x509.Certificate
	// Now is the clock certificates' validity is checked against; nil:
	// time.Now.
	Now func() time.Time
}

// Reader reads provenance. It holds no per-file state and is safe for
// concurrent use.
type Reader struct {
	limits   Limits
	roots    *x509.CertPool
	tsaRoots *x509.CertPool
	now      func() time.Time
	dec      cbor.DecMode
}

// NewReader returns a Reader. Zero limits take DefaultLimits'.
func NewReader(opts Options) (*Reader, error) {
	l := opts.Limits.withDefaults()
	dec, err := cbor.DecOptions{
		MaxNestedLevels:  max(l.MaxCBORDepth, 4),
		MaxArrayElements: max(l.MaxCBORItems, 16),
		MaxMapPairs:      max(l.MaxCBORItems, 16),
		// A duplicated key could make two readers see two claims.
		DupMapKey: cbor.DupMapKeyEnforcedAPF,
		IntDec:    cbor.IntDecConvertSignedOrFail,
	}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	tsa := opts.TSARoots
	if len(tsa) == 0 {
		tsa = opts.Roots
	}
	return &Reader{limits: l, roots: pool(opts.Roots), tsaRoots: pool(tsa), now: now, dec: dec}, nil
}

// pool returns a pool of certs, nil for none.
func pool(certs []*x509.Certificate) *x509.CertPool {
	if len(certs) == 0 {
		return nil
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// Trust says whether a C2PA signer's certificate chains to a trust anchor.
const (
	Trusted      = "trusted"       // chains to one of Options.Roots
	Untrusted    = "untrusted"     // a valid chain, to no anchor of ours
	SelfSigned   = "self_signed"   // a lone certificate signed by itself
	InvalidChain = "invalid_chain" // a certificate not signed by the next, or none usable
	// Expired: chains to one of Options.Roots, but a certificate has
	// expired since (or is not yet valid), and no valid time-stamp shows
	// that the claim was signed while it was valid.
	Expired = "expired"
)

// Result is a file's provenance. A nil *Result means the file carries
// none that this package reads.
type Result struct {
	C2PA *C2PA `json:"c2pa,omitempty"`
	XMP  *XMP  `json:"xmp,omitempty"`
}

// C2PA is what the active manifest (the last of the store) says, and
// whether it holds; and what the manifests of its ingredients (earlier
// versions, placed parts) carried along in the store say.
type C2PA struct {
	// Manifests is how many manifests the store holds (the active one and
	// the ingredients' it carries along).
	Manifests int `json:"manifests"`
	// Manifest is the active manifest.
	Manifest
	// BindingValid says the active manifest's hard binding holds: the
	// file's bytes, less the excluded ranges (the manifest itself), hash
	// to what the signed claim says. False for a file changed after
	// signing.
	BindingValid bool `json:"binding_valid"`
	// Ingredients are the store's other manifests, newest first, as many
	// as Limits.MaxManifests leaves room for; their bindings are to their
	// own files, not this one.
	Ingredients []Manifest `json:"ingredients,omitempty"`
}

// Manifest is what one manifest's claim says, and whether its signature
// holds.
type Manifest struct {
	Label string `json:"label,omitempty"` // a URN
	// ClaimGenerator is the software that made the claim.
	ClaimGenerator string `json:"claim_generator,omitempty"`
	// Signer and Issuer are the signing certificate's subject and issuer.
	Signer string `json:"signer,omitempty"`
	Issuer string `json:"issuer,omitempty"`
	Alg    string `json:"alg,omitempty"`
	// SignatureValid says the claim's COSE signature verifies with the
	// signer certificate's key; Trust, where that certificate leads.
	SignatureValid bool   `json:"signature_valid"`
	Trust          string `json:"trust,omitempty"`
	// Timestamp is the signature's RFC 3161 time-stamp, nil when it has
	// none. When it is valid, Trust is judged at its time, not now.
	Timestamp *Timestamp `json:"timestamp,omitempty"`
	// Revocation is the signer certificate's status in an OCSP response
	// stapled to the signature, nil when none is; a valid one saying
	// revoked before the signing time makes Trust revoked.
	Revocation *Revocation `json:"revocation,omitempty"`
	Actions    []Action    `json:"actions,omitempty"`
	// Problems say, for a reviewer, what did not hold or could not be read.
	Problems []string `json:"problems,omitempty"`
}

// Action is one entry of a c2pa.actions assertion.
type Action struct {
	Action            string `json:"action"`
	DigitalSourceType string `json:"digital_source_type,omitempty"` // IPTC code: trainedAlgorithmicMedia, …
	SoftwareAgent     string `json:"software_agent,omitempty"`
}

// XMP is what the file's XMP packet says of its source.
type XMP struct {
	DigitalSourceType string `json:"digital_source_type,omitempty"` // IPTC code
	Problem           string `json:"problem,omitempty"`
}

// Read returns what data (a whole JPEG, PNG or ISO BMFF file: MP4, MOV)
// says of its provenance, or nil when it says nothing this package reads.
// It never fails: what cannot be read is reported in the result's
// Problems.
func (r *Reader) Read(data []byte) *Result {
	var e embedded
	switch {
	case len(data) > 2 && data[0] == 0xFF && data[1] == 0xD8:
		e = jpegSegments(data, r.limits)
	case len(data) > len(pngSignature) && string(data[:len(pngSignature)]) == string(pngSignature):
		e = pngChunks(data, r.limits)
	case isBMFF(data):
		e = bmffManifest(data, r.limits)
	default:
		return nil
	}
	res := &Result{}
	if e.jumbf != nil || e.jumbfErr != nil {
		res.C2PA = &C2PA{}
		if e.jumbfErr != nil && e.jumbf == nil {
			res.C2PA.problem(e.jumbfErr)
		} else {
			r.readManifestStore(res.C2PA, e.jumbf, data, e.bmff)
		}
	}
	if e.xmp != nil || e.xmpErr != nil {
		x := &XMP{}
		err := e.xmpErr
		if err == nil {
			x.DigitalSourceType, err = digitalSourceType(e.xmp, r.limits)
		}
		if err != nil {
			x.Problem = err.Error()
		}
		if x.DigitalSourceType != "" || x.Problem != "" {
			res.XMP = x
		}
	}
	if res.C2PA == nil && res.XMP == nil {
		return nil
	}
	return res
}

func (m *Manifest) problem(err error) { m.Problems = append(m.Problems, err.Error()) }

// IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/)
// that say a generative or algorithmic process made the content or part
// of it.
var generativeSourceTypes = map[string]bool{
	"trainedAlgorithmicMedia":              true, // made by a trained model
	"compositeWithTrainedAlgorithmicMedia": true, // edited with one (inpainting, say)
	"algorithmicMedia":                     true, // made by an algorithm, no training data
	"compositeSynthetic":                   true, // a composite including synthetic elements
}

const iptcSourceTypePrefix = "http://cv.iptc.org/newscodes/digitalsourcetype/"

// sourceTypeCode returns the IPTC code of a digital source type URI (or
// of a bare code).
func sourceTypeCode(v string) string {
	v = strings.TrimSpace(v)
	for _, p := range []string{iptcSourceTypePrefix, "https://cv.iptc.org/newscodes/digitalsourcetype/"} {
		if strings.HasPrefix(v, p) {
			return v[len(p):]
		}
	}
	return v
}

// GenerativeAI returns the indication a case shows when the file says it
// was made or edited by a generative process, or nil. A C2PA manifest's
// actions are preferred to XMP (which anyone can write, unsigned), and
// the indication carries whether the manifest's signature, binding and
// signer hold, for the reviewer to weigh.
func (r *Result) GenerativeAI() *vigil.GenerativeAI {
	if r == nil {
		return nil
	}
	if c := r.C2PA; c != nil {
		if g := c.Manifest.generative(); g != nil {
			g.BindingValid = c.BindingValid
			return g
		}
		// An ingredient made by a generator (the picture this one was
		// edited from, a part placed in it): said so, and the binding is
		// to the ingredient's file, so it is not claimed here.
		for i := range c.Ingredients {
			if g := c.Ingredients[i].generative(); g != nil {
				g.Ingredient = true
				return g
			}
		}
	}
	if x := r.XMP; x != nil && generativeSourceTypes[x.DigitalSourceType] {
		return &vigil.GenerativeAI{Source: vigil.GenerativeAIXMP, DigitalSourceType: x.DigitalSourceType}
	}
	return nil
}

// generative returns the indication m's actions give, or nil.
func (m *Manifest) generative() *vigil.GenerativeAI {
	for _, a := range m.Actions {
		if generativeSourceTypes[a.DigitalSourceType] {
			return &vigil.GenerativeAI{
				Source: vigil.GenerativeAIC2PA, DigitalSourceType: a.DigitalSourceType,
				Generator: clean(m.ClaimGenerator), Signer: clean(m.Signer),
				SignatureValid: m.SignatureValid, Trust: m.Trust,
				Timestamped: m.Timestamp != nil && m.Timestamp.Valid,
			}
		}
	}
	return nil
}

// clean makes outside text fit a case: printable, at most
// vigil.MaxEntryFieldLen bytes, cut at a character boundary.
func clean(s string) string {
	if len(s) <= vigil.MaxEntryFieldLen && vigil.Printable(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !vigil.Printable(string(r)) {
			r = '\uFFFD'
		}
		if b.Len()+utf8.RuneLen(r) > vigil.MaxEntryFieldLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

var errNoManifest = errors.New("c2pa: manifest store holds no manifest")
