package grooming

import "unicode/utf8"

// Span is a byte range [Start, End) in a message's original text.
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Tag is one family found in a message: its strength in [0,1] after the
// message-level context rules, and the original-text spans that matched.
type Tag struct {
	Family Family  `json:"family"`
	Score  float64 `json:"score"`
	Spans  []Span  `json:"spans"`
}

// MessageTags is the tagger's view of one message.
type MessageTags struct {
	// Indicators are the grooming families, strongest first.
	Indicators []Tag `json:"indicators,omitempty"`
	// Cues are context cues (caregiver in the loop, surprise …).
	Cues []Tag `json:"cues,omitempty"`
	// SelfAge is an age the speaker states for themself, 0 if none.
	SelfAge int `json:"self_age,omitempty"`
	// Question reports whether the message asks something.
	Question bool `json:"question,omitempty"`
	// Language is the message's language code, "" when too short or
	// ambiguous to tell.
	Language string `json:"language,omitempty"`
}

// Context discounts applied inside one message. Reported speech and safety
// education carry the densest grooming vocabulary of all benign text
// (docs/grooming.md §5.5), so they cut hard.
const (
	quoteDiscount = 0.2
	// quoteBeforeDiscount applies to an indicator written before the
	// reported-speech cue of its message.
	quoteBeforeDiscount = 0.7
	educationDiscount   = 0.2
	surpriseDiscount    = 0.35
	safetyDiscount      = 0.3
	caregiverDiscount   = 0.4
	coverSecrecy        = 0.9
)

const numCues = int(cueEnd - CueCaregiver)

// msgTags is the allocation-free form of MessageTags used by the scorer.
type msgTags struct {
	score    [numFamilies]float32
	raw      [numFamilies]float32 // before context rules: the keyword baseline
	flags    [numFamilies]uint8
	cue      [numCues]float32
	selfAge  int
	question bool
	lang     langCount
	spanOff  [numFamilies][2]int32 // spans[spanOff[f][0]:spanOff[f][1]]
	spans    []Span
	// disclosure: the speaker tells of a sextortion threat made to them.
	disclosure bool
}

// tagScratch is reusable per-goroutine working memory.
type tagScratch struct {
	n    normalizer
	m    matcher
	t    msgTags
	fs   [numFamilies][]Span
	hitF []Family
	// pvs and xs are risk's two pair views and feature vectors.
	pvs [2]pairView
	xs  [2][numFeatures]float64
}

func (d *Detector) tag(s *tagScratch, text string) *msgTags {
	if len(text) > d.opts.MaxMessageBytes {
		// Cut on a rune boundary so that spans stay valid in the original.
		cut := d.opts.MaxMessageBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	s.n.run(text, d.lx)
	// Voice-to-text writes punctuation as words ("vraagteken", "komma"):
	// they would hide the question and use up the gaps of patterns.
	spokenQ := s.n.dropSpoken()
	question := spokenQ || hasQuestionMark(text)
	d.lx.match(&s.m, &s.n, question)
	t := &s.t
	*t = msgTags{spans: t.spans[:0]}
	for f := range s.fs {
		s.fs[f] = s.fs[f][:0]
	}
	quoted := quoteRanges(text)
	// quoteAt is the first token of the earliest reported-speech cue:
	// "he said …" introduces what follows, so an indicator that ends
	// before it is the speaker's own words and is discounted less.
	quoteAt := int32(-1)
	for _, h := range s.m.hits {
		p := &d.lx.patterns[h.pat]
		sp := Span{int(s.n.toks[h.a].start), int(s.n.toks[h.b-1].end)}
		if !p.fam.isIndicator() {
			if p.fam == CueSafety && negatedAt(&s.n, int(h.a)) {
				// "don't block me or I post it" is the threat's
				// opener, not advice to block someone.
				continue
			}
			if p.fam == CueQuote && (quoteAt < 0 || h.a < quoteAt) {
				quoteAt = h.a
			}
			c := int(p.fam - CueCaregiver)
			if p.w > t.cue[c] {
				t.cue[c] = p.w
			}
			continue
		}
		w := p.w
		if inRanges(quoted, sp) {
			w *= quoteDiscount
		}
		f := p.fam
		if p.w > t.raw[f] {
			t.raw[f] = p.w
		}
		if w > t.score[f] {
			t.score[f] = w
		}
		t.flags[f] |= p.flags
		s.fs[f] = appendSpan(s.fs[f], sp)
		if f == Meeting && p.flags&flagCaregiver != 0 {
			// A cover story ("tell your dad you're at a friend's") is a
			// meeting and secrecy from caregivers at once.
			t.raw[Secrecy] = max(t.raw[Secrecy], p.w)
			t.score[Secrecy] = max(t.score[Secrecy], w*coverSecrecy)
			t.flags[Secrecy] |= flagCaregiver
			s.fs[Secrecy] = appendSpan(s.fs[Secrecy], sp)
		}
	}
	// Message-level context rules.
	cue := func(c Family) float32 { return t.cue[c-CueCaregiver] }
	mult := float32(1)
	// before[f]: every span of f ends before the reported-speech cue.
	var before [numFamilies]bool
	if q := cue(CueQuote); q > 0 {
		mult *= 1 - (1-quoteDiscount)*q
		for f := range s.fs {
			if len(s.fs[f]) == 0 {
				continue
			}
			before[f] = true
			for _, sp := range s.fs[f] {
				if sp.End > int(s.n.toks[quoteAt].start) {
					before[f] = false
				}
			}
		}
	}
	if e := cue(CueEducation); e > 0 {
		mult *= 1 - (1-educationDiscount)*e
	}
	// A threat or payment demand told by its victim, or discussed as a scam
	// or news story, is not the speaker's own threat: the same words then
	// weigh as reported speech, and a victim's account is kept apart.
	sxMult := float32(1)
	if c := max(cue(CueDisclosure), cue(CueScamReport)); c > 0 {
		sxMult = 1 - (1-quoteDiscount)*c
	}
	t.disclosure = max(t.raw[SextortionThreat], t.raw[PaymentDemand]) > 0 && cue(CueDisclosure) >= 0.5 && cue(CueScamReport) < 0.5
	caregiverExcluded := false
	for f := range t.flags {
		if t.flags[f]&flagCaregiver != 0 && t.score[f] > 0 {
			caregiverExcluded = true
		}
	}
	for f := range t.score {
		if t.score[f] == 0 {
			continue
		}
		if before[f] {
			// The speaker's own words before a reported-speech cue
			// ("don't tell mom, or she wants to pay") keep most of
			// their weight.
			m := mult / (1 - (1-quoteDiscount)*cue(CueQuote))
			t.score[f] *= m * (1 - (1-quoteBeforeDiscount)*cue(CueQuote))
		} else {
			t.score[f] *= mult
		}
		switch Family(f) {
		case SextortionThreat, PaymentDemand, Deadline:
			t.score[f] *= sxMult
		case Secrecy:
			if sp := cue(CueSurprise); sp > 0 {
				t.score[f] *= 1 - (1-surpriseDiscount)*sp
			}
		case RiskAssessment:
			if sf := cue(CueSafety); sf > 0 {
				t.score[f] *= 1 - (1-safetyDiscount)*sf
			}
		case Meeting, PhotoRequest, PersonalInfo, Gift, PlatformMove:
			if cg := cue(CueCaregiver); cg > 0 && !caregiverExcluded {
				t.score[f] *= 1 - (1-caregiverDiscount)*cg
			}
		}
	}
	// spans is local so that the fifteen appends do not each store the
	// slice into the (heap) scratch behind a write barrier.
	spans := t.spans
	for f := range s.fs {
		a := int32(len(spans))
		spans = append(spans, s.fs[f]...)
		t.spanOff[f] = [2]int32{a, int32(len(spans))}
	}
	t.spans = spans
	d.lx.countLangs(&s.n, text, &t.lang)
	t.selfAge = selfAge(&s.n)
	t.question = question
	return t
}

// hasQuestionMark reports whether text contains '?', '¿' (C2 BF) or '？'
// (EF BC 9F). It is strings.ContainsAny(text, "?¿？") without decoding
// every rune three times: a lead byte never continues an earlier rune, so
// the encodings are found by their bytes, valid UTF-8 or not.
func hasQuestionMark(text string) bool {
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '?':
			return true
		case 0xC2:
			if i+1 < len(text) && text[i+1] == 0xBF {
				return true
			}
		case 0xEF:
			if i+2 < len(text) && text[i+1] == 0xBC && text[i+2] == 0x9F {
				return true
			}
		}
	}
	return false
}

// negations precede a safety verb that the speaker asks not to be done
// ("don't block me", "não me bloqueia", "ära blokeeri", "niet blokkeren").
var negations = map[string]bool{
	"dont": true, "don't": true, "never": true, "nao": true, "n": true, "nunca": true, "no": true, "non": true,
	"nicht": true, "nie": true, "niet": true, "ne": true, "ara": true, "ei": true, "mai": true, "nem": true,
}

// negatedAt reports whether a negation stands just before token i, past
// a first-person object or a plea ("não me bloqueia", "don't pls block").
func negatedAt(n *normalizer, i int) bool {
	for k := i - 1; k >= 0 && k >= i-3; k-- {
		w := string(n.buf[n.toks[k].a:n.toks[k].b])
		if negations[w] {
			return true
		}
		switch w {
		case "me", "mij", "mind", "mnie", "mich", "mi", "moi", "please", "pls":
			continue
		}
		break
	}
	// German, Dutch and French negate after the verb ("blockier mich
	// nicht", "blokkeer me niet", "ne me bloque pas").
	for k := i + 1; k < len(n.toks) && k <= i+2; k++ {
		switch string(n.buf[n.toks[k].a:n.toks[k].b]) {
		case "nicht", "niet", "pas":
			return true
		}
	}
	return false
}

// spokenMarks are punctuation marks dictated to voice-to-text, folded as
// message words are (repeats collapse: "vraagteken" → "vragteken"); true
// for a question mark.
var spokenMarks = foldKeys(map[string]bool{
	"virgula": false, "vírgula": false, "comma": false, "komma": false, "koma": false, "virgola": false, "virgule": false, "przecinek": false,
	"interrogação": true, "interrogacao": true, "interrogación": true, "interrogativo": true, "vraagteken": true, "küsimärk": true,
	"fragezeichen": true, "pytajnik": true, "uitroepteken": false, "hüüumärk": false,
})

// foldKeys folds a word set's keys the way the normaliser folds words.
func foldKeys(m map[string]bool) map[string]bool {
	var n normalizer
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[foldPatternWord(&n, k)] = v
	}
	return out
}

// dropSpoken removes dictated punctuation words from the tokens and
// reports whether one of them was a question mark. "punto", "ponto",
// "punkt" and "punt" are dropped only after a word, never as the first
// token, and "question mark" only as the pair.
func (n *normalizer) dropSpoken() bool {
	q := false
	out := n.toks[:0]
	for i, t := range n.toks {
		w := n.buf[t.a:t.b]
		if len(w) < 4 || len(w) > 13 {
			out = append(out, t)
			continue
		}
		switch v, _ := spokenTab.get(wordHash(w), w); v {
		case spokenMark:
			continue
		case spokenQuestion:
			q = true
			continue
		case spokenStop:
			if i > 0 {
				continue
			}
		}
		if string(w) == "mark" && len(out) > 0 && string(n.buf[out[len(out)-1].a:out[len(out)-1].b]) == "question" {
			q = true
			out = out[:len(out)-1]
			continue
		}
		out = append(out, t)
	}
	n.toks = out
	return q
}

// spokenStops are dictated full stops, which are also ordinary words
// ("a punto de", "Punkt 8"): dropped only after another word.
var spokenStops = foldKeys(map[string]bool{"punto": true, "ponto": true, "punkt": true, "punt": true, "kropka": true})

// Values of spokenTab.
const (
	spokenNone uint8 = iota
	spokenMark
	spokenQuestion
	spokenStop
)

// spokenTab is spokenMarks and spokenStops in one wordTable, so that
// dropSpoken hashes each word once. It is immutable, like the maps.
var spokenTab = func() wordTable[uint8] {
	m := map[string]uint8{}
	for k := range spokenStops {
		m[k] = spokenStop
	}
	for k, isQ := range spokenMarks {
		// A mark wins over a stop, as the map lookups' order had it.
		m[k] = spokenMark
		if isQ {
			m[k] = spokenQuestion
		}
	}
	return newWordTable(m)
}()

// appendSpan adds sp, merging it with an overlapping span; spans stay few
// per family and message, so a linear scan is fine.
func appendSpan(spans []Span, sp Span) []Span {
	for i := range spans {
		if sp.Start < spans[i].End && spans[i].Start < sp.End {
			spans[i].Start = min(spans[i].Start, sp.Start)
			spans[i].End = max(spans[i].End, sp.End)
			return spans
		}
	}
	if len(spans) >= maxSpansPerEvidence {
		return spans
	}
	return append(spans, sp)
}

// quoteRanges returns byte ranges enclosed in double quotes or guillemets:
// a child repeating what someone wrote to them.
func quoteRanges(text string) [][2]int {
	var out [][2]int
	open := -1
	for i, r := range text {
		switch r {
		case '"', '“', '”', '«', '»', '„':
			if open < 0 {
				open = i
			} else {
				out = append(out, [2]int{open, i})
				open = -1
				if len(out) >= 8 {
					return out
				}
			}
		}
	}
	return out
}

func inRanges(rs [][2]int, sp Span) bool {
	for _, r := range rs {
		if sp.Start > r[0] && sp.End <= r[1]+1 {
			return true
		}
	}
	return false
}

// selfAge finds an age the speaker states for themself: "im 13", "i am 13",
// "13 here", "13 u?", "tengo 13", "ich bin 13", "j'ai 13 ans".
func selfAge(n *normalizer) int {
	toks := n.toks
	word := func(i int) string {
		if i < 0 || i >= len(toks) {
			return ""
		}
		return string(n.buf[toks[i].a:toks[i].b])
	}
	for i, t := range toks {
		if t.num < 5 || t.num > 99 {
			continue
		}
		next := word(i + 1)
		if nonAgeUnit(next) {
			continue
		}
		prev := word(i - 1)
		switch prev {
		case "im", "am", "tengo", "bin", "jai", "me", "turned", "turning", "cumpli", "werde":
			if prev == "am" && word(i-2) != "i" {
				continue
			}
			return int(t.num)
		}
		switch next {
		case "yo", "years", "yrs", "yr", "años", "anos", "jahre", "ans", "here", "aqui", "hier", "ici":
			if prev == "" || prev == "im" || prev == "and" || prev == "y" || prev == "et" || prev == "und" || i == 0 {
				return int(t.num)
			}
		case "u", "you", "y", "tu", "du", "and", "too", "also", "tambien", "aussi", "auch":
			if i == 0 {
				return int(t.num)
			}
		case "":
			if i == 0 && len(toks) == 1 {
				return int(t.num)
			}
		}
	}
	return 0
}

func nonAgeUnit(w string) bool {
	switch w {
	case "min", "mins", "minutes", "minute", "minutos", "minuten", "hours", "hrs", "h", "km", "miles", "mi", "m", "percent",
		"am", "pm", "dolars", "dollars", "euros", "eur", "bucks", "robux", "vbucks", "k", "feet", "ft", "cm", "kg", "lbs",
		"times", "days", "weeks", "months", "seconds", "secs", "sec", "level", "lvl", "kills", "wins", "points", "pts":
		return true
	}
	return false
}

// Tag runs the normaliser and tagger on one message and returns what it
// found, for tests, debugging and review UIs.
func (d *Detector) Tag(text string) MessageTags {
	s := d.scratch()
	defer d.release(s)
	t := d.tag(s, text)
	var out MessageTags
	for f := Family(0); f < numFamilies; f++ {
		if t.raw[f] == 0 {
			continue
		}
		o := t.spanOff[f]
		out.Indicators = append(out.Indicators, Tag{Family: f, Score: round3(float64(t.score[f])), Spans: append([]Span(nil), t.spans[o[0]:o[1]]...)})
	}
	for c := range t.cue {
		if t.cue[c] > 0 {
			out.Cues = append(out.Cues, Tag{Family: CueCaregiver + Family(c), Score: round3(float64(t.cue[c]))})
		}
	}
	out.SelfAge = t.selfAge
	out.Question = t.question
	if l, ok := t.lang.lang(); ok {
		out.Language = l.String()
	}
	return out
}
