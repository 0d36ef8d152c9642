package eval

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vigil-oss/vigil/phm"
)

// corpus is the repository's PDQ test images plus pictures generated in
// code (VIGIL_PHM_EVAL_IMAGES, default 400): flat shapes and gradients,
// the hard case for false matches.
func corpus(tb testing.TB) []CorpusImage {
	pics, err := ReadPictures(filepath.Join("..", "..", "pdq", "testdata"))
	if err != nil {
		tb.Fatal(err)
	}
	gen := 400
	if testing.Short() {
		// Each picture's 64 client keys are opened one scalar
		// multiplication at a time: keep -short to a few hundred.
		gen = 100
		pics = pics[:min(len(pics), 150)]
	}
	if s := os.Getenv("VIGIL_PHM_EVAL_IMAGES"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 1_000_000 {
			gen = n
		}
	}
	return KeysOfAll(append(pics, GeneratePictures(gen, 42)...))
}

// TestFalseMatchRate lists a random half of the benign corpus, pads the
// list with random balanced PDQ to N (VIGIL_PHM_EVAL_N, default 10,000;
// the design's figure is 1,000,000), and reports the per-image rate at
// which the other half opens, with a 95 % interval. It asserts only that
// the harness works: every listed image opens, at most one element each.
func TestFalseMatchRate(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2000
	}
	if s := os.Getenv("VIGIL_PHM_EVAL_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > 5_000_000 {
			t.Fatalf("VIGIL_PHM_EVAL_N=%q", s)
		}
	}
	imgs := corpus(t)
	if len(imgs) < 100 {
		t.Fatalf("only %d corpus images", len(imgs))
	}
	rep, err := FalseMatchExperiment(imgs, n, 7)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Listed.Matched != rep.Listed.Images {
		t.Fatalf("only %d of %d listed images open", rep.Listed.Matched, rep.Listed.Images)
	}
	fm := rep.Queries
	t.Logf("corpus: %d images in %d contents", rep.Images, rep.Contents)
	t.Logf("table N=%d (m=%d); listed images %d (%d PDQ near-duplicates clustered out): %d open, %d open more than one element", rep.TableEntries, rep.Slots, rep.Listed.Images, rep.Clustered, rep.Listed.Matched, rep.Listed.MultiOpen)
	t.Logf("false matches: %d of %d benign query images (rate %.3g, 95%% Wilson [%.3g, %.3g]); per family %v; multi-open %d",
		fm.Matched, fm.Images, fm.Rate, fm.Low, fm.High, fm.PerFamily, fm.MultiOpen)
}

func TestWilson(t *testing.T) {
	lo, hi := Wilson(0, 1000)
	if lo != 0 || hi < 0.0035 || hi > 0.0040 {
		t.Fatalf("0/1000: [%g, %g]", lo, hi)
	}
	lo, hi = Wilson(50, 100)
	if lo > 0.41 || lo < 0.39 || hi < 0.59 || hi > 0.61 {
		t.Fatalf("50/100: [%g, %g]", lo, hi)
	}
}

func TestPadKeysBalanced(t *testing.T) {
	for _, k := range PadKeys(100, Seed(1)) {
		n := 0
		for _, b := range k[len("pdq\x00"):] {
			for ; b != 0; b &= b - 1 {
				n++
			}
		}
		if n != 128 || k.Family() != phm.FamilyPDQ {
			t.Fatalf("pad key with %d ones", n)
		}
	}
}

// TestFamiliesCountOnlyCarriers: digest-only pictures (too flat for PDQ
// quality 50) count in the digest class's n, never in the PDQ classes';
// a listed key counts in its own class only.
func TestFamiliesCountOnlyCarriers(t *testing.T) {
	var pics []Picture
	for i := range 30 {
		pics = append(pics, flatPicture(i))
	}
	for i := range 20 {
		pics = append(pics, RichPicture(8, i))
	}
	imgs := KeysOfAll(pics)
	withPDQ := 0
	for _, img := range imgs {
		if len(img.PDQ) > 0 {
			withPDQ++
		}
	}
	if withPDQ == 0 || withPDQ == len(imgs) {
		t.Fatalf("%d of %d with PDQ: the test needs both kinds", withPDQ, len(imgs))
	}
	// Each picture's exact PDQ keys are its distinct orientations, all
	// classed as such (the client and hashing compute the same hashes).
	for _, img := range imgs {
		distinct := map[[32]byte]bool{}
		for _, d := range img.PDQ {
			distinct[d] = true
		}
		exact := 0
		for _, k := range img.Query {
			if ClassOf(&img, k) == ClassPDQ {
				exact++
			}
		}
		if exact != len(distinct) {
			t.Fatalf("%s: %d keys classed PDQ exact, %d distinct orientations", img.Name, exact, len(distinct))
		}
	}
	// List the SHA-256 of a flat picture, the Original of a rich one and
	// a probe of another rich one.
	listed := map[string]bool{string(imgs[0].Query[0]): true}
	var rich []int
	for i, img := range imgs {
		if len(img.PDQ) > 0 {
			rich = append(rich, i)
		}
	}
	a, b := &imgs[rich[0]], &imgs[rich[1]]
	for _, k := range a.Query {
		if ClassOf(a, k) == ClassPDQ {
			listed[string(k)] = true
			break
		}
	}
	probes := 0
	for _, k := range b.Query {
		if ClassOf(b, k) == ClassProbe {
			probes++
			if probes == 1 {
				listed[string(k)] = true
			}
		}
	}
	if probes == 0 {
		t.Fatal("no probe keys")
	}
	content := make([]int, len(imgs))
	for i := range content {
		content[i] = i / 2 // two images a content
	}
	r := countOpens(imgs, content, func(k phm.Key) bool { return listed[string(k)] })
	d, p, pr := r.Families[ClassDigest], r.Families[ClassPDQ], r.Families[ClassProbe]
	if d.Images != len(imgs) || p.Images != withPDQ || pr.Images != withPDQ {
		t.Fatalf("carriers: digest %d, pdq %d, probe %d; want %d, %d, %d", d.Images, p.Images, pr.Images, len(imgs), withPDQ, withPDQ)
	}
	if d.Matched != 1 || p.Matched != 1 || pr.Matched != 1 || r.Matched != 3 {
		t.Fatalf("matched: digest %d, pdq %d, probe %d, all %d; want 1, 1, 1, 3", d.Matched, p.Matched, pr.Matched, r.Matched)
	}
	if r.Contents != (len(imgs)+1)/2 || d.Contents != r.Contents {
		t.Fatalf("contents %d (digest %d), want %d", r.Contents, d.Contents, (len(imgs)+1)/2)
	}
	if lo, hi := Wilson(1, withPDQ); p.Low != lo || p.High != hi {
		t.Fatalf("pdq interval [%g, %g], want [%g, %g]", p.Low, p.High, lo, hi)
	}
}

// TestPlaintextPathAgreesWithTable: deciding opens by membership in the
// list gives the same counts as the real table, and the sampled check
// opens keys through the table and finds no disagreement.
func TestPlaintextPathAgreesWithTable(t *testing.T) {
	pics, err := ReadPictures(filepath.Join("..", "..", "pdq", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	n := 60
	if testing.Short() {
		// Every key through the real table, one scalar multiplication
		// at a time, is slow under -race.
		n = 25
	}
	pics = pics[:min(len(pics), n)]
	for i := range n {
		pics = append(pics, RichPicture(4, i))
	}
	imgs := KeysOfAll(pics)
	for _, listed := range []int{0, 10} {
		tbl, err := FalseMatchExperimentWith(imgs, FalseMatchOptions{N: 1000, Seed: 3, TableSample: -1, Listed: listed})
		if err != nil {
			t.Fatal(err)
		}
		pt, err := FalseMatchExperimentWith(imgs, FalseMatchOptions{N: 1000, Seed: 3, TableSample: 20, Listed: listed})
		if err != nil {
			t.Fatal(err)
		}
		if tbl.Path != "table" || pt.Path != "plaintext" {
			t.Fatalf("paths %q, %q", tbl.Path, pt.Path)
		}
		if pt.TableCheck.Images != min(20, tbl.Listed.Images)+min(20, tbl.Queries.Images) || pt.TableCheck.Keys == 0 || pt.TableCheck.Opened == 0 || pt.TableCheck.Disagree != 0 {
			t.Fatalf("table check %+v", pt.TableCheck)
		}
		for _, c := range []struct{ a, b FalseMatchResult }{{tbl.Listed, pt.Listed}, {tbl.Queries, pt.Queries}} {
			if c.a.Images != c.b.Images || c.a.Matched != c.b.Matched || c.a.MultiOpen != c.b.MultiOpen || c.a.Families[ClassPDQ] != c.b.Families[ClassPDQ] {
				t.Fatalf("listed %d: table %+v, plaintext %+v", listed, c.a, c.b)
			}
		}
		if tbl.Listed.Matched != tbl.Listed.Images || tbl.Listed.Images == 0 {
			t.Fatalf("listed %d: %d of %d listed open", listed, tbl.Listed.Matched, tbl.Listed.Images)
		}
		if listed > 0 && tbl.Queries.Contents != tbl.Contents-listed {
			t.Fatalf("listed %d of %d contents, %d query contents", listed, tbl.Contents, tbl.Queries.Contents)
		}
	}
}
