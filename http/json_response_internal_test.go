package http

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/vigil-oss/vigil"
)

// filler sets a value's fields by reflection, so that the tests below
// cover every field of the response's types, including any added later
// that appendLookupResponse does not know: encoding/json writes such a
// field and the hand encoder does not, and the comparison fails.
type filler struct {
	// data drives the choices (the fuzz input); when it runs out every
	// choice is its zero.
	data []byte
	// full sets every field: strings non-empty, numbers non-zero,
	// pointers, slices and maps non-nil with two elements.
	full bool
	n    int // counts the values filled in full mode, to tell them apart
}

func (f *filler) next() byte {
	if len(f.data) == 0 {
		return 0
	}
	c := f.data[0]
	f.data = f.data[1:]
	return c
}

// awkward strings: every escape encoding/json makes with HTML escaping
// off, and the characters it leaves alone that a careless encoder would
// escape (<, &, DEL).
var awkward = []string{"", "pdq", "bank-1.a_b:c/d", "<a&b>", "é", "\u2028\u2029", "\x00\x1f\n\t\r\b\f", `"\`, "\xff\xfe", "\x7f", "a\"b"}

func (f *filler) string() string {
	if f.full {
		f.n++
		return awkward[1+f.n%(len(awkward)-1)] + fmt.Sprint(f.n)
	}
	c := f.next()
	if c < 0x80 {
		return awkward[int(c)%len(awkward)]
	}
	n := min(int(c-0x80)%16, len(f.data))
	s := string(f.data[:n]) // raw bytes: any UTF-8, valid or not
	f.data = f.data[n:]
	return s
}

func (f *filler) int() int64 {
	if f.full {
		f.n++
		return int64(f.n)
	}
	switch c := f.next(); c % 4 {
	case 0:
		return 0
	case 1:
		return int64(int8(c))
	default:
		var buf [8]byte
		k := copy(buf[:], f.data)
		f.data = f.data[k:]
		return int64(binary.LittleEndian.Uint64(buf[:]))
	}
}

// length is the length of a slice or map, or -1 for nil.
func (f *filler) length() int {
	if f.full {
		return 2
	}
	return int(f.next()%5) - 1
}

func (f *filler) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(f.string())
	case reflect.Int, reflect.Int64:
		v.SetInt(f.int())
	case reflect.Bool:
		v.SetBool(f.full || f.next()&1 == 1)
	case reflect.Float64:
		if f.full {
			f.n++
			v.SetFloat(float64(f.n) + 0.25)
			break
		}
		// Any bits: NaN and the infinities too, which encoding/json
		// refuses; the hand encoder must refuse them as well.
		var buf [8]byte
		k := copy(buf[:], f.data)
		f.data = f.data[k:]
		v.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(buf[:])))
	case reflect.Pointer:
		if !f.full && f.next()&1 == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		n := f.length()
		if n < 0 {
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		n := f.length()
		if n < 0 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for range n {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k)
			f.fill(e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i))
			}
		}
	default:
		panic(fmt.Sprintf("filler: no rule for %s", v.Type()))
	}
}

// checkLookupResponse compares appendLookupResponse with encoding/json's
// Encoder as writeJSON sets it up.
func checkLookupResponse(t *testing.T, r *lookupResponse) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	wantErr := enc.Encode(r)
	got, err := appendLookupResponse([]byte("prefix"), r)
	switch {
	case wantErr != nil && err == nil:
		t.Fatalf("encoding/json refused %+v (%v), appendLookupResponse wrote %s", r, wantErr, got)
	case wantErr == nil && err != nil:
		t.Fatalf("appendLookupResponse refused %+v: %v; encoding/json wrote %s", r, err, want.Bytes())
	case wantErr == nil && !bytes.Equal(got, append([]byte("prefix"), want.Bytes()...)):
		t.Fatalf("appendLookupResponse wrote\n%s\nencoding/json wrote\nprefix%s", got, want.Bytes())
	}
}

// TestAppendLookupResponse checks the hand encoder against encoding/json:
// with every field of every type set (so that a field added to vigil's
// types and not to the encoder fails here), with every field at its zero,
// and for typical responses.
func TestAppendLookupResponse(t *testing.T) {
	t.Run("full", func(t *testing.T) {
		var r lookupResponse
		(&filler{full: true}).fill(reflect.ValueOf(&r).Elem())
		checkLookupResponse(t, &r)
		// And the full response's strings are the ones encoding/json
		// escapes, one after the other.
		for i := range awkward {
			var r lookupResponse
			(&filler{full: true, n: i}).fill(reflect.ValueOf(&r).Elem())
			checkLookupResponse(t, &r)
		}
	})
	q := 87
	for name, r := range map[string]*lookupResponse{
		"zero":          {},
		"empty results": {Results: []vigil.MatchResult{}},
		"zero result":   {Results: []vigil.MatchResult{{}}, Actions: &vigil.Outcome{}},
		"no match": {Results: []vigil.MatchResult{{Signal: vigil.Signal{Type: vigil.SignalPDQ, Value: "ab", Quality: &q},
			Matches: []vigil.Match{}}}, Actions: &vigil.Outcome{Rules: []vigil.FiredRule{}}},
		"match and case": {Results: []vigil.MatchResult{{Signal: vigil.Signal{Type: vigil.SignalPDQ, Value: "ab"},
			Matches: []vigil.Match{{BankID: 3, Bank: "ncmec", EntryID: 99, SignalType: vigil.SignalPDQ, Value: "ab", Distance: 8, Threshold: 31,
				Source: "ncmec", SourceEntryID: "x-1", Category: "A1"}}}},
			Actions: &vigil.Outcome{Rules: []vigil.FiredRule{{Name: "any-match", Action: "review", Queue: "default", CaseID: 7}}, Cases: []int64{7}}},
		"video": {Results: []vigil.MatchResult{{Signal: vigil.Signal{Type: vigil.SignalVPDQ, Value: "v"},
			Matches: []vigil.Match{{Bank: "b", Video: &vigil.VideoMatch{QueryPercent: 1e-7, TargetPercent: 1e21,
				Ranges: []vigil.FrameRange{{FirstFrame: 1, LastFrame: 2, Start: 0.1, End: 2.0 / 3, Frames: 2}}}}}}}},
		"nan": {Results: []vigil.MatchResult{{Matches: []vigil.Match{{Video: &vigil.VideoMatch{QueryPercent: math.NaN()}}}}}},
	} {
		t.Run(name, func(t *testing.T) { checkLookupResponse(t, r) })
	}
}

// FuzzAppendLookupResponse compares the hand encoder with encoding/json on
// responses built from the input by reflection: any strings (invalid
// UTF-8, escapes), numbers (negative, NaN), nil and empty lists and maps.
func FuzzAppendLookupResponse(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0x85, 'a', '<', 0xff, '"', 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(bytes.Repeat([]byte{1, 2, 0x83, 0xe2, 0x80, 0xa8}, 40))
	f.Add(bytes.Repeat([]byte{4, 0xff, 0xf8, 0x7f, 3}, 60))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r lookupResponse
		(&filler{data: data}).fill(reflect.ValueOf(&r).Elem())
		checkLookupResponse(t, &r)
	})
}

// BenchmarkLookupResponse writes a typical lookup response (one signal,
// one match with provenance, one rule with its case) with encoding/json,
// as writeJSON did (the baseline in the same run), and by hand.
func BenchmarkLookupResponse(b *testing.B) {
	r := &lookupResponse{Results: []vigil.MatchResult{{
		Signal: vigil.Signal{Type: vigil.SignalPDQ, Value: "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"},
		Matches: []vigil.Match{{BankID: 1, Bank: "bench", EntryID: 123456, SignalType: vigil.SignalPDQ,
			Value: "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b23", Distance: 8, Threshold: 31,
			Source: "bench-source", SourceEntryID: "entry-123456", Category: "A1"}}}},
		Actions: &vigil.Outcome{Rules: []vigil.FiredRule{{Name: "any-match", Action: "review", Queue: "default", CaseID: 77}}, Cases: []int64{77}}}
	b.Run("encoding-json", func(b *testing.B) {
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bp := responseBuffers.Get().(*[]byte)
			out, err := appendLookupResponse((*bp)[:0], r)
			if err != nil {
				b.Fatal(err)
			}
			*bp = out[:0]
			responseBuffers.Put(bp)
		}
	})
}
