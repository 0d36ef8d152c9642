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
