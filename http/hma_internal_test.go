package http

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
)

// FuzzHMAHashForm feeds arbitrary multipart bodies to POST /h/hash's
// parser: it must answer 200 with a JSON object of strings, or an HMA
// error, and never panic.
func FuzzHMAHashForm(f *testing.F) {
	img, err := os.ReadFile("testdata/smooth-129x300.png")
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("note", "n")
	fw, _ := mw.CreateFormFile("photo", "a.png")
	fw.Write(img)
	mw.Close()
	f.Add(mw.FormDataContentType(), buf.Bytes())
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"video\"; filename=\"v\"\r\n\r\nabc\r\n--x--\r\n"))
	f.Add("multipart/form-data", []byte("--"))
	s := NewServer()
	s.Hashing = hashing.Options{Limits: hashing.Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "/h/hash", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		s.handleHMAHashPost(w, r)
		switch w.Code {
		case 200:
			var out map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("200 body %q: %v", w.Body.Bytes(), err)
			}
		case 400, 413, 503:
			var e map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e["message"] == "" {
				t.Fatalf("%d body %q", w.Code, w.Body.Bytes())
			}
		default:
			t.Fatalf("status %d body %q", w.Code, w.Body.Bytes())
		}
	})
}

// FuzzHMACompare feeds arbitrary bodies to POST /m/compare.
func FuzzHMACompare(f *testing.F) {
	h := "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b"
	f.Add([]byte(`{"pdq":["` + h + `","` + h + `"]}`))
	f.Add([]byte(`{"video_md5":["d41d8cd98f00b204e9800998ecf8427e","D41D8CD98F00B204E9800998ECF8427E"]}`))
	f.Add([]byte(`[]`))
	s := NewServer()
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/m/compare", bytes.NewReader(body))
		w := httptest.NewRecorder()
		s.handleHMACompare(w, r)
		if w.Code != 200 && w.Code != 400 && w.Code != 413 {
			t.Fatalf("status %d body %q", w.Code, w.Body.Bytes())
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("not JSON: %q", w.Body.Bytes())
		}
	})
}

// FuzzHMAFeedConfig feeds arbitrary exchange configs to the check of a
// vigil_feed exchange's api_json: it refuses or returns a feed name a
// bank name could be.
func FuzzHMAFeedConfig(f *testing.F) {
	f.Add("https://peer.example/v1/feeds/list", "vigil-feed-list+12345678+AbCd")
	f.Add("http://h/", "")
	f.Add("https://u:p@h/v1/feeds/x?q=1", "k")
	f.Fuzz(func(t *testing.T, u, key string) {
		name, err := hmaFeedName(hmaFeedConfig{URL: u, VerifierKey: key})
		if err == nil && vigil.ValidateBankName(name) != nil {
			t.Fatalf("%q gave feed name %q", u, name)
		}
	})
}

// HMA's coin flip is the first random() of Python's
// random.Random(seed) for the request's seed string. These are CPython
// 3.11's values (python3 -c 'import random; print(random.Random(S).random())').
func TestHMACoinFlipIsPythons(t *testing.T) {
	for _, c := range []struct {
		seed string
		want float64
	}{
		{"", 0.9602256525641875},
		{"a", 0.2720295377534757},
		{"content-123", 0.9523770924322945},
		{"ünïcode", 0.34422217372746233},
		{strings.Repeat("x", 100), 0.6449261434223933},
		{"12345", 0.45697818440486826},
	} {
		if got := hmaCoinFlip(c.seed, true); got != c.want {
			t.Errorf("coin flip for seed %q = %v, want %v", c.seed, got, c.want)
		}
	}
	for range 100 {
		if f := hmaCoinFlip("", false); f < 0 || f >= 1 {
			t.Fatalf("unseeded coin flip %v outside [0, 1)", f)
		}
	}
}

// Python's format(t, ".3"), as VpdqCompactFeature writes timestamps
// (python3 -c 'print(format(T, ".3"))').
func TestPyFormat3(t *testing.T) {
	for x, want := range map[float64]string{
		0: "0.0", 1: "1.0", 2.5: "2.5", 12.345: "12.3", 99.95: "1e+02", 100: "1e+02",
		123.4: "1.23e+02", 0.001: "0.001", 0.0001: "0.0001", 5: "5.0",
	} {
		if got := pyFormat3(x); got != want {
			t.Errorf("pyFormat3(%v) = %q, want %q", x, got, want)
		}
	}
}

// HMA's vpdq value and Vigil's stored form convert both ways.
func TestHMAVPDQForms(t *testing.T) {
	h := strings.Repeat("ab", 32)
	hma := `["` + h + `,100,0.0", "` + h + `,90,1.0", "` + h + `,80,1.23e+02"]`
	v, err := hmaVPDQValue(hma)
	if err != nil {
		t.Fatal(err)
	}
	if want := "0,100," + h + ",0.000;1,90," + h + ",1.000;2,80," + h + ",123.000"; v != want {
		t.Fatalf("stored form %q, want %q", v, want)
	}
	if back := hmaVPDQJSON(v); back != hma {
		t.Fatalf("HMA form %q, want %q", back, hma)
	}
	for _, bad := range []string{`{}`, `["` + h + `,100"]`, `["` + h + `,101,0.0"]`, `["nothex,100,0.0"]`, `["0,100,` + h + `,0.0"]`} {
		if _, err := hmaVPDQValue(bad); err == nil {
			t.Errorf("%s taken", bad)
		}
	}
}

// HMA's vpdq values come from clients: whatever parses converts back to
// the same HMA form and parses to the same stored value.
func FuzzHMAVPDQValue(f *testing.F) {
	h := strings.Repeat("ab", 32)
	f.Add(`["` + h + `,100,0.0", "` + h + `,90,1.23e+02"]`)
	f.Add(`[]`)
	f.Add(`["` + h + `,100,-1"]`)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := hmaVPDQValue(s)
		if err != nil {
			return
		}
		again, err := hmaVPDQValue(hmaVPDQJSON(v))
		if err != nil || again != v {
			t.Fatalf("%q → %q → %q (%v)", s, v, again, err)
		}
	})
}

// HMA's content metadata comes from clients: what is taken is a JSON
// object of at most MaxContentMetadataLen bytes with HMA's three keys.
func FuzzHMAMetadata(f *testing.F) {
	f.Add(`{"content_id":"c","content_uri":"u","json":{"a":1},"collab":{}}`)
	f.Add(`{"json_data":{"x":[1]}}`)
	f.Add(`[1]`)
	f.Fuzz(func(t *testing.T, s string) {
		w := httptest.NewRecorder()
		m, ok := hmaMetadata(w, json.RawMessage(s))
		if !ok || m == nil {
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(m, &obj) != nil || len(m) > vigil.MaxContentMetadataLen {
			t.Fatalf("%q → %q", s, m)
		}
		for k := range obj {
			if k != "content_id" && k != "content_uri" && k != "json" {
				t.Fatalf("%q → key %q", s, k)
			}
		}
		if err := (&vigil.ContentItem{Metadata: m}).Validate(); err != nil {
			t.Fatalf("%q → %q refused by the store: %v", s, m, err)
		}
	})
}
