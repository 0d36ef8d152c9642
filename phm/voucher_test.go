package phm

import (
	"bytes"
	"testing"
)

func TestVoucherSize(t *testing.T) {
	p := DefaultParams
	// 1 + 4 + 16 + 64·176 + (32 + 61·8 + 1120 + 4096 + 16 + 16) + 16
	if got, want := p.VoucherSize(), 17069; got != want {
		t.Fatalf("voucher size %d, want %d", got, want)
	}
	if InnerKEM.ID() != 0x647a { // MLKEM768-X25519 (X-Wing)
		t.Fatalf("inner KEM %#x", InnerKEM.ID())
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	p := &Payload{SHA256: [32]byte{1, 2}, Width: 640, Height: 480, Ref: "msg/42", Derivative: bytes.Repeat([]byte{9}, 3000)}
	b, err := MarshalPayload(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != InnerSize {
		t.Fatalf("payload %d bytes", len(b))
	}
	q, err := ParsePayload(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.SHA256 != p.SHA256 || q.Width != 640 || q.Height != 480 || q.Ref != p.Ref || !bytes.Equal(q.Derivative, p.Derivative) {
		t.Fatalf("round trip gave %+v", q)
	}
	if _, err := MarshalPayload(&Payload{Derivative: make([]byte, InnerSize)}); err == nil {
		t.Fatal("an oversized derivative was accepted")
	}
}

func FuzzParseVoucher(f *testing.F) {
	p := Params{T: 2, S: 3}
	v := &Voucher{ID: [IDSize]byte{1}, Header: make([]byte, p.HeaderSize())}
	good, _ := v.MarshalBinary()
	f.Add(good)
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseVoucher(b, p)
		if err != nil {
			return
		}
		out, _ := v.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatal("parse and marshal disagree")
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	p := Params{T: 2, S: 3}
	good, _ := MarshalHeader(&Header{DHF: make([]uint64, 4), Inner: make([]byte, SealedInnerSize)}, p)
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b, p)
		if err != nil {
			return
		}
		out, err := MarshalHeader(h, p)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse and marshal disagree (%v)", err)
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	good, _ := MarshalPayload(&Payload{Ref: "r", Derivative: []byte{1, 2, 3}})
	f.Add(good)
	f.Add(make([]byte, InnerSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			return
		}
		if len(p.Ref) > MaxRefLen || len(p.Derivative) > InnerSize {
			t.Fatal("parsed past the limits")
		}
		if _, err := MarshalPayload(p); err != nil {
			t.Fatalf("a parsed payload does not marshal: %v", err)
		}
	})
}
