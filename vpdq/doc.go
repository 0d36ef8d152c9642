// Package vpdq computes Meta's vPDQ video hash and compares videos by it.
//
// A vPDQ hash is a list of PDQ hashes of sampled frames, each with its
// frame number, quality and timestamp. Frames are decoded by an ffmpeg
// subprocess that pipes raw RGB24 frames to us (nothing is written to disk)
// and hashed with package pdq. With the same FFmpeg build (Debian 12's
// 5.1.9) the result is byte-identical to the C++ reference vpdq-hash-video;
// other builds give hashes a few bits apart, which is why upstream checks
// its own sample hashes with a tolerance.
//
// The package holds three things:
//
//   - hashing: [HashFile] and [HashReader], with limits on resolution,
//     frames, duration and wall time, and the ffmpeg process always reaped;
//   - the text format: [WriteFrames] and [ReadFrames], the reference's
//     "frameNumber,quality,hash,timestamp" lines (python-threatexchange's
//     "hash,quality,timestamp" lines are read too);
//   - comparison: [Compare], with python-threatexchange's semantics by
//     default and the C++ reference's as an option, plus the matched frame
//     ranges a reviewer needs.
package vpdq
