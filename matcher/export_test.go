package matcher

// SetRematchBatch sets how many added entries a refresh matches
// retroactively at once, so that tests can see the batches.
func SetRematchBatch(m *Matcher, n int) { m.rematchBatch = n }
