package client_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/phm/eval"
)

// TestProbeRecall measures, on the benign PDQ test images, how many edited
// copies the private channel still finds next to plaintext PDQ ≤ 31, with
// the edit suite of `vigil phm eval` (phm/eval.Recall: the design's
// appendix B, redone on this code, plus Meta's bridge edits). It reports
// numbers; what it asserts is that the client's keys never lose a pair
// its exact dihedral PDQ finds, that plaintext ≤ 31 finds every pair
// exact does, and that no edited picture fails to hash.
func TestProbeRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes about 250 edited images")
	}
	dir := "../../pdq/testdata/"
	var pics []eval.Picture
	for _, g := range []string{"reg-test-input/labelme-subset/*.jpg", "reg-test-input/pen-and-coaster.png", "reg-test-input/dih/bridge-1-original.jpg", "misc-images/*", "pytx-resources/*", "bridge-mods/*.jpg"} {
		m, _ := filepath.Glob(dir + g)
		for _, path := range m {
			if st, err := os.Stat(path); err != nil || st.IsDir() {
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			pics = append(pics, eval.Picture{Name: path, Data: data})
		}
	}
	bases := eval.SelectRecallBases(pics, nil, len(pics), 1)
	rep, err := eval.Recall(t.Context(), bases, eval.RecallEdits(), eval.BridgePairs(pics, bases))
	if err != nil {
		t.Fatal(err)
	}
	if len(bases) < 10 || rep.Edits[len(rep.Edits)-1].Edit != eval.BridgeEditName {
		t.Fatalf("%d bases, last row %q: pdq/testdata or the bridge edits are missing", len(bases), rep.Edits[len(rep.Edits)-1].Edit)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d base images (quality ≥ 50, one per content; %d scaled to %d px, %d listed as the PNG of their pixels)\n", rep.Bases, rep.Scaled, eval.MaxRecallSide, rep.Converted)
	fmt.Fprintf(&b, "| edit | n | ≤ 31 (8 orientations) | ≤ 31 (original) | exact | exact + probes | multi-open | quality < 50 |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range append(rep.Edits, rep.Total) {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d |\n", r.Edit, r.Pairs, r.Plain, r.PlainOriginal, r.Exact, r.Probes, r.MultiOpen, r.LowQuality)
		if r.ExactNotProbes != 0 {
			t.Errorf("%s: exact finds %d pairs the probes lose", r.Edit, r.ExactNotProbes)
		}
		if r.Plain < r.Exact {
			t.Errorf("%s: plaintext ≤ 31 finds %d pairs, exact %d", r.Edit, r.Plain, r.Exact)
		}
		if r.Failed != 0 {
			t.Errorf("%s: %d edited images do not hash", r.Edit, r.Failed)
		}
	}
	t.Log("\n" + b.String())
}
