package main

import (
	"bytes"
	"encoding/json"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/eval"
)

// TestPHMEvalSeveralDirectories: --images may be given more than once, and
// pictures in any format hashing decodes (here GIF beside PNG) are read.
func TestPHMEvalSeveralDirectories(t *testing.T) {
	pics := eval.GeneratePictures(6, 3)
	pngDir, gifDir := t.TempDir(), filepath.Join(t.TempDir(), "nested")
	if err := os.MkdirAll(gifDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, p := range pics {
		if i < 3 {
			if err := os.WriteFile(filepath.Join(pngDir, p.Name+".png"), p.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		img, err := png.Decode(bytes.NewReader(p.Data))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := gif.Encode(&buf, img, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(gifDir, p.Name+".GIF"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not a picture: skipped by its extension.
	if err := os.WriteFile(filepath.Join(gifDir, "notes.txt"), []byte("benign"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runMain(t, "", "phm", "eval", "--images", pngDir, "--images", gifDir, "--generated", "0",
		"--n", "300", "--accounts", "1", "--sends", "5", "--attack-pictures", "0", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Pictures int `json:"pictures"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Pictures != 6 {
		t.Fatalf("%d pictures read from two directories, want 6", rep.Pictures)
	}
}

// TestPHMEvalSecondKey: keygen writes the keyed hash's key, eval reads it
// (--second-key) and measures the keyed hash on benign pictures; a
// malformed key file is refused.
func TestPHMEvalSecondKey(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if _, e, err := runMain(t, "", "phm", "keygen", "--out", keys); err != nil {
		t.Fatalf("keygen: %v %s", err, e)
	}
	out, _, err := runMain(t, "", "phm", "eval", "--images", "../../pdq/testdata/pytx-resources", "--generated", "0",
		"--n", "300", "--accounts", "1", "--sends", "5", "--attack-pictures", "0", "--keyed-pictures", "10", "--recall-pictures", "0",
		"--second-key", filepath.Join(keys, "second.key"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Keyed *eval.KeyedReport `json:"keyed"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Keyed == nil || len(rep.Keyed.Edits) == 0 || rep.Keyed.Edits[0].Pictures == 0 {
		t.Fatalf("no keyed measurement: %s", out)
	}
	if e := rep.Keyed.Edits[0]; e.Edit != "none" || e.Keyed != e.Plain {
		t.Errorf("unedited pictures: PDQ confirms %d, PDQ+keyed %d of %d", e.Plain, e.Keyed, e.Pictures)
	}
	// The text report prints the keyed measurement even when no attack
	// ran (it once returned before it).
	text, _, err := runMain(t, "", "phm", "eval", "--images", "../../pdq/testdata/pytx-resources", "--generated", "0",
		"--n", "300", "--accounts", "1", "--sends", "5", "--attack-pictures", "0", "--keyed-pictures", "10", "--recall-pictures", "0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "keyed second hash") || !strings.Contains(text, "unrelated pairs within the keyed threshold") {
		t.Errorf("no keyed lines in the text report:\n%s", text)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("vigil-phm-second-key-v1 00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runMain(t, "", "phm", "eval", "--generated", "8", "--attack-pictures", "0", "--second-key", bad); err == nil {
		t.Error("a malformed key file was accepted")
	}
}

// TestPHMEvalPicturesOnePerContent: the eval's pictures are one per
// content in any orientation. pdq/testdata holds one photograph in all
// eight orientations; picking by the PDQ of the original orientation only
// took several of them, and a collision from one onto another passed the
// keyed hash as a "transfer" (it is the target, mirrored).
func TestPHMEvalPicturesOnePerContent(t *testing.T) {
	pics, err := eval.ReadPictures("../../pdq/testdata")
	if err != nil {
		t.Fatal(err)
	}
	lumas := eval.DistinctLumas(pics, 40)
	h := pdq.NewHasher(pdq.Full)
	hashes := make([]pdq.Hash, len(lumas))
	dih := make([][8]pdq.Hash, len(lumas))
	for i, l := range lumas {
		dih[i], _ = h.HashDihedral(l.Gray())
		hashes[i] = dih[i][pdq.Original]
	}
	for i := range lumas {
		for j := i + 1; j < len(lumas); j++ {
			if d := phm.NearestDistance(dih[j], hashes[i]); d <= pdq.MatchThreshold {
				t.Errorf("pictures %d and %d are one content (PDQ %d apart in some orientation)", i, j, d)
			}
		}
	}
	if len(lumas) < 4 {
		t.Fatalf("only %d pictures", len(lumas))
	}
}

// TestPHMEvalRichStreamed: --rich pictures are keyed without being held,
// --listed lists that many contents, and --table-sample reports the
// plaintext path with its check against the real table and the
// per-class counts.
func TestPHMEvalRichStreamed(t *testing.T) {
	out, _, err := runMain(t, "", "phm", "eval", "--generated", "0", "--rich", "40", "--listed", "5", "--table-sample", "8",
		"--n", "300", "--accounts", "1", "--sends", "5", "--attack-pictures", "0", "--keyed-pictures", "0", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Pictures   int `json:"pictures"`
		FalseMatch struct {
			Contents   int             `json:"contents"`
			Path       string          `json:"path"`
			TableCheck eval.TableCheck `json:"table_check"`
			Queries    struct {
				Images   int
				Contents int
				Families map[eval.KeyClass]eval.FamilyResult
			} `json:"queries"`
		} `json:"false_match"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	fm := rep.FalseMatch
	if rep.Pictures != 40 || fm.Path != "plaintext" || fm.TableCheck.Images <= 8 || fm.TableCheck.Images > 16 || fm.TableCheck.Disagree != 0 {
		t.Fatalf("pictures %d, path %q, table check %+v", rep.Pictures, fm.Path, fm.TableCheck)
	}
	if fm.Queries.Contents != fm.Contents-5 || fm.Queries.Families[eval.ClassDigest].Images != fm.Queries.Images ||
		fm.Queries.Families[eval.ClassPDQ].Images == 0 {
		t.Fatalf("queries %+v of %d contents", fm.Queries, fm.Contents)
	}
	text, _, err := runMain(t, "", "phm", "eval", "--generated", "0", "--rich", "20", "--table-sample", "4",
		"--n", "200", "--accounts", "1", "--sends", "5", "--attack-pictures", "0", "--keyed-pictures", "0")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pdq    keys:", "probe  keys:", "digest keys:", "checked through the real table on"} {
		if !strings.Contains(text, want) {
			t.Fatalf("no %q in:\n%s", want, text)
		}
	}
}

// TestPHMEvalRecall: section 5 draws its bases from the --images
// pictures, reports every edit of the suite with its counts and the
// per-directory totals in JSON and in text, and --recall-pictures 0 turns
// it off.
func TestPHMEvalRecall(t *testing.T) {
	dir := t.TempDir()
	for i := range 8 {
		p := eval.RichPicture(5, i)
		if err := os.WriteFile(filepath.Join(dir, p.Name+".png"), p.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"phm", "eval", "--images", "../../pdq/testdata/reg-test-input/labelme-subset", "--images", dir, "--generated", "0",
		"--n", "300", "--accounts", "1", "--sends", "5", "--attack-pictures", "0", "--keyed-pictures", "0", "--recall-pictures", "6"}
	out, _, err := runMain(t, "", append(args, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Recall *eval.RecallReport `json:"recall"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	r := rep.Recall
	if r == nil || r.Bases != 6 || len(r.Edits) != len(eval.RecallEdits()) || r.Total.Pairs != 6*len(eval.RecallEdits()) {
		t.Fatalf("recall report: %+v", r)
	}
	if len(r.Sources) != 2 || r.Sources[0].Bases+r.Sources[1].Bases != 6 || r.Sources[0].Total.Pairs+r.Sources[1].Total.Pairs != r.Total.Pairs {
		t.Fatalf("sources: %+v", r.Sources)
	}
	if r.TableCheck.Images != 6 || r.TableCheck.Disagree != 0 {
		t.Fatalf("table check %+v", r.TableCheck)
	}
	if r.Total.ExactNotProbes != 0 || r.Total.Probes < r.Total.Exact || r.Edits[0].Edit != "jpeg90" || r.Edits[0].Probes == 0 {
		t.Fatalf("totals %+v, first row %+v", r.Total, r.Edits[0])
	}
	text, _, err := runMain(t, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recall on 6 bases", "exact + probes", "jpeg90", "rotate2°", "mirror", "  total", "labelme-subset (", "real blinded table of the bases on 6 vouchers", dir + " ("} {
		if !strings.Contains(text, want) {
			t.Fatalf("no %q in:\n%s", want, text)
		}
	}
	text, _, err = runMain(t, "", append(args[:len(args)-1], "0")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "recall on") {
		t.Fatalf("--recall-pictures 0 still measured recall:\n%s", text)
	}
}
