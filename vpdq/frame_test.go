package vpdq

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestFramesRoundTrip(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "expected", "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no expected files: %v", err)
	}
	for _, p := range paths {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		frames, err := ReadFrames(bytes.NewReader(want), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var got bytes.Buffer
		if err := WriteFrames(&got, frames); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: round trip differs\n%s", p, firstDiff(got.String(), string(want)))
		}
	}
}

func TestReadFramesPyTX(t *testing.T) {
	const hex = "dadb999c25266273529cadac8dcb52c22324ad3bce99726c38668d93c799f06c"
	in := hex + ",100,0.0\r\n\n" + strings.ToUpper(hex) + ",49,12.5\n" + hex + ",0,1.23e+02\n"
	frames, err := ReadFrames(strings.NewReader(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 3 {
		t.Fatalf("%d frames", len(frames))
	}
	want := []struct {
		n, q int
		ts   float64
	}{{0, 100, 0}, {1, 49, 12.5}, {2, 0, 123}}
	for i, w := range want {
		f := frames[i]
		if f.Number != w.n || f.Quality != w.q || f.Timestamp != w.ts || f.Hash.String() != hex {
			t.Errorf("frame %d = %+v, want %+v", i, f, w)
		}
	}
}

func TestReadFramesErrors(t *testing.T) {
	const hex = "dadb999c25266273529cadac8dcb52c22324ad3bce99726c38668d93c799f06c"
	good := "0,100," + hex + ",0.000\n"
	cases := []struct {
		name, in string
		lim      Limits
		code     string
		msg      string
	}{
		{"fields", good + "1,2\n", Limits{}, vigil.EINVALID, "line 2"},
		{"five fields", "0,100," + hex + ",0.000,9\n", Limits{}, vigil.EINVALID, "line 1"},
		{"mixed formats", good + hex + ",100,0.1\n", Limits{}, vigil.EINVALID, "line 2: 3 fields"},
		{"bad hex", good + "\n1,100," + hex[:63] + "g,0.033\n", Limits{}, vigil.EINVALID, "line 3"},
		{"short hex", "0,100,abc,0\n", Limits{}, vigil.EINVALID, "line 1"},
		{"quality", "0,101," + hex + ",0\n", Limits{}, vigil.EINVALID, "quality"},
		{"negative quality", "0,-1," + hex + ",0\n", Limits{}, vigil.EINVALID, "quality"},
		{"signed frame", "+0,1," + hex + ",0\n", Limits{}, vigil.EINVALID, "frame number"},
		{"huge frame", "99999999999,1," + hex + ",0\n", Limits{}, vigil.EINVALID, "frame number"},
		{"timestamp", "0,1," + hex + ",x\n", Limits{}, vigil.EINVALID, "timestamp"},
		{"NaN timestamp", "0,1," + hex + ",NaN\n", Limits{}, vigil.EINVALID, "timestamp"},
		{"negative timestamp", "0,1," + hex + ",-1\n", Limits{}, vigil.EINVALID, "timestamp"},
		{"inf timestamp", "0,1," + hex + ",+Inf\n", Limits{}, vigil.EINVALID, "timestamp"},
		{"long line", good + strings.Repeat("x", 300) + "\n", Limits{}, vigil.ETOOLARGE, "line 2"},
		{"long last line", good + strings.Repeat("x", 300), Limits{}, vigil.ETOOLARGE, "line 2"},
		{"too many bytes", good + good, Limits{MaxBytes: int64(len(good)) + 5}, vigil.ETOOLARGE, "bytes"},
		{"too many frames", good + good + good, Limits{MaxFrames: 2}, vigil.ETOOLARGE, "2 frames"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFrames(strings.NewReader(c.in), c.lim)
			if err == nil {
				t.Fatal("no error")
			}
			if vigil.ErrorCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q (code %s), want code %s containing %q", err, vigil.ErrorCode(err), c.code, c.msg)
			}
		})
	}
	// Exactly at the limits is fine.
	if fr, err := ReadFrames(strings.NewReader(good+good), Limits{MaxBytes: int64(2 * len(good)), MaxFrames: 2}); err != nil || len(fr) != 2 {
		t.Errorf("at the limits: %d frames, %v", len(fr), err)
	}
	if fr, err := ReadFrames(strings.NewReader(""), Limits{}); err != nil || len(fr) != 0 {
		t.Errorf("empty: %v, %v", fr, err)
	}
}

// FuzzReadFrames checks that ReadFrames never panics and that what it
// accepts survives writing and reading again unchanged.
//
//	go test ./vpdq/ -run '^$' -fuzz FuzzReadFrames -fuzztime 2m
func FuzzReadFrames(f *testing.F) {
	for _, name := range []string{"doorknob-hd-no-bar-r1.txt", "test-padded-dimensions-r1.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "expected", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("dadb999c25266273529cadac8dcb52c22324ad3bce99726c38668d93c799f06c,100,1.23e+02\n"))
	f.Add([]byte("0,100,DADB999C25266273529CADAC8DCB52C22324AD3BCE99726C38668D93C799F06C,0.0\r\n\n"))
	f.Add([]byte("1,2\n,,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxBytes: 1 << 16, MaxFrames: 1000}
		frames, err := ReadFrames(bytes.NewReader(data), lim)
		if err != nil {
			if vigil.ErrorCode(err) == vigil.EINTERNAL {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		var once bytes.Buffer
		if err := WriteFrames(&once, frames); err != nil {
			t.Fatal(err)
		}
		again, err := ReadFrames(bytes.NewReader(once.Bytes()), Limits{MaxBytes: 1 << 20, MaxFrames: 1000})
		if err != nil {
			t.Fatalf("re-reading our own output: %v\n%s", err, once.Bytes())
		}
		var twice bytes.Buffer
		if err := WriteFrames(&twice, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("not a fixed point:\n%s\n%s", once.Bytes(), twice.Bytes())
		}
	})
}
