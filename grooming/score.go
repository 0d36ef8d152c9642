package grooming

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Message is one chat message.
type Message struct {
	From string `json:"from"`
	Text string `json:"text"`
	// Time is optional; evidence decays in wall-clock time when it is set.
	Time time.Time `json:"time,omitzero"`
	// Listed is optional evidence from the platform's curated lists: a
	// keyword or URL bank entry whose category names a family (a new app's
	// name filed under platform_move, say). It lets curators teach the
	// detector new wording without a release.
	Listed []Listed `json:"listed,omitempty"`
}

// Listed is one list match in a message's text.
type Listed struct {
	Family Family  `json:"family"`
	Score  float64 `json:"score"` // strength in [0,1]
	Span   Span    `json:"span"`  // bytes of the message text that matched
}

// Participant is optional platform metadata about one speaker. Zero values
// mean "unknown". Metadata shifts risk but never raises a flag on its own.
type Participant struct {
	ID string `json:"id"`
	// Age is the declared or estimated age in years.
	Age int `json:"age,omitempty"`
	// AccountAgeDays is the account's age in days (use 1 for a new account).
	AccountAgeDays int `json:"account_age_days,omitempty"`
	// InitiatedContact says whether this participant opened the contact.
	InitiatedContact *bool `json:"initiated_contact,omitempty"`
	// MinorsContacted is how many distinct minors the account contacted in
	// the last week (fan-out).
	MinorsContacted int `json:"minors_contacted,omitempty"`
}

// Conversation is a chat between two or more speakers.
type Conversation struct {
	ID           string        `json:"id"`
	Messages     []Message     `json:"messages"`
	Participants []Participant `json:"participants,omitempty"`
}

// Level is a coarse risk level for routing.
type Level string

// Risk levels.
const (
	LevelNone   Level = "none"
	LevelLow    Level = "low"
	LevelMedium Level = "medium"
	LevelHigh   Level = "high"
)

// Evidence is one message that raised a family and the spans that matched.
type Evidence struct {
	Message int     `json:"message"`
	Score   float64 `json:"score"`
	Spans   []Span  `json:"spans"`
}

// Indicator is one raised family of the suspect's pair.
type Indicator struct {
	Family Family `json:"family"`
	// Score is the family's decayed evidence in [0,1] after context rules.
	Score float64 `json:"score"`
	// Messages are the indexes of the evidence messages, in order.
	Messages []int      `json:"messages"`
	Evidence []Evidence `json:"evidence"`
}

// Risk is the detector's output for a conversation.
type Risk struct {
	Score float64 `json:"score"`
	Level Level   `json:"level"`
	// Flagged is sticky: once the score reached the flag threshold it stays
	// set until a reviewer clears it.
	Flagged bool `json:"flagged"`
	// FlaggedAt is the index of the message that raised the flag, or -1.
	FlaggedAt int `json:"flagged_at"`
	// Suspect and Target are the From values of the riskiest directed pair.
	Suspect    string      `json:"suspect,omitempty"`
	Target     string      `json:"target,omitempty"`
	Indicators []Indicator `json:"indicators"`
	// Context lists benign context found (caregiver_in_loop, surprise …)
	// so that a reviewer sees why a score was lowered.
	Context []string `json:"context,omitempty"`
	// Facts are age and metadata facts that moved the score.
	Facts []string `json:"facts,omitempty"`
	// Contributions are, for the learned scorer, the features that raised
	// the score most (weight × value on the logit scale) and the messages
	// behind each: the learned weights decide which evidence counts.
	Contributions []Contribution `json:"contributions,omitempty"`
	Messages      int            `json:"messages"`
	// Language is the conversation's dominant language ("en", "pl" …), ""
	// while too little text has been seen, or UnsupportedLanguage when its
	// words are mostly outside the supported languages.
	Language string `json:"language,omitempty"`
	// Languages lists every language that some message was identified in,
	// when there are two or more (a mixed chat).
	Languages []string `json:"languages,omitempty"`
	// Unsupported is set with Language == UnsupportedLanguage: the lexicons
	// do not cover the conversation, so a low score means nothing and the
	// conversation needs another way to review.
	Unsupported bool `json:"unsupported,omitempty"`
	// Disclosure is set when a participant tells someone they are being
	// threatened (financial sextortion told to a parent, friend or
	// helpline): the speaker is a possible victim, never the suspect.
	Disclosure *Disclosure `json:"disclosure,omitempty"`
	// Sextortion is set when the suspect's indicators include a
	// sextortion threat, or a disclosure names one: a reviewer should
	// consider the incident's sextortion annotation.
	Sextortion bool `json:"sextortion,omitempty"`
}

// Disclosure is a possible victim's account of a threat.
type Disclosure struct {
	// Victim is the From value of the speaker who disclosed.
	Victim   string     `json:"victim"`
	Messages []int      `json:"messages"`
	Evidence []Evidence `json:"evidence"`
}

// Options configure a Detector. Zero values take defaults.
type Options struct {
	// Threshold is the flag threshold on Score.
	Threshold float64
	// Medium and High are the level thresholds; Low starts at LowLevel.
	LowLevel, Medium, High float64
	// MaxMessageBytes bounds the text tagged per message; longer text is
	// cut (spans still point into the original).
	MaxMessageBytes int
	// Scorer is ScorerHand or ScorerLearned; "" is DefaultScorer.
	Scorer string
	// Model replaces the built-in learned model (cross-validation folds,
	// a model file); it implies ScorerLearned.
	Model *Model
}

// Default thresholds, chosen on testdata/dev.jsonl (228 benign, 152
// grooming): the flag threshold (= Medium) is the lowest score with a dev
// false-positive rate under 2% (four older-sibling "don't tell mom"
// conversations score above it); High has no dev false positive; Low only
// orders a review queue.
const (
	DefaultThreshold       = 0.3
	DefaultLowLevel        = 0.15
	DefaultMedium          = 0.3
	DefaultHigh            = 0.5
	DefaultMaxMessageBytes = 4096
)

// Bounds on the streaming state, so that a long or hostile conversation
// cannot grow it without limit.
const (
	MaxSpeakers         = 8
	maxPairs            = 16
	maxEvidence         = 3
	maxSpansPerEvidence = 4
	maxIDBytes          = 64
)

// Detector scores conversations. It is safe for concurrent use.
type Detector struct {
	opts  Options
	model *Model // nil: the hand-set scorer
	lx    *lexicon
	pool  sync.Pool
}

// NewDetector compiles the lexicons. It panics only if the built-in lexicon
// tables are malformed, which the package tests rule out.
func NewDetector(opts Options) *Detector {
	m := opts.Model
	if m == nil && cmp.Or(opts.Scorer, DefaultScorer) == ScorerLearned {
		var err error
		if m, err = BuiltinModel(); err != nil {
			panic(fmt.Sprintf("grooming: built-in model: %v", err))
		}
	}
	low, medium, high := DefaultLowLevel, DefaultMedium, DefaultHigh
	if m != nil {
		// The learned scorer is calibrated: its levels sit at out-of-fold
		// false-positive rates (ModelFile.LowFPR, FlagFPR, HighFPR).
		low, medium, high = m.thresh.low, m.thresh.flag, m.thresh.high
	}
	if opts.Threshold <= 0 {
		opts.Threshold = medium
	}
	if opts.LowLevel <= 0 {
		opts.LowLevel = low
	}
	if opts.Medium <= 0 {
		opts.Medium = medium
	}
	if opts.High <= 0 {
		opts.High = high
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	lx, err := compileLexicon(lexiconEntries())
	if err != nil {
		panic(fmt.Sprintf("grooming: compile lexicon: %v", err))
	}
	d := &Detector{opts: opts, lx: lx, model: m}
	d.pool.New = func() any { return new(tagScratch) }
	return d
}

func (d *Detector) scratch() *tagScratch  { return d.pool.Get().(*tagScratch) }
func (d *Detector) release(s *tagScratch) { d.pool.Put(s) }

// half-lives per family, in seconds of wall-clock time (docs §3.4): rapport
// fades in days, secrecy, platform moves and meetings persist for weeks.
var halfLife = [numFamilies]float64{
	AgeProbing:       7 * 86400,
	PersonalInfo:     7 * 86400,
	MaturityFlattery: 3 * 86400,
	Gift:             7 * 86400,
	RiskAssessment:   7 * 86400,
	Secrecy:          30 * 86400,
	Isolation:        14 * 86400,
	PlatformMove:     30 * 86400,
	PhotoRequest:     14 * 86400,
	Compliance:       7 * 86400,
	Meeting:          30 * 86400,
	Desensitisation:  14 * 86400,
	// Sextortion moves in minutes: a threat from last month is not the
	// same campaign as today's payment demand.
	SextortionThreat: 2 * 86400,
	PaymentDemand:    86400,
	Deadline:         6 * 3600,
}

// Family weights and pair terms of the logistic score. Pair terms encode
// the "two families" rule; secrecy × platform and risk × meeting are the
// strongest pairs (docs §3.4).
var (
	familyWeight = [numFamilies]float64{
		AgeProbing:       0.6,
		PersonalInfo:     0.9,
		MaturityFlattery: 0.9,
		Gift:             0.8,
		RiskAssessment:   1.3,
		Secrecy:          1.5,
		Isolation:        1.4,
		PlatformMove:     0.9,
		PhotoRequest:     1.0,
		Compliance:       1.0,
		Meeting:          1.2,
		Desensitisation:  1.1,
		SextortionThreat: 1.6,
		PaymentDemand:    0.7,
		Deadline:         0.5,
	}
	pairWeights = []struct {
		f, g Family
		w    float64
	}{
		{Secrecy, PlatformMove, 1.0},
		{RiskAssessment, Meeting, 1.0},
		{Secrecy, Meeting, 0.9},
		{Secrecy, Gift, 0.7},
		{RiskAssessment, Secrecy, 0.6},
		{AgeProbing, PhotoRequest, 0.6},
		{AgeProbing, Meeting, 0.6},
		{AgeProbing, Secrecy, 0.5},
		{MaturityFlattery, Secrecy, 0.6},
		{MaturityFlattery, PhotoRequest, 0.5},
		{Isolation, Secrecy, 0.6},
		{PhotoRequest, PlatformMove, 0.5},
		{PersonalInfo, Meeting, 0.6},
		{RiskAssessment, PlatformMove, 0.5},
		{Gift, PhotoRequest, 0.6},
		{Compliance, PhotoRequest, 0.5},
		{SextortionThreat, PaymentDemand, 1.6},
		{SextortionThreat, Deadline, 0.9},
		{PaymentDemand, Deadline, 0.5},
	}
)

const (
	scoreBias        = -4.0
	breadthStep      = 0.6 // per boundary-violating family beyond the first
	breadthFloor     = 0.45
	caregiverFlagW   = 0.5 // secrecy or cover stories aimed at caregivers
	surpriseConvCut  = 0.5
	convenienceCut   = 0.5
	caregiverConvCut = 0.6
	safetyConvCut    = 0.7
	commerceConvCut  = 0.6
	persistStep      = 0.3 // per family pressed in two or more messages
	// fastSextortion is added when a threat and a payment demand from one
	// speaker fall within fastWindow of each other by message time: real
	// sextortion runs from first threat to deadline in minutes.
	fastSextortion = 0.8
	fastWindow     = 3600
)

// State is the streaming state of one conversation. It is plain data
// (JSON-serialisable) and bounded in size: at most MaxSpeakers speakers,
// a fixed number of pairs and a few evidence items per family.
type State struct {
	// N is the number of messages seen.
	N int `json:"n"`
	// Now is the Unix time of the latest timed message (0 if none).
	Now int64 `json:"now,omitempty"`
	// Last is the speaker index of the latest message, -1 before any.
	Last         int            `json:"last"`
	Speakers     []SpeakerState `json:"speakers,omitempty"`
	Pairs        []PairState    `json:"pairs,omitempty"`
	Surprise     float32        `json:"surprise,omitempty"`
	Convenience  float32        `json:"convenience,omitempty"`
	Commerce     float32        `json:"commerce,omitempty"`
	Participants []Participant  `json:"participants,omitempty"`
	// Disclosures are messages in which a speaker tells of being
	// threatened (bounded to maxEvidence).
	Disclosures []DisclosureState `json:"disclosures,omitempty"`
	Flagged     bool              `json:"flagged,omitempty"`
	FlaggedAt   int               `json:"flagged_at"`
	// Lang and LangMsgs are per-language function-word points and messages
	// won, indexed by Lang; Words and KnownWords count letter words and
	// those that are function words of a supported language.
	Lang       []int32 `json:"lang,omitempty"`
	LangMsgs   []int32 `json:"lang_msgs,omitempty"`
	Words      int32   `json:"words,omitempty"`
	KnownWords int32   `json:"known_words,omitempty"`
}

// SpeakerState is what the scorer keeps about one speaker.
type SpeakerState struct {
	ID         string  `json:"id"`
	Messages   int     `json:"messages"`
	Questions  int     `json:"questions,omitempty"`
	First      int     `json:"first"`
	SelfAge    int     `json:"self_age,omitempty"`
	Evasive    float32 `json:"evasive,omitempty"`
	AdultLife  float32 `json:"adult_life,omitempty"`
	Caregiver  float32 `json:"caregiver,omitempty"`
	Quote      float32 `json:"quote,omitempty"`
	Education  float32 `json:"education,omitempty"`
	Safety     float32 `json:"safety,omitempty"`
	LastTarget int     `json:"last_target"`
}

// PairState holds per-family evidence for one directed pair.
type PairState struct {
	Actor  int `json:"actor"`
	Target int `json:"target"` // -1 while the addressee is unknown
	// E is each family's evidence as of time T[f] (decay is applied lazily).
	E     [numFamilies]float32   `json:"e"`
	T     [numFamilies]int64     `json:"t"`
	Flags [numFamilies]uint8     `json:"flags"`
	Ev    [numFamilies][]EvState `json:"ev"`
}

// DisclosureState is one message in which a speaker disclosed a threat.
type DisclosureState struct {
	Speaker int    `json:"speaker"`
	Msg     int    `json:"m"`
	Spans   []Span `json:"sp"`
}

// EvState is one stored evidence message.
type EvState struct {
	Msg   int     `json:"m"`
	Score float32 `json:"s"`
	Spans []Span  `json:"sp"`
}

// NewState returns the state of an empty conversation with optional
// participant metadata.
func NewState(participants []Participant) *State {
	st := &State{Last: -1, FlaggedAt: -1}
	for i, p := range participants {
		if i >= MaxSpeakers {
			break
		}
		p.ID = clipID(p.ID)
		st.Participants = append(st.Participants, p)
	}
	return st
}

func clipID(s string) string {
	if len(s) <= maxIDBytes {
		return s
	}
	cut := maxIDBytes
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}

// overflowID names the speaker slot shared by speakers beyond MaxSpeakers.
const overflowID = "\x00other"

func (st *State) speaker(id string, idx int) int {
	id = clipID(id)
	for i := range st.Speakers {
		if st.Speakers[i].ID == id {
			return i
		}
	}
	if len(st.Speakers) >= MaxSpeakers-1 {
		for i := range st.Speakers {
			if st.Speakers[i].ID == overflowID {
				return i
			}
		}
		if len(st.Speakers) >= MaxSpeakers {
			return len(st.Speakers) - 1
		}
		id = overflowID
	}
	if st.Speakers == nil {
		st.Speakers = make([]SpeakerState, 0, 2)
	}
	st.Speakers = append(st.Speakers, SpeakerState{ID: id, First: idx, LastTarget: -1})
	return len(st.Speakers) - 1
}

func (st *State) pair(actor, target int) *PairState {
	for i := range st.Pairs {
		if st.Pairs[i].Actor == actor && st.Pairs[i].Target == target {
			return &st.Pairs[i]
		}
	}
	if len(st.Pairs) >= maxPairs {
		// Full: fold into the actor's unknown-target pair, else into any
		// pair of the same actor.
		for i := range st.Pairs {
			if st.Pairs[i].Actor == actor && st.Pairs[i].Target == -1 {
				return &st.Pairs[i]
			}
		}
		for i := range st.Pairs {
			if st.Pairs[i].Actor == actor {
				return &st.Pairs[i]
			}
		}
		// A crowded group chat: drop rather than misattribute evidence.
		return nil
	}
	if st.Pairs == nil {
		// Most conversations have two speakers and up to four pairs (each
		// way, and each speaker's before-an-addressee pair): one
		// allocation instead of three growths.
		st.Pairs = make([]PairState, 0, 4)
	}
	st.Pairs = append(st.Pairs, PairState{Actor: actor, Target: target})
	return &st.Pairs[len(st.Pairs)-1]
}

// Score scores a whole conversation. It is exactly Append over the
// messages in order, so streaming and batch scoring agree.
func (d *Detector) Score(c Conversation) Risk {
	st := NewState(c.Participants)
	var r Risk
	for _, m := range c.Messages {
		r = d.Append(st, m)
	}
	if len(c.Messages) == 0 {
		s := d.scratch()
		r = d.risk(st, s)
		d.release(s)
	}
	return r
}

// Append adds one message to the conversation state and returns the risk
// after it.
func (d *Detector) Append(st *State, m Message) Risk {
	if st.FlaggedAt == 0 && !st.Flagged && st.N == 0 && st.Last == 0 {
		// A zero State (new(State) rather than NewState): set the "none yet"
		// sentinels before the first message.
		st.Last, st.FlaggedAt = -1, -1
	}
	idx := st.N
	st.N++
	now := st.Now
	if !m.Time.IsZero() {
		if t := m.Time.Unix(); t > now {
			now = t
		}
	}
	st.Now = now
	a := st.speaker(m.From, idx)
	sp := &st.Speakers[a]
	target := -1
	if st.Last >= 0 && st.Last != a {
		target = st.Last
	} else if sp.LastTarget >= 0 {
		target = sp.LastTarget
	}
	sp.LastTarget = target
	st.Last = a

	s := d.scratch()
	t := d.tag(s, m.Text)
	var listedSpans [numFamilies][]Span
	for _, l := range m.Listed {
		f := l.Family
		if !f.isIndicator() || l.Span.Start < 0 || l.Span.End > len(m.Text) || l.Span.Start > l.Span.End {
			continue
		}
		if v := float32(min(max(l.Score, 0), 1)); v > t.score[f] {
			t.score[f] = v
		}
		listedSpans[f] = append(listedSpans[f], l.Span)
	}
	sp.Messages++
	if t.question {
		sp.Questions++
	}
	if t.selfAge > 0 {
		sp.SelfAge = t.selfAge
	}
	cue := func(c Family) float32 { return t.cue[c-CueCaregiver] }
	sp.Evasive = max(sp.Evasive, cue(CueEvasiveAge))
	sp.AdultLife = max(sp.AdultLife, cue(CueAdultLife))
	sp.Caregiver = max(sp.Caregiver, cue(CueCaregiver))
	sp.Quote = max(sp.Quote, cue(CueQuote))
	sp.Education = max(sp.Education, cue(CueEducation))
	sp.Safety = max(sp.Safety, cue(CueSafety))
	st.Surprise = max(st.Surprise, cue(CueSurprise))
	st.Convenience = max(st.Convenience, cue(CueConvenience))
	st.Commerce = max(st.Commerce, cue(CueCommerce))

	var p *PairState
	for f := Family(0); f < numFamilies; f++ {
		v := t.score[f]
		if v <= 0 {
			continue
		}
		if p == nil {
			if p = st.pair(a, target); p == nil {
				break
			}
		}
		cur := decayed(p.E[f], p.T[f], now, f)
		if v > cur {
			cur = v
		}
		p.E[f], p.T[f] = cur, now
		p.Flags[f] |= t.flags[f]
		o := t.spanOff[f]
		spans := t.spans[o[0]:o[1]]
		if len(listedSpans[f]) > 0 {
			spans = append(append([]Span(nil), spans...), listedSpans[f]...)
			spans = spans[:min(len(spans), maxSpansPerEvidence)]
		}
		p.Ev[f] = addEvidence(p.Ev[f], EvState{Msg: idx, Score: v, Spans: spans})
	}
	if t.disclosure && len(st.Disclosures) < maxEvidence {
		var spans []Span
		for _, f := range []Family{SextortionThreat, PaymentDemand} {
			o := t.spanOff[f]
			spans = append(spans, t.spans[o[0]:o[1]]...)
		}
		spans = append([]Span(nil), spans[:min(len(spans), maxSpansPerEvidence)]...)
		st.Disclosures = append(st.Disclosures, DisclosureState{Speaker: a, Msg: idx, Spans: spans})
	}
	st.addLang(&t.lang)
	r := d.risk(st, s)
	d.release(s)
	if !st.Flagged && r.Score >= d.opts.Threshold {
		st.Flagged, st.FlaggedAt = true, idx
	}
	r.Flagged, r.FlaggedAt = st.Flagged, st.FlaggedAt
	return r
}

// addEvidence keeps the strongest few evidence messages (earliest on ties).
func addEvidence(ev []EvState, e EvState) []EvState {
	e.Spans = append([]Span(nil), e.Spans...)
	if len(ev) < maxEvidence {
		return append(ev, e)
	}
	weakest := 0
	for i := range ev {
		if ev[i].Score < ev[weakest].Score || (ev[i].Score == ev[weakest].Score && ev[i].Msg > ev[weakest].Msg) {
			weakest = i
		}
	}
	if e.Score > ev[weakest].Score {
		ev[weakest] = e
	}
	return ev
}

func decayed(e float32, t, now int64, f Family) float32 {
	if e == 0 || now <= t {
		return e
	}
	return e * float32(math.Exp2(-float64(now-t)/halfLife[f]))
}

// pairView is a scored directed pair. It is filled in place (risk keeps
// two, the candidate being scored and the best so far): Append builds one
// for every candidate pair on every message, and copying or zeroing it by
// value was a visible share of the learned path.
type pairView struct {
	actor, target int
	e             [numFamilies]float64
	t             [numFamilies]int64
	strong        [numFamilies]int32 // evidence messages with score ≥ 0.5
	first, last   [numFamilies]int   // first and last stored evidence message, -1 if none
	flags         [numFamilies]uint8
	// present has bit f set when e[f] != 0 after the context rules; most
	// families are absent from most pairs, and the feature loops visit
	// only the present ones.
	present uint16
	nstrong int // strong summed over the families
	z       float64
	// caregiverExcluded: secrecy or cover stories aimed at caregivers.
	caregiverExcluded bool
	// notes are the context cues applied, in order; ctx names them when
	// the pair is explained.
	notes  [8]Family
	nnotes int
}

// pairExplain is the explanation of the reported pair. It is kept out of
// pairView so that a view holds no pointers: resetting one for every
// candidate is then a plain copy, without write barriers.
type pairExplain struct {
	contrib []Contribution
	ctx     []string
	facts   []string
}

// emptyView is a pairView before any evidence (first and last -1):
// evidence starts from a copy of it, one block move, where a composite
// literal was zeroed and filled field by field.
var emptyView = func() (pv pairView) {
	for f := range pv.first {
		pv.first[f], pv.last[f] = -1, -1
	}
	return pv
}()

// risk computes the conversation risk from the state alone, so that the
// result never depends on how the messages were batched.
func (d *Detector) risk(st *State, s *tagScratch) Risk {
	r := Risk{Level: LevelNone, FlaggedAt: st.FlaggedAt, Flagged: st.Flagged, Messages: st.N, Indicators: []Indicator{}}
	st.language(&r)
	// pvs and xs (scratch, overwritten before use) hold the view and
	// feature vector of the candidate being scored and of the best so far,
	// so that explaining the best pair reuses its evidence and features
	// instead of computing them again.
	pvs, xs := &s.pvs, &s.xs
	cur, bi := 0, -1
	st.candidates(func(a, b int) {
		pv := &pvs[cur]
		d.view(st, a, b, pv, &xs[cur], nil, false)
		if bi < 0 || pv.z > pvs[bi].z || (pv.z == pvs[bi].z && st.Speakers[a].Questions > st.Speakers[pvs[bi].actor].Questions) {
			bi, cur = cur, 1-cur
		}
	})
	if bi < 0 {
		return r
	}
	best := &pvs[bi]
	var ex pairExplain
	d.view(st, best.actor, best.target, best, &xs[bi], &ex, true)
	r.Score = round3(sigmoid(best.z))
	r.Level = d.level(r.Score)
	for _, e := range best.e {
		if e >= 0.05 {
			// Name a suspect only when some indicator points at them.
			r.Suspect = speakerID(st, best.actor)
			r.Target = speakerID(st, best.target)
			break
		}
	}
	r.Context = ex.ctx
	r.Facts = ex.facts
	r.Contributions = ex.contrib
	// One allocation each for the indicators, all their message indexes
	// and all their evidence, sliced per indicator with capped capacity.
	nind, nev := 0, 0
	for f := range numFamilies {
		if best.e[f] < 0.05 {
			continue
		}
		nind++
		for i := range st.Pairs {
			p := &st.Pairs[i]
			if p.Actor == best.actor && (p.Target == best.target || p.Target == -1) {
				nev += len(p.Ev[f])
			}
		}
	}
	var msgBlock []int
	var evBlock []Evidence
	if nind > 0 {
		r.Indicators = make([]Indicator, 0, nind)
		msgBlock = make([]int, nev)
		evBlock = make([]Evidence, nev)
	}
	// evbuf holds the evidence of the actor's two pairs (the target's and
	// the unknown target's) without allocating; more pairs spill to the
	// heap.
	var evbuf [2 * maxEvidence]EvState
	for f := Family(0); f < numFamilies; f++ {
		if best.e[f] < 0.05 {
			continue
		}
		ind := Indicator{Family: f, Score: round3(best.e[f])}
		evs := evbuf[:0]
		for i := range st.Pairs {
			p := &st.Pairs[i]
			if p.Actor == best.actor && (p.Target == best.target || p.Target == -1) {
				evs = append(evs, p.Ev[f]...)
			}
		}
		slices.SortFunc(evs, func(a, b EvState) int { return a.Msg - b.Msg })
		if n := len(evs); n > 0 {
			ind.Messages, msgBlock = msgBlock[:n:n], msgBlock[n:]
			ind.Evidence, evBlock = evBlock[:n:n], evBlock[n:]
			for k, e := range evs {
				ind.Messages[k] = e.Msg
				ind.Evidence[k] = Evidence{Message: e.Msg, Score: round3(float64(e.Score)), Spans: e.Spans}
			}
		}
		r.Indicators = append(r.Indicators, ind)
	}
	slices.SortStableFunc(r.Indicators, func(a, b Indicator) int { return cmp.Compare(b.Score, a.Score) })
	// A threat alone can be "I'll post the group pics to the class chat":
	// the marker needs the threat and a payment demand from one speaker.
	r.Sextortion = best.e[SextortionThreat] >= breadthFloor && best.e[PaymentDemand] >= 0.3
	d.disclosure(st, &r, best.actor)
	return r
}

// candidates calls fn for every candidate pair: each actor × each target
// it addressed. Evidence sent before the addressee was known (-1) counts
// towards all of them.
func (st *State) candidates(fn func(a, b int)) {
	for a := range st.Speakers {
		var tbuf [maxPairs]int
		targets := tbuf[:0]
		for i := range st.Pairs {
			if st.Pairs[i].Actor == a && st.Pairs[i].Target >= 0 {
				targets = append(targets, st.Pairs[i].Target)
			}
		}
		if len(targets) == 0 {
			t := -1
			for b := range st.Speakers {
				if b != a {
					t = b
					break
				}
			}
			targets = append(targets, t)
		}
		for _, b := range targets {
			fn(a, b)
		}
	}
}

// disclosure marks a victim's account of a threat. The discloser is never
// named as the suspect: when the riskiest pair is their own, the risk keeps
// its score and indicators for the reviewer but names no suspect.
func (d *Detector) disclosure(st *State, r *Risk, actor int) {
	if len(st.Disclosures) == 0 {
		return
	}
	// A speaker who also threatens in their own words is not a victim,
	// whatever cue words they use ("what should i do with your pics").
	v := -1
	for _, ds := range st.Disclosures {
		if !st.threatens(ds.Speaker) {
			v = ds.Speaker
			break
		}
	}
	if v < 0 {
		return
	}
	dis := &Disclosure{Victim: speakerID(st, v)}
	for _, ds := range st.Disclosures {
		if ds.Speaker != v {
			continue
		}
		dis.Messages = append(dis.Messages, ds.Msg)
		dis.Evidence = append(dis.Evidence, Evidence{Message: ds.Msg, Score: 1, Spans: ds.Spans})
	}
	r.Disclosure = dis
	r.Sextortion = true
	if actor == v || r.Suspect == dis.Victim {
		r.Suspect, r.Target = "", ""
	}
}

func speakerID(st *State, i int) string {
	if i < 0 || i >= len(st.Speakers) || st.Speakers[i].ID == overflowID {
		return ""
	}
	return st.Speakers[i].ID
}

func (d *Detector) level(s float64) Level {
	switch {
	case s >= d.opts.High:
		return LevelHigh
	case s >= d.opts.Medium:
		return LevelMedium
	case s >= d.opts.LowLevel:
		return LevelLow
	}
	return LevelNone
}

func (st *State) participant(id string) *Participant {
	for i := range st.Participants {
		if st.Participants[i].ID == id {
			return &st.Participants[i]
		}
	}
	return nil
}

// view scores the directed pair actor → target with the detector's
// scorer into pv, and explains it into ex unless ex is nil.
//
// x receives the learned scorer's feature vector. With have set, pv and x
// already hold this pair's evidence, score and features on this state
// from a call without explanation, and are reused.
func (d *Detector) view(st *State, actor, target int, pv *pairView, x *[numFeatures]float64, ex *pairExplain, have bool) {
	if !have {
		d.evidence(st, actor, target, pv)
	}
	// Facts are formatted only for the pair that is reported: Append runs
	// this for every pair on every message.
	fact := noFact
	if ex != nil {
		pv.explainNotes(ex)
		fact = func(format string, a ...any) {
			ex.facts = append(ex.facts, fmt.Sprintf(format, a...))
		}
	}
	if d.model != nil {
		pv.z = d.model.logit(d, st, pv, ex, fact, x, have)
		return
	}
	pv.z = d.handLogit(st, pv, fact)
}

// noFact discards facts: the pair is not explained.
func noFact(string, ...any) {}

// evidence collects the pair's decayed family evidence into pv and
// applies the conversation-level context rules.
func (d *Detector) evidence(st *State, actor, target int, pv *pairView) {
	*pv = emptyView
	pv.actor, pv.target = actor, target
	note := func(c Family) {
		pv.notes[pv.nnotes] = c
		pv.nnotes++
	}
	now := st.Now
	for i := range st.Pairs {
		p := &st.Pairs[i]
		if p.Actor != actor || (p.Target != target && p.Target != -1) {
			continue
		}
		for f := Family(0); f < numFamilies; f++ {
			// Absent evidence (0) decays to 0 and cannot raise the
			// maximum, which starts at 0.
			if e := p.E[f]; e != 0 {
				pv.e[f] = max(pv.e[f], float64(decayed(e, p.T[f], now, f)))
			}
			pv.flags[f] |= p.Flags[f]
			pv.t[f] = max(pv.t[f], p.T[f])
			for _, ev := range p.Ev[f] {
				if ev.Score >= 0.5 {
					pv.strong[f]++
					pv.nstrong++
				}
				if pv.first[f] < 0 || ev.Msg < pv.first[f] {
					pv.first[f] = ev.Msg
				}
				pv.last[f] = max(pv.last[f], ev.Msg)
			}
		}
	}
	as := &st.Speakers[actor]
	for f := range pv.flags {
		if pv.flags[f]&flagCaregiver != 0 && pv.e[f] >= 0.3 {
			pv.caregiverExcluded = true
		}
	}
	// Conversation-level context.
	if st.Surprise > 0 && pv.e[Secrecy] > 0 {
		pv.e[Secrecy] *= 1 - surpriseConvCut*float64(st.Surprise)
		note(CueSurprise)
	}
	if st.Convenience > 0 && pv.e[PlatformMove] > 0 && pv.flags[PlatformMove]&flagOversight == 0 {
		pv.e[PlatformMove] *= 1 - convenienceCut*float64(st.Convenience)
		note(CueConvenience)
	}
	if st.Commerce > 0 {
		// Buying or selling an object: "how old is it", photos of the item
		// and a meeting place are logistics.
		for _, f := range []Family{AgeProbing, PhotoRequest, PersonalInfo, Meeting} {
			pv.e[f] *= 1 - commerceConvCut*float64(st.Commerce)
		}
		note(CueCommerce)
	}
	if as.Caregiver > 0 && !pv.caregiverExcluded {
		for _, f := range []Family{Meeting, PhotoRequest, PersonalInfo, Gift, RiskAssessment, PlatformMove, AgeProbing} {
			pv.e[f] *= 1 - caregiverConvCut*float64(as.Caregiver)
		}
		note(CueCaregiver)
	}
	if as.Safety > 0 {
		// Someone who says "lock the door" asks about being alone to make
		// the child safer, not to find an unsupervised moment.
		pv.e[RiskAssessment] *= 1 - safetyConvCut*float64(as.Safety)
		pv.e[Meeting] *= 1 - safetyConvCut/2*float64(as.Safety)
		pv.e[PhotoRequest] *= 1 - safetyConvCut/2*float64(as.Safety)
		note(CueSafety)
	}
	if as.Quote > 0.5 {
		note(CueQuote)
	}
	if as.Education > 0.5 {
		note(CueEducation)
	}
	for f := range numFamilies {
		if pv.e[f] != 0 {
			pv.present |= 1 << f
		}
	}
}

// explainNotes names the pair's context cues for a reviewer.
func (pv *pairView) explainNotes(ex *pairExplain) {
	for _, c := range pv.notes[:pv.nnotes] {
		ex.ctx = append(ex.ctx, c.String())
	}
}

// handLogit is the hand-set logistic score of a pair, the baseline the
// learned scorer is measured against.
func (d *Detector) handLogit(st *State, pv *pairView, fact func(string, ...any)) float64 {
	actor, target := pv.actor, pv.target
	as := &st.Speakers[actor]
	z := scoreBias
	core := 0
	for f := Family(0); f < numFamilies; f++ {
		z += familyWeight[f] * pv.e[f]
		if f != AgeProbing && f != MaturityFlattery && pv.e[f] >= breadthFloor {
			core++
		}
	}
	for _, pw := range pairWeights {
		z += pw.w * pv.e[pw.f] * pv.e[pw.g]
	}
	if core > 1 {
		z += breadthStep * float64(min(core-1, 3))
	}
	if pv.caregiverExcluded {
		z += caregiverFlagW
	}
	// Persistence: a boundary-violating family pressed again in a later
	// message is stronger evidence than one passing remark.
	persist := 0
	for f := Family(0); f < numFamilies; f++ {
		if f == AgeProbing || f == MaturityFlattery || pv.e[f] < breadthFloor {
			continue
		}
		if pv.strong[f] >= 2 {
			persist++
		}
	}
	z += persistStep * float64(min(persist, 2))
	if fast, ok := d.fastSextortion(st, actor, target); ok {
		z += fastSextortion
		fact("threat and payment demand %d minutes apart", fast/60)
	}

	// Ages and metadata: priors, never the sole trigger.
	var prior float64
	af := st.ages(actor, target)
	ageFactsExplain(af, fact)
	switch {
	case af.adultToMinor:
		prior += 1.5
	case af.peers:
		prior -= 2.0
	case af.targetAdult:
		prior -= 2.5
	case af.gap:
		prior += 0.5
	case af.targetMinor:
		prior += 0.5
	}
	if as.Evasive > 0 && (af.actorAge == 0 || af.actorAge >= 18) {
		prior += 0.8 * float64(as.Evasive)
		fact("evasive about own age")
	}
	if as.AdultLife > 0 && af.actorAge == 0 {
		prior += 0.4 * float64(as.AdultLife)
		fact("adult life markers")
	}
	prior += st.metaPrior(actor, fact)
	if core == 0 && prior > 1.0 {
		// Metadata alone must not flag: helpful adults have it too.
		prior = 1.0
	}
	return z + prior
}

// ageFactsExplain states the age facts for a reviewer; it adds nothing.
func ageFactsExplain(af ageFacts, fact func(string, ...any)) {
	switch {
	case af.adultToMinor:
		fact("adult (%d) to minor (%d)", af.actorAge, af.targetAge)
	case af.peers:
		fact("peers (%d and %d)", af.actorAge, af.targetAge)
	case af.targetAdult:
		fact("target is an adult (%d)", af.targetAge)
	case af.gap:
		fact("age gap %d", af.actorAge-af.targetAge)
	case af.targetMinor:
		fact("target is a minor (%d)", af.targetAge)
	}
}

// threatens reports whether speaker a made a sextortion threat of their
// own, one not discounted as told or reported.
func (st *State) threatens(a int) bool {
	for i := range st.Pairs {
		p := &st.Pairs[i]
		if p.Actor == a && decayed(p.E[SextortionThreat], p.T[SextortionThreat], st.Now, SextortionThreat) >= breadthFloor {
			return true
		}
	}
	return false
}

// fastSextortion reports whether the actor's threat and payment demand to
// target were both sent, by message time, within fastWindow of each other,
// and how many seconds apart. Without message times it never holds.
func (d *Detector) fastSextortion(st *State, actor, target int) (int64, bool) {
	var tt, tp int64
	for i := range st.Pairs {
		p := &st.Pairs[i]
		if p.Actor != actor || (p.Target != target && p.Target != -1) {
			continue
		}
		if p.E[SextortionThreat] >= breadthFloor && p.T[SextortionThreat] > 0 {
			tt = max(tt, p.T[SextortionThreat])
		}
		if p.E[PaymentDemand] >= 0.3 && p.T[PaymentDemand] > 0 {
			tp = max(tp, p.T[PaymentDemand])
		}
	}
	if tt == 0 || tp == 0 {
		return 0, false
	}
	gap := tt - tp
	if gap < 0 {
		gap = -gap
	}
	return gap, gap <= fastWindow
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
