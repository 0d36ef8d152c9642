package banklist_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
)

// hmaList is what `threatexchange dataset -S --csv` prints (pytx's
// dataset_cmd: DictWriter with these five columns).
const hmaHeader = "signal_type,signal_str,collab,category,tags\n"

func TestReadHMA(t *testing.T) {
	input := hmaHeader +
		"pdq," + pdq1 + ",NCMEC Industry,POSITIVE_CLASS,A1 csam\n" +
		"video_md5," + md51 + ",TX Collab,INVESTIGATION_SEED,\n" +
		"pdq," + pdq2 + ",TX Collab,NEGATIVE_CLASS,\n" + // the collab says not in class: skipped
		"url,https://example.org/a,,POSITIVE_CLASS,\n"
	entries, err := readAll(t, input, banklist.Options{Source: "hma"})
	if err != nil {
		t.Fatal(err)
	}
	want := []vigil.Entry{
		{SignalType: vigil.SignalPDQ, Value: pdq1, Source: "NCMEC Industry", Category: "A1 csam"},
		{SignalType: vigil.SignalMD5, Value: md51, Source: "TX Collab"},
		{SignalType: vigil.SignalURL, Value: "https://example.org/a", Source: "hma"},
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d: %v", len(entries), len(want), entries)
	}
	for i := range want {
		if *entries[i] != want[i] {
			t.Errorf("entry %d\n got %+v\nwant %+v", i, *entries[i], want[i])
		}
	}
	for name, tc := range map[string]struct{ input, code, msg string }{
		"raw_text":      {hmaHeader + "raw_text,hello,,POSITIVE_CLASS,\n", vigil.EUNSUPPORTED, "line 2:"},
		"fields":        {hmaHeader + "pdq," + pdq1 + "\n", vigil.EINVALID, "line 2: 2 fields"},
		"bad hash":      {hmaHeader + "pdq,zz,,POSITIVE_CLASS,\n", vigil.EINVALID, "line 2:"},
		"header order":  {"signal_type,signal_str,tags,collab,category\n", vigil.EINVALID, "line 1:"},
		"forced format": {"signal_type,value\npdq," + pdq1 + "\n", vigil.EINVALID, "line 1:"},
	} {
		opt := banklist.Options{}
		if name == "forced format" || name == "header order" {
			opt.Format = banklist.FormatHMA
		}
		_, err := readAll(t, tc.input, opt)
		if vigil.ErrorCode(err) != tc.code || !strings.Contains(vigil.ErrorMessage(err), tc.msg) {
			t.Errorf("%s: %v, want %s %q", name, err, tc.code, tc.msg)
		}
	}
}

// vpdqFile is the start of the vPDQ reference's sample hash file
// (vpdq/sample-hashes), as its vpdqio writes one.
const vpdqFile = "0,100,e6cf059c4c6696362cc9d6663cd9c263714169d98327399993363d9c3d9cc666,0.000\n" +
	"1,100,e6cf059c4c6696362cc9d66638d9c263716169d98327399993363d9c3d9cc666,0.033\n" +
	"2,100,E6CF2D9C4C6496362CC9D66638D9C263714169D98327399993363D9C3D9CC666,0.067\n"

func TestReadVPDQ(t *testing.T) {
	for _, opt := range []banklist.Options{{}, {Format: banklist.FormatVPDQ}} {
		opt.Source, opt.SourceEntryID = "iwf", "video-17.vpdq"
		entries, err := readAll(t, "# a video\n"+vpdqFile, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("%d entries, want the one video", len(entries))
		}
		e := entries[0]
		if e.SignalType != vigil.SignalVPDQ || e.Source != "iwf" || e.SourceEntryID != "video-17.vpdq" || strings.Count(e.Value, ";") != 2 ||
			!strings.HasPrefix(e.Value, "0,100,e6cf059c") || !strings.Contains(e.Value, "e6cf2d9c") {
			t.Errorf("entry %+v", e)
		}
	}
	// With a signal type given, frame lines stay a text list (of one-frame
	// videos), as before.
	entries, err := readAll(t, vpdqFile, banklist.Options{SignalType: vigil.SignalVPDQ})
	if err != nil || len(entries) != 3 {
		t.Fatalf("text list of vpdq values: %d, %v", len(entries), err)
	}
	for name, tc := range map[string]struct {
		input string
		code  string
	}{
		"bad frame":   {vpdqFile + "3,100,xyz,0.1\n", vigil.EINVALID},
		"bad hash":    {"0,100," + strings.Repeat("g", 64) + ",0.000\n", vigil.EINVALID},
		"bad quality": {"0,900," + pdq1 + ",0.000\n", vigil.EINVALID},
		"too long":    {strings.Repeat("0,100,"+pdq1+",0.000\n", vigil.MaxVPDQFrames+1), vigil.ETOOLARGE},
	} {
		_, err := readAll(t, tc.input, banklist.Options{Format: banklist.FormatVPDQ, MaxBytes: 1 << 30})
		if vigil.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for name, want := range map[string]banklist.Format{"auto": banklist.FormatAuto, "text": banklist.FormatText, "csv": banklist.FormatCSV, "hma": banklist.FormatHMA, "vpdq": banklist.FormatVPDQ} {
		if got, err := banklist.ParseFormat(name); err != nil || got != want {
			t.Errorf("%s: %v, %v", name, got, err)
		}
	}
	if _, err := banklist.ParseFormat("xml"); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("xml: %v", err)
	}
}

// FuzzReaderFormats reads any input as each format: no panic, only
// valid entries, errors that are *vigil.Error values naming a line.
func FuzzReaderFormats(f *testing.F) {
	f.Add(uint8(banklist.FormatHMA), hmaHeader+"pdq,"+pdq1+",c,POSITIVE_CLASS,a b\n")
	f.Add(uint8(banklist.FormatVPDQ), vpdqFile)
	f.Add(uint8(banklist.FormatAuto), vpdqFile)
	f.Add(uint8(banklist.FormatAuto), hmaHeader+"vpdq,\"0,100,"+pdq1+",0.000\",x,INVESTIGATION_SEED,\n")
	f.Fuzz(func(t *testing.T, format uint8, input string) {
		opt := banklist.Options{Format: banklist.Format(format % 5), MaxLineBytes: 512, MaxBytes: 1 << 16}
		if opt.Format == banklist.FormatText {
			opt.SignalType = vigil.SignalMD5
		}
		for e, err := range banklist.NewReader(strings.NewReader(input), opt).All() {
			if err != nil {
				var ve *vigil.Error
				// Auto without a signal type may find a text list, which
				// needs one: the one error about the options, not a line.
				if !errors.As(err, &ve) || !strings.HasPrefix(ve.Message, "line ") && ve.Message != "a text list needs a signal type" {
					t.Fatalf("error %v is no *vigil.Error naming a line", err)
				}
				return
			}
			check := *e
			if err := check.Validate(); err != nil || check != *e {
				t.Fatalf("entry %+v is not valid and canonical: %v", *e, err)
			}
		}
	})
}
