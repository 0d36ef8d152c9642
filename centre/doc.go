// Package centre is what a centre does with the reports providers send
// it, once centre/intake has read them: triage them against the centre's
// own banks (flags of possibly unfounded reports, duplicates, priority),
// and carry out a reviewer's outcome (forward to law enforcement, close as
// unfounded, ask for more; indicators made of confirmed new material). The
// web layer (http/) only decodes and authorises; the store
// (vigil.CentreService) keeps what this decides.
package centre
