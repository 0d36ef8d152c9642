package main

import (
	vhttp "github.com/vigil-oss/vigil/http"
)

// addUIFlags registers serve's flags for the review UI's wellness
// protections on fs.
func addUIFlags(fs *flagSet) *vhttp.UIOptions {
	o := &vhttp.UIOptions{}
	fs.IntVar(&o.BreakAfter, "break-after", vhttp.DefaultBreakAfter, "remind a reviewer in the web UI to take a break after this many decisions")
	fs.DurationVar(&o.BreakEvery, "break-every", vhttp.DefaultBreakEvery, "... or after this long reviewing, whichever comes first")
	return o
}
