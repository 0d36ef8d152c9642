package banklist_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
)

var (
	pdq1 = strings.Repeat("a1", 32)
	pdq2 = strings.Repeat("b2", 32)
	md51 = strings.Repeat("c3", 16)
)

// readAll reads every entry of input, or the first error.
func readAll(t testing.TB, input string, opt banklist.Options) ([]*vigil.Entry, error) {
	t.Helper()
	var entries []*vigil.Entry
	for e, err := range banklist.NewReader(strings.NewReader(input), opt).All() {
		if err != nil {
			return entries, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func TestReadText(t *testing.T) {
	input := "\xef\xbb\xbf# a list from a hotline\r\n" +
		strings.ToUpper(pdq1) + "\r\n" +
		"\n" +
		"   " + pdq2 + "   # trailing comment\n" +
		"#" + pdq1 // a commented-out value, and no final newline
	entries, err := readAll(t, input, banklist.Options{SignalType: vigil.SignalPDQ, Source: "iwf"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2", len(entries))
	}
	for i, want := range []string{pdq1, pdq2} {
		e := entries[i]
		if e.Value != want || e.SignalType != vigil.SignalPDQ || e.Source != "iwf" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
}

func TestReadCSV(t *testing.T) {
	input := "# exported\n" +
		"Value, signal_type ,category,source_entry_id\n" +
		pdq1 + ",pdq,A1,n-1\n" +
		md51 + ",MD5,\"B, quoted\",n-2\n" +
		"\n" +
		pdq2 + ",,,\n"
	entries, err := readAll(t, input, banklist.Options{SignalType: vigil.SignalPDQ, Source: "ncmec"})
	if err != nil {
		t.Fatal(err)
	}
	want := []vigil.Entry{
		{SignalType: vigil.SignalPDQ, Value: pdq1, Category: "A1", SourceEntryID: "n-1", Source: "ncmec"},
		{SignalType: vigil.SignalMD5, Value: md51, Category: "B, quoted", SourceEntryID: "n-2", Source: "ncmec"},
		{SignalType: vigil.SignalPDQ, Value: pdq2, Source: "ncmec"},
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(entries), len(want))
	}
	for i := range want {
		if *entries[i] != want[i] {
			t.Errorf("entry %d\n got %+v\nwant %+v", i, *entries[i], want[i])
		}
	}

	// The quality column: a PDQ's quality, empty when unknown.
	entries, err = readAll(t, "value,quality\n"+pdq1+",87\n"+pdq2+",\n", banklist.Options{SignalType: vigil.SignalPDQ})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Quality == nil || *entries[0].Quality != 87 || entries[1].Quality != nil {
		t.Fatalf("quality column read as %+v", entries)
	}
}

func TestReadErrors(t *testing.T) {
	pdqOpt := banklist.Options{SignalType: vigil.SignalPDQ}
	tests := []struct {
		name  string
		input string
		opt   banklist.Options
		code  string
		msg   string // the error message holds this
	}{
		{"bad hex", pdq1 + "\n" + pdq1[:63] + "x\n", pdqOpt, vigil.EINVALID, "line 2:"},
		{"short", "# c\n\nabc\n", pdqOpt, vigil.EINVALID, "line 3:"},
		{"text without type", pdq1 + "\n", banklist.Options{}, vigil.EINVALID, "signal type"},
		{"unknown column", "value,colour\n", pdqOpt, vigil.EINVALID, "line 1: unknown column"},
		{"column twice", "value,value\n", pdqOpt, vigil.EINVALID, "twice"},
		{"no value column", "signal_type,source\n", pdqOpt, vigil.EINVALID, "no \"value\""},
		{"no type column", "value,source\n" + pdq1 + ",x\n", banklist.Options{}, vigil.EINVALID, "line 1:"},
		{"field count", "value,source\n" + pdq1 + "\n", pdqOpt, vigil.EINVALID, "line 2: 1 fields"},
		{"row type missing", "signal_type,value\n," + pdq1 + "\n", banklist.Options{}, vigil.EINVALID, "line 2: no signal type"},
		{"unknown type", "signal_type,value\ncrc," + pdq1 + "\n", pdqOpt, vigil.EINVALID, "line 2:"},
		{"bad video value", "signal_type,value\nvpdq,abc\n", pdqOpt, vigil.EINVALID, "line 2: vpdq frame 1"},
		{"quality not a number", "value,quality\n" + pdq1 + ",high\n", pdqOpt, vigil.EINVALID, "line 2: quality"},
		{"quality over 100", "value,quality\n" + pdq1 + ",101\n", pdqOpt, vigil.EINVALID, "line 2: quality"},
		{"quality negative", "value,quality\n" + pdq1 + ",-1\n", pdqOpt, vigil.EINVALID, "line 2: quality"},
		{"quality of an md5", "signal_type,value,quality\nmd5," + md51 + ",80\n", pdqOpt, vigil.EINVALID, "line 2: entry quality"},
		{"bare quote", "value,source\n" + pdq1 + ",a\"b\n", pdqOpt, vigil.EINVALID, "line 2:"},
		{"multiline quote", "value,source\n" + pdq1 + ",\"a\nb\"\n", pdqOpt, vigil.EINVALID, "line 2:"},
		{"control character", "value,source\n" + pdq1 + ",a\x1bb\n", pdqOpt, vigil.EINVALID, "line 2:"},
		{"long line", pdq1 + "\n" + strings.Repeat(" ", 100) + pdq1 + "\n", banklist.Options{SignalType: vigil.SignalPDQ, MaxLineBytes: 80}, vigil.ETOOLARGE, "line 2: longer than 80"},
		{"long last line", strings.Repeat("#", 200), banklist.Options{SignalType: vigil.SignalPDQ, MaxLineBytes: 80}, vigil.ETOOLARGE, "line 1:"},
		{"too large", pdq1 + "\n" + pdq2 + "\n", banklist.Options{SignalType: vigil.SignalPDQ, MaxBytes: 100}, vigil.ETOOLARGE, "line 2: list larger than 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, tt.input, tt.opt)
			if code := vigil.ErrorCode(err); code != tt.code {
				t.Fatalf("error %v: code %q, want %q", err, code, tt.code)
			}
			if msg := vigil.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not hold %q", msg, tt.msg)
			}
		})
	}
}

func TestReaderStopsAtError(t *testing.T) {
	r := banklist.NewReader(strings.NewReader("zz\n"+pdq1+"\n"), banklist.Options{SignalType: vigil.SignalPDQ})
	_, err := r.Next()
	if err == nil {
		t.Fatal("no error")
	}
	if _, again := r.Next(); again != err {
		t.Errorf("second Next: %v, want the first error again", again)
	}
	if r.Line() != 1 {
		t.Errorf("Line() = %d, want 1", r.Line())
	}
}

func TestReadIOError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := banklist.NewReader(io.MultiReader(strings.NewReader(pdq1+"\n"), iotest.ErrReader(boom)), banklist.Options{SignalType: vigil.SignalPDQ})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("error %v, want %v", err, boom)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	in := []*vigil.Entry{
		{SignalType: vigil.SignalPDQ, Value: pdq1, Source: "ncmec", SourceEntryID: "n-1", Category: "A1", Quality: ptr(73)},
		{SignalType: vigil.SignalPDQ, Value: pdq2, Quality: ptr(0)},
		{SignalType: vigil.SignalMD5, Value: md51, Source: "local", Category: `with "quotes", and commas`},
		{SignalType: vigil.SignalSHA256, Value: pdq2},
	}
	var buf bytes.Buffer
	w := banklist.NewWriter(&buf)
	for _, e := range in {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "signal_type,value,source,source_entry_id,category,quality\n") {
		t.Errorf("no header: %q", buf.String())
	}
	out, err := readAll(t, buf.String(), banklist.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d entries back, want %d", len(out), len(in))
	}
	for i := range in {
		if !sameEntry(out[i], in[i]) {
			t.Errorf("entry %d\n got %+v\nwant %+v", i, *out[i], *in[i])
		}
	}

	// An empty export is a header, and reads back as no entries.
	buf.Reset()
	if err := banklist.NewWriter(&buf).Flush(); err != nil {
		t.Fatal(err)
	}
	if out, err := readAll(t, buf.String(), banklist.Options{}); err != nil || len(out) != 0 {
		t.Errorf("empty export read back as %v, %v", out, err)
	}
}

// FuzzReader checks that no input makes the reader panic, that every entry
// it returns is valid, that its errors are *vigil.Error values naming a
// line, and that what it reads survives a write and a read unchanged.
func FuzzReader(f *testing.F) {
	f.Add("# c\n" + pdq1 + "\n" + strings.ToUpper(pdq2) + " # x\n")
	f.Add("signal_type,value,source,source_entry_id,category\npdq," + pdq1 + ",ncmec,1,A1\nmd5," + md51 + ",,\"q,\"\"x\",\n")
	f.Add("value\n" + pdq1 + "\r\n")
	f.Add("value,quality\n" + pdq1 + ",87\n" + pdq2 + ",\n")
	f.Add("\xef\xbb\xbf" + pdq1)
	f.Fuzz(func(t *testing.T, input string) {
		opt := banklist.Options{SignalType: vigil.SignalPDQ, MaxLineBytes: 256, MaxBytes: 1 << 16}
		var entries []*vigil.Entry
		for e, err := range banklist.NewReader(strings.NewReader(input), opt).All() {
			if err != nil {
				var ve *vigil.Error
				if !errors.As(err, &ve) {
					t.Fatalf("error %v is no *vigil.Error", err)
				}
				if !strings.HasPrefix(ve.Message, "line ") {
					t.Fatalf("error %q names no line", ve.Message)
				}
				return
			}
			check := *e
			if err := check.Validate(); err != nil || check != *e {
				t.Fatalf("entry %+v is not valid and canonical: %v", *e, err)
			}
			entries = append(entries, e)
		}

		var buf bytes.Buffer
		w := banklist.NewWriter(&buf)
		for _, e := range entries {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		var back []*vigil.Entry
		for e, err := range banklist.NewReader(&buf, banklist.Options{}).All() {
			if err != nil {
				t.Fatalf("reading back %q: %v", buf.String(), err)
			}
			back = append(back, e)
		}
		if len(back) != len(entries) {
			t.Fatalf("%d entries back, want %d", len(back), len(entries))
		}
		for i := range back {
			if !sameEntry(back[i], entries[i]) {
				t.Fatalf("entry %d back\n got %+v\nwant %+v", i, *back[i], *entries[i])
			}
		}
	})
}

// TestReadLongVPDQ reads vPDQ entries far longer than the reader's buffer,
// in both formats, and refuses one longer than the line limit.
func TestReadLongVPDQ(t *testing.T) {
	var b strings.Builder
	const frames = 3000 // about 250 KB: four times the buffer
	for i := range frames {
		fmt.Fprintf(&b, "%d,100,%s,%d.000;", i, pdq1, i)
	}
	value := strings.TrimSuffix(b.String(), ";")
	for _, tc := range []struct {
		name, input string
		opt         banklist.Options
	}{
		{"text", "# two videos\n" + value + "\n" + value + "\n", banklist.Options{SignalType: vigil.SignalVPDQ}},
		{"csv", "signal_type,value,source\nvpdq,\"" + value + "\",hotline\nvpdq,\"" + value + "\",hotline\n", banklist.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := readAll(t, tc.input, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 {
				t.Fatalf("read %d entries, want 2", len(entries))
			}
			for _, e := range entries {
				if n := strings.Count(e.Value, ";") + 1; n != frames {
					t.Errorf("entry has %d frames, want %d", n, frames)
				}
			}
		})
	}
	_, err := readAll(t, value+"\n", banklist.Options{SignalType: vigil.SignalVPDQ, MaxLineBytes: 100_000})
	if vigil.ErrorCode(err) != vigil.ETOOLARGE || !strings.Contains(vigil.ErrorMessage(err), "line 1: longer than 100000") {
		t.Errorf("over-long line: got %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// sameEntry compares entries by value, their quality included.
func sameEntry(a, b *vigil.Entry) bool {
	if (a.Quality == nil) != (b.Quality == nil) || (a.Quality != nil && *a.Quality != *b.Quality) {
		return false
	}
	x, y := *a, *b
	x.Quality, y.Quality = nil, nil
	return x == y
}
