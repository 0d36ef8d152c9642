package vpdq

import (
	"bytes"
	"context"
	"image/jpeg"
	"slices"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
)

// scenesVideo writes a benign 320×240 video at 10 frames per second of
// the given lavfi test sources, each for two seconds, one after the
// other: scenes whose frames' PDQ hashes differ widely from one source
// to the next.
func scenesVideo(tb testing.TB, name string, sources ...string) string {
	tb.Helper()
	graph := ""
	labels := ""
	for i, src := range sources {
		l := string(rune('a' + i))
		graph += src + "=size=320x240:rate=10:duration=2,format=yuv420p[" + l + "];"
		labels += "[" + l + "]"
	}
	graph += labels + "concat=n=" + string(rune('0'+len(sources))) + ":v=1:a=0"
	return makeVideo(tb, tb.TempDir(), name, "-filter_complex", graph, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
}

// TestKeepScenes checks that a Keeper given to hashing keeps one frame
// per scene, at the scene's first sampled frame, the same for any number
// of workers, as decodable JPEGs within the size.
func TestKeepScenes(t *testing.T) {
	requireFFmpeg(t)
	path := scenesVideo(t, "scenes.mp4", "smptebars", "rgbtestsrc", "yuvtestsrc")
	var first []KeptFrame
	for _, workers := range []int{1, 2, 3} {
		k := NewKeeper(KeepOptions{Size: 160})
		frames, _, err := HashFile(context.Background(), path, Options{Keep: k, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) != 6 {
			t.Fatalf("%d frames hashed, want 6", len(frames))
		}
		kept := k.Frames()
		var at []float64
		for _, f := range kept {
			at = append(at, f.Timestamp)
			img, err := jpeg.Decode(bytes.NewReader(f.JPEG))
			if err != nil {
				t.Fatalf("frame %d: %v", f.Number, err)
			}
			if b := img.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
				t.Errorf("frame %d is %v, want 160×120", f.Number, b)
			}
			if i := slices.IndexFunc(frames, func(h Frame) bool { return h.Number == f.Number }); i < 0 || frames[i].Hash != f.Hash {
				t.Errorf("kept frame %d is not a hashed frame with its hash", f.Number)
			}
		}
		if !slices.Equal(at, []float64{0, 2, 4}) {
			t.Fatalf("%d workers: kept frames at %v s, want one per scene at 0, 2, 4", workers, at)
		}
		if first == nil {
			first = kept
		} else if len(first) != len(kept) || first[1].Number != kept[1].Number || !bytes.Equal(first[2].JPEG, kept[2].JPEG) {
			t.Errorf("%d workers keep other frames than 1", workers)
		}
	}
	assertNoChildren(t)
}

// hashWith returns a hash whose first n bits are set.
func hashWith(n int) pdq.Hash {
	var h pdq.Hash
	for i := range n {
		h[31-i/8] |= 1 << (i % 8)
	}
	return h
}

// offerAll offers frames numbered 0, step, … with the given hashes, in
// the order given by order (indexes into hashes), as hashing workers
// finishing out of order would, and checks every buffer comes back.
func offerAll(t *testing.T, k *Keeper, step int, hashes []pdq.Hash, order []int) {
	t.Helper()
	k.start(step)
	freed := 0
	buf := make([]byte, 3*64*64)
	for _, i := range order {
		k.offer(Frame{Number: i * step, Hash: hashes[i], Timestamp: float64(i)}, buf, 64, 64, func([]byte) { freed++ })
	}
	if freed != len(order) {
		t.Fatalf("%d buffers given back of %d", freed, len(order))
	}
}

func keptNumbers(k *Keeper) []int {
	var out []int
	for _, r := range k.kept {
		out = append(out, r.frame.Number)
	}
	return out
}

// TestKeeperDecisions checks the choice of frames without ffmpeg: scene
// changes by PDQ distance, decided in frame order whatever the order of
// offers, and the cap keeping frames spread over the whole video.
func TestKeeperDecisions(t *testing.T) {
	// Scenes: 0-2 alike, 3 far from them, 4 near 3, 5 far again.
	hashes := []pdq.Hash{hashWith(0), hashWith(10), hashWith(31), hashWith(100), hashWith(120), hashWith(256)}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {1, 0, 3, 2, 5, 4}} {
		k := NewKeeper(KeepOptions{})
		offerAll(t, k, 30, hashes, order)
		if got := keptNumbers(k); !slices.Equal(got, []int{0, 90, 150}) {
			t.Errorf("offered in order %v: kept %v, want 0, 90, 150", order, got)
		}
		if len(k.pending) != 0 {
			t.Errorf("offered in order %v: %d left undecided", order, len(k.pending))
		}
	}

	// Nine scenes, at most two kept: the first and the last.
	var scenes []pdq.Hash
	var order []int
	for i := range 9 {
		scenes = append(scenes, hashWith(i*32%257))
		order = append(order, i)
	}
	k := NewKeeper(KeepOptions{MaxFrames: 2})
	offerAll(t, k, 1, scenes, order)
	if got := keptNumbers(k); !slices.Equal(got, []int{0, 8}) {
		t.Errorf("nine scenes, two kept: %v, want 0 and 8", got)
	}
	k = NewKeeper(KeepOptions{MaxFrames: 4})
	offerAll(t, k, 1, scenes, order)
	// Past four the stride doubles twice: every fourth scene.
	if got := keptNumbers(k); !slices.Equal(got, []int{0, 4, 8}) {
		t.Errorf("nine scenes, four kept: %v, want 0, 4, 8", got)
	}

	// A new video on the same Keeper starts afresh.
	offerAll(t, k, 1, scenes[:1], []int{0})
	if got := keptNumbers(k); !slices.Equal(got, []int{0}) {
		t.Errorf("second video: kept %v", got)
	}
}

// TestKeeperBytes checks that Frames drops frames evenly to fit MaxBytes.
func TestKeeperBytes(t *testing.T) {
	hashes := []pdq.Hash{hashWith(0), hashWith(64), hashWith(128), hashWith(192), hashWith(256)}
	k := NewKeeper(KeepOptions{})
	offerAll(t, k, 1, hashes, []int{0, 1, 2, 3, 4})
	all := k.Frames()
	if len(all) != 5 {
		t.Fatalf("%d frames, want 5", len(all))
	}
	one := len(all[0].JPEG)
	k.opts.MaxBytes = 3*one + one/2
	if got := k.Frames(); len(got) != 3 || got[0].Number != 0 || got[1].Number != 2 || got[2].Number != 4 {
		t.Errorf("within 3.5 frames' bytes: %+v", got)
	}
	k.opts.MaxBytes = one / 2
	if got := k.Frames(); len(got) != 0 {
		t.Errorf("within half a frame's bytes: %d frames", len(got))
	}
}

// TestScaleRGB24 checks the area filter on a 4×2 image scaled to 2×1.
func TestScaleRGB24(t *testing.T) {
	buf := []byte{
		0, 0, 0, 100, 100, 100, 10, 20, 30, 10, 20, 30,
		200, 200, 200, 100, 100, 100, 30, 40, 50, 30, 40, 50,
	}
	img := scaleRGB24(buf, 4, 2, 2)
	if b := img.Bounds(); b.Dx() != 2 || b.Dy() != 1 {
		t.Fatalf("scaled to %v", b)
	}
	want := []byte{100, 100, 100, 255, 20, 30, 40, 255}
	if !bytes.Equal(img.Pix, want) {
		t.Errorf("pixels %v, want %v", img.Pix, want)
	}
	// Never scaled up.
	if b := scaleRGB24(buf, 4, 2, 512).Bounds(); b.Dx() != 4 || b.Dy() != 2 {
		t.Errorf("small frame scaled to %v", b)
	}
}
