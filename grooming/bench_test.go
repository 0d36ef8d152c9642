package grooming

import (
	"testing"
)

// benchMessages returns every message of the dev set, a realistic mix of
// short chat lines in four languages.
func benchMessages(b *testing.B) []Message {
	var msgs []Message
	for _, r := range readRecords(b, "testdata/dev.jsonl") {
		msgs = append(msgs, r.Messages...)
	}
	return msgs
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// cpuRate reports messages per CPU-second of the process (all threads,
// GC included) since start: the per-core rate, which a loaded machine's
// wall clock hides.
func cpuRate(b *testing.B, start float64) {
	if cpu := cpuSeconds() - start; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu, "msgs/cpu-s")
	}
}

// BenchmarkNormalize is the baseline: folding and tokenising only.
func BenchmarkNormalize(b *testing.B) {
	msgs := benchMessages(b)
	d := NewDetector(Options{})
	var n normalizer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.run(msgs[i%len(msgs)].Text, d.lx)
	}
	reportRate(b)
}

// BenchmarkKeywordBaseline tags without scoring: the single-keyword
// baseline's cost.
func BenchmarkKeywordBaseline(b *testing.B) {
	msgs := benchMessages(b)
	d := NewDetector(Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.KeywordHit(msgs[i%len(msgs)].Text)
	}
	reportRate(b)
}

// BenchmarkPipeline is the full path per message: normalise, tag and
// rescore the conversation state (Append), with the hand-set scorer (the
// baseline) and the learned one.
func BenchmarkPipeline(b *testing.B) {
	for _, sc := range []string{ScorerHand, ScorerLearned} {
		b.Run(sc, func(b *testing.B) { benchPipeline(b, sc) })
	}
}

func benchPipeline(b *testing.B, scorer string) {
	msgs := benchMessages(b)
	d := NewDetector(Options{Scorer: scorer})
	st := NewState(nil)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		if i%12 == 0 {
			// Conversations of a dozen messages, as in the dev set.
			st = NewState(nil)
		}
		d.Append(st, msgs[i%len(msgs)])
	}
	cpuRate(b, cpu0)
	reportRate(b)
}

// BenchmarkPipelineNineLanguages is BenchmarkPipeline over the dev set
// plus the Italian, Portuguese, Dutch, Polish and Estonian conversations,
// interleaved so that every language's patterns and identification run.
func BenchmarkPipelineNineLanguages(b *testing.B) {
	for _, sc := range []string{ScorerHand, ScorerLearned} {
		b.Run(sc, func(b *testing.B) { benchPipelineNine(b, sc) })
	}
}

func benchPipelineNine(b *testing.B, scorer string) {
	msgs := benchMessages(b)
	var extra []Message
	for _, r := range readRecords(b, "testdata/dev_lang.jsonl") {
		extra = append(extra, r.Messages...)
	}
	var mixed []Message
	for i := 0; i < len(msgs) || i < len(extra); i++ {
		if i < len(msgs) {
			mixed = append(mixed, msgs[i])
		}
		if i < len(extra) {
			mixed = append(mixed, extra[i])
		}
	}
	d := NewDetector(Options{Scorer: scorer})
	st := NewState(nil)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		if i%12 == 0 {
			st = NewState(nil)
		}
		d.Append(st, mixed[i%len(mixed)])
	}
	cpuRate(b, cpu0)
	reportRate(b)
}
