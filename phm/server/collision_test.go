package server

import (
	"context"
	"image"
	_ "image/png"
	"os"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/eval"
)

func attackPicture(tb testing.TB, path string) *eval.Luma {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	return eval.LumaOf(eval.Fit(img))
}

func derivativePayload(tb testing.TB, l *eval.Luma) *phm.Payload {
	b, err := client.Derivative(l.Gray())
	if err != nil {
		tb.Fatal(err)
	}
	return &phm.Payload{Derivative: b, Ref: "x"}
}

// TestCheckRejectsCraftedCollision: vigil phm eval's white-box collision
// (eval.Collide, margin 1, which is deterministic: no random draw) from
// one test picture onto another's PDQ passes PDQ ≤ 31 on its derivative,
// so the second check's re-encode is what must refuse it; the unmodified
// pictures, listed in the same banks, are still confirmed.
func TestCheckRejectsCraftedCollision(t *testing.T) {
	src := attackPicture(t, "../../pdq/testdata/pytx-resources/LA.png")
	dst := attackPicture(t, "../../pdq/testdata/pytx-resources/RANDOM_IMAGE_BASE64.png")
	h := pdq.NewHasher(pdq.Full)
	srcHash, dstHash := pdqOf(t, src.Gray()), pdqOf(t, dst.Gray())
	if d := pdq.Distance(srcHash, dstHash); d <= 2*pdq.MatchThreshold {
		t.Fatalf("the two pictures are only %d bits apart", d)
	}
	r := eval.Collide(src, dstHash, 1, eval.Budget{})
	if !r.Success {
		t.Fatalf("the eval's collision did not succeed: %d hashes, PSNR %.1f, distance %d", r.Queries, r.PSNR, r.Distance)
	}
	coll := derivativePayload(t, r.Picture)
	// The collision is real on the derivative too: the plain PDQ check
	// alone would confirm it.
	img, err := DecodeDerivative(coll.Derivative)
	if err != nil {
		t.Fatal(err)
	}
	dih, q := h.HashDihedral(img)
	if d := phm.NearestDistance(dih, dstHash); q < pdq.MinQuality || d > pdq.MatchThreshold {
		t.Fatalf("the collision's derivative is %d bits (quality %d) from the target: not a collision the re-encode is needed for", d, q)
	}
	s := &Service{Banks: &banks{list: []pdq.Hash{srcHash, dstHash}}}
	orig, target := derivativePayload(t, src), derivativePayload(t, dst)
	got, err := s.Check(context.Background(), []*phm.Payload{coll, orig, target})
	if err != nil {
		t.Fatal(err)
	}
	confirmed := map[*phm.Payload]bool{}
	for _, c := range got {
		confirmed[c.Payload] = true
	}
	if confirmed[coll] {
		t.Error("the crafted collision passed the second check")
	}
	if !confirmed[orig] || !confirmed[target] {
		t.Errorf("unmodified pictures confirmed: source %v, target %v", confirmed[orig], confirmed[target])
	}
}
