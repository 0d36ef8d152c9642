package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// debianSample bounds the pictures TestFalseMatchesDebianPictures keys, so
// CI spends about a minute on it: a seeded draw, the same on every run.
const debianSample = 3000

// TestFalseMatchesDebianPictures is the false-match measurement on real
// benign pictures that CI installs: Debian's openclipart-png (clip art,
// the design note's hard case: flat and structured) and gnome-backgrounds
// (photographs). .ci/run installs them and sets VIGIL_PHM_PICTURES to
// their directories, separated by colons, and VIGIL_REQUIRE_PHM_PICTURES
// so that a missing directory fails instead of skipping. Half the contents
// are listed in a real blinded table padded with random balanced keys;
// every listed picture must open and no picture of the other half may.
// The padding only adds random keys (the interval is set by the number of
// queries), so the table stays small enough to build in seconds; the opens
// are decided by list membership and checked through the real table on a
// sample, as `vigil phm eval --table-sample` does.
func TestFalseMatchesDebianPictures(t *testing.T) {
	if testing.Short() {
		t.Skip("keys thousands of pictures")
	}
	dirs := os.Getenv("VIGIL_PHM_PICTURES")
	if dirs == "" {
		if os.Getenv("VIGIL_REQUIRE_PHM_PICTURES") != "" {
			t.Fatal("VIGIL_REQUIRE_PHM_PICTURES is set but VIGIL_PHM_PICTURES names no directory")
		}
		t.Skip("VIGIL_PHM_PICTURES is not set (.ci/run installs Debian's picture packages and sets it)")
	}
	var pics []Picture
	for _, d := range strings.Split(dirs, ":") {
		if _, err := os.Stat(d); err != nil {
			if os.Getenv("VIGIL_REQUIRE_PHM_PICTURES") != "" {
				t.Fatalf("picture directory: %v", err)
			}
			t.Skipf("picture directory: %v", err)
		}
		p, err := ReadPictures(d)
		if err != nil {
			t.Fatalf("read %s: %v", d, err)
		}
		t.Logf("%s: %d files", filepath.Clean(d), len(p))
		pics = append(pics, p...)
	}
	rng := Seed(11)
	rng.Shuffle(len(pics), func(i, j int) { pics[i], pics[j] = pics[j], pics[i] })
	if len(pics) > debianSample {
		pics = pics[:debianSample]
	}
	imgs := KeysOfAll(pics)
	if len(imgs) < debianSample/2 {
		t.Fatalf("only %d of %d files decode as pictures", len(imgs), len(pics))
	}
	rep, err := FalseMatchExperimentWith(imgs, FalseMatchOptions{N: 20_000, Seed: 5, TableSample: 300})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TableCheck.Disagree != 0 {
		t.Fatalf("membership and the real table disagree on %d of %d pictures", rep.TableCheck.Disagree, rep.TableCheck.Images)
	}
	if rep.Listed.Matched != rep.Listed.Images {
		t.Fatalf("only %d of %d listed pictures open", rep.Listed.Matched, rep.Listed.Images)
	}
	pdqQ := rep.Queries.Families[ClassPDQ]
	if pdqQ.Images < 300 {
		t.Fatalf("only %d query pictures carry PDQ keys: the measurement says too little", pdqQ.Images)
	}
	for class, f := range rep.Queries.Families {
		t.Logf("%s: %d false matches of %d query pictures (%d contents), 95%% Wilson [%.3g, %.3g]",
			class, f.Matched, f.Images, f.Contents, f.Low, f.High)
	}
	if rep.Queries.Matched != 0 {
		t.Fatalf("%d of %d unlisted benign pictures open an element (false matches)", rep.Queries.Matched, rep.Queries.Images)
	}
}
