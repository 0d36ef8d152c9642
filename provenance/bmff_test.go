package provenance_test

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
)

var (
	mp4Once sync.Once
	mp4Data []byte
	mp4Err  error
)

// tinyMP4 is a one-second MP4 of ffmpeg's generated test pattern (no
// real content), its index (moov) before its media (mdat), made once.
func tinyMP4(tb testing.TB) []byte {
	tb.Helper()
	mp4Once.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-bmff")
		if err != nil {
			mp4Err = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "pattern.mp4")
		out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1",
			"-c:v", "mpeg4", "-movflags", "+faststart", path).CombinedOutput()
		if err != nil {
			mp4Err = err
			mp4Data = out
			return
		}
		mp4Data, mp4Err = os.ReadFile(path)
	})
	if mp4Err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", mp4Err, mp4Data)
	}
	return mp4Data
}

func embedBMFF(tb testing.TB, m c2patest.Manifest, version int) *c2patest.Embedded {
	tb.Helper()
	e, err := c2patest.EmbedBMFF(tinyMP4(tb), m, version)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// box returns the first top-level box of type typ in data.
func topBox(tb testing.TB, data []byte, typ string) c2patest.Box {
	tb.Helper()
	boxes, err := c2patest.TopBoxes(data)
	if err != nil {
		tb.Fatal(err)
	}
	for _, b := range boxes {
		if b.Type == typ {
			return b
		}
	}
	tb.Fatalf("no %s box", typ)
	return c2patest.Box{}
}

// A manifest in an MP4's C2PA uuid box, bound by c2pa.hash.bmff v2 and
// v3, time-stamped: it reads as in a JPEG, and its binding holds.
func TestC2PABMFF(t *testing.T) {
	s, a := signer(t, "ES256"), tsa(t)
	for _, version := range []int{2, 3} {
		m := generated(s)
		m.Timestamp = &c2patest.Timestamp{TSA: a, At: time.Now().Add(-time.Minute)}
		e := embedBMFF(t, m, version)
		if b := topBox(t, e.Data, "uuid"); b.Start != topBox(t, e.Data, "ftyp").Size {
			t.Fatalf("the C2PA box is at %d, not after ftyp", b.Start)
		}
		r, err := provenance.NewReader(provenance.Options{Roots: []*x509.Certificate{s.Root, a.Root}})
		if err != nil {
			t.Fatal(err)
		}
		c := readC2PA(t, r, e.Data)
		if !c.SignatureValid || !c.BindingValid || c.Trust != provenance.Trusted || len(c.Problems) > 0 ||
			c.Timestamp == nil || !c.Timestamp.Valid || len(c.Actions) != 1 || c.Actions[0].DigitalSourceType != "trainedAlgorithmicMedia" {
			t.Fatalf("v%d: %+v", version, c)
		}
		if g := r.Read(e.Data).GenerativeAI(); g == nil || !g.Verified() {
			t.Fatalf("v%d indication %+v", version, g)
		}
	}
}

// Changes after signing: media bytes break the binding (both versions);
// a moved box breaks version 2's, which hashes offsets, even where the
// bytes hashed are the same; ftyp, excluded, may change; a changed claim
// breaks the signature, not the binding.
func TestC2PABMFFTampered(t *testing.T) {
	s := signer(t, "ES256")
	r := reader(t, s.Root)
	for _, version := range []int{2, 3} {
		e := embedBMFF(t, generated(s), version)
		mdat := topBox(t, e.Data, "mdat")

		media := bytes.Clone(e.Data)
		media[mdat.Start+mdat.Size/2] ^= 0x55
		if c := readC2PA(t, r, media); !c.SignatureValid || c.BindingValid || !strings.Contains(strings.Join(c.Problems, ";"), "changed after signing") {
			t.Fatalf("v%d media changed: %+v", version, c)
		}

		brand := bytes.Clone(e.Data)
		copy(brand[8:12], "XXXX") // ftyp's major brand
		if c := readC2PA(t, r, brand); !c.BindingValid || !c.SignatureValid {
			t.Fatalf("v%d ftyp changed: %+v", version, c)
		}

		claim := bytes.Clone(e.Data)
		at := bytes.Index(claim, e.Claim) + bytes.Index(e.Claim, []byte("Vigil Test Generator/1.0"))
		claim[at] = 'W'
		if c := readC2PA(t, r, claim); c.SignatureValid || !c.BindingValid {
			t.Fatalf("v%d claim changed: %+v", version, c)
		}

		// Growing ftyp (excluded) by 8 bytes moves every box after it
		// and leaves the bytes hashed as they were: version 3 holds,
		// version 2, which hashes each box's offset, does not.
		ftyp := topBox(t, e.Data, "ftyp")
		grown := bytes.Join([][]byte{e.Data[:ftyp.Size], make([]byte, 8), e.Data[ftyp.Size:]}, nil)
		binary.BigEndian.PutUint32(grown, uint32(ftyp.Size+8))
		c := readC2PA(t, r, grown)
		if version == 2 && (c.BindingValid || !strings.Contains(strings.Join(c.Problems, ";"), "changed after signing")) {
			t.Fatalf("v2 boxes moved: %+v", c)
		}
		if version == 3 && !c.BindingValid {
			t.Fatalf("v3 boxes moved, their bytes the same: %+v", c)
		}
	}
}

// Hostile framing: a box whose size runs past the file, and more boxes
// than the limit, are problems, not panics or a holding binding.
func TestC2PABMFFHostile(t *testing.T) {
	s := signer(t, "ES256")
	e := embedBMFF(t, generated(s), 3)
	mdat := topBox(t, e.Data, "mdat")
	long := bytes.Clone(e.Data)
	binary.BigEndian.PutUint32(long[mdat.Start:], uint32(len(long)))
	if c := readC2PA(t, reader(t, s.Root), long); c.BindingValid || !strings.Contains(strings.Join(c.Problems, ";"), "outside its") {
		t.Fatalf("box past the end: %+v", c)
	}
	r, err := provenance.NewReader(provenance.Options{Roots: []*x509.Certificate{s.Root}, Limits: provenance.Limits{MaxBMFFBoxes: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if c := readC2PA(t, r, e.Data); c.BindingValid || !strings.Contains(strings.Join(c.Problems, ";"), "more than 2 boxes") {
		t.Fatalf("box limit: %+v", c)
	}
	// A BMFF file without a C2PA box says nothing.
	if res := reader(t).Read(tinyMP4(t)); res != nil {
		t.Fatalf("plain MP4: %+v", res)
	}
}
