package vpdq_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/vigil-oss/vigil/vpdq"
)

// Hash a video at one frame per second (python-threatexchange's default),
// store the hash in the reference text format, and compare it with a
// known video's hash.
func Example() {
	ctx := context.Background()
	frames, info, err := vpdq.HashFile(ctx, "upload.mp4", vpdq.Options{})
	if err != nil {
		log.Fatal(err) // vigil.ErrorCode(err) tells bad input from limits
	}
	fmt.Printf("%dx%d at %.2f fps: %d of %d frames hashed\n", info.Width, info.Height, info.FrameRate, len(frames), info.Frames)
	if err := vpdq.WriteFrames(os.Stdout, frames); err != nil {
		log.Fatal(err)
	}

	f, err := os.Open("known.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	known, err := vpdq.ReadFrames(f, vpdq.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	c := vpdq.Compare(frames, known, vpdq.CompareOptions{})
	fmt.Printf("match=%v query=%.2f%% target=%.2f%%\n", c.Match, c.QueryPercent, c.TargetPercent)
	for _, r := range c.Ranges {
		fmt.Printf("matched %.3fs to %.3fs (%d frames)\n", r.Start, r.End, r.Frames)
	}
}
