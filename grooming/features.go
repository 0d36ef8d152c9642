package grooming

import (
	"math"
	"math/bits"
	"slices"
)

// The learned scorer reads a fixed vector of interpretable features of one
// directed pair (actor → target), computed from the same streaming State
// as the hand scorer: each family's decayed evidence after the context
// rules, persistence, every pairwise product of families, breadth, context
// cues, ages stated in the chat, the order in which families appeared
// (age probe before secrecy before a platform move; none for sextortion,
// whose demand and threat come in either order), pace, who wrote first
// and whether a speaker disclosed a threat. Metadata supplied by the
// platform (account age, who initiated, fan-out) keeps its hand-set prior:
// the development data carries none to learn it from.

// featureIndex positions of the feature groups in the vector.
const (
	featE       = 0
	featPersist = featE + int(numFamilies)
	featPair    = featPersist + int(numFamilies)
	numPairs    = int(numFamilies) * (int(numFamilies) - 1) / 2
	featScalar  = featPair + numPairs
)

// Scalar features after the family groups, in vector order.
var scalarFeatures = []string{
	"breadth:2", "breadth:3", "breadth:4",
	"flag:caregiver_excluded", "flag:oversight_move",
	"cue:surprise", "cue:convenience", "cue:commerce",
	"cue:caregiver", "cue:safety", "cue:quote", "cue:education", "cue:evasive_age", "cue:adult_life",
	"fast_sextortion",
	"age:adult_to_minor", "age:peers", "age:target_adult", "age:gap", "age:target_minor",
	"order:age_then_secrecy", "order:age_then_platform", "order:secrecy_then_platform",
	"order:age_secrecy_platform", "order:flattery_then_photo", "order:risk_then_meeting",
	"pace:indicator_span", "pace:hours", "pace:late_start",
	"target_wrote_first",
	"disclosure:actor", "disclosure:target",
	"msgs:strong", "actor:question_share", "actor:message_share", "target:safety", "target:quote",
}

const (
	fBreadth2 = featScalar + iota
	fBreadth3
	fBreadth4
	fCaregiverExcluded
	fOversightMove
	fSurprise
	fConvenience
	fCommerce
	fCaregiver
	fSafety
	fQuote
	fEducation
	fEvasive
	fAdultLife
	fFastSextortion
	fAdultToMinor
	fPeers
	fTargetAdult
	fAgeGap
	fTargetMinor
	fAgeThenSecrecy
	fAgeThenPlatform
	fSecrecyThenPlatform
	fAgeSecrecyPlatform
	fFlatteryThenPhoto
	fRiskThenMeeting
	fIndicatorSpan
	fHours
	fLateStart
	fTargetFirst
	fDisclosureActor
	fDisclosureTarget
	fStrongMsgs
	fQuestionShare
	fMessageShare
	fTargetSafety
	fTargetQuote
	numFeatures
)

// newFeatures are the features added with the leave-one-batch-out
// protocol; BaselineRecipe trains without them.
var newFeatures = []string{"msgs:strong", "actor:question_share", "actor:message_share", "target:safety", "target:quote"}

// pairIndex[f][g] (f < g) is the position of e[f]·e[g] in the vector.
var pairIndex = func() (idx [numFamilies][numFamilies]int) {
	k := featPair
	for f := range numFamilies {
		for g := f + 1; g < numFamilies; g++ {
			idx[f][g] = k
			k++
		}
	}
	return idx
}()

// pairOf is the inverse of pairIndex.
var pairOf = func() (out [numPairs][2]Family) {
	for f := range numFamilies {
		for g := f + 1; g < numFamilies; g++ {
			out[pairIndex[f][g]-featPair] = [2]Family{f, g}
		}
	}
	return out
}()

// FeatureNames lists the learned scorer's features in vector order.
func FeatureNames() []string {
	names := make([]string, 0, numFeatures)
	for f := range numFamilies {
		names = append(names, "e:"+f.String())
	}
	for f := range numFamilies {
		names = append(names, "persist:"+f.String())
	}
	for f := range numFamilies {
		for g := f + 1; g < numFamilies; g++ {
			names = append(names, "pair:"+f.String()+"*"+g.String())
		}
	}
	return append(names, scalarFeatures...)
}

// featureFamilyTable is featureFamilies of every feature, built once:
// contributions reads it for every explained message.
var featureFamilyTable = func() (t [numFeatures][]Family) {
	for i := range t {
		t[i] = featureFamilies(i)
	}
	return t
}()

// featureFamilies names the families a feature reads, so that an
// explanation can point at their evidence messages.
func featureFamilies(i int) []Family {
	switch {
	case i < featPersist:
		return []Family{Family(i - featE)}
	case i < featPair:
		return []Family{Family(i - featPersist)}
	case i < featScalar:
		p := pairOf[i-featPair]
		return p[:]
	}
	switch i {
	case fAgeThenSecrecy:
		return []Family{AgeProbing, Secrecy}
	case fAgeThenPlatform:
		return []Family{AgeProbing, PlatformMove}
	case fSecrecyThenPlatform:
		return []Family{Secrecy, PlatformMove}
	case fAgeSecrecyPlatform:
		return []Family{AgeProbing, Secrecy, PlatformMove}
	case fFlatteryThenPhoto:
		return []Family{MaturityFlattery, PhotoRequest}
	case fRiskThenMeeting:
		return []Family{RiskAssessment, Meeting}
	case fFastSextortion:
		return []Family{SextortionThreat, PaymentDemand}
	}
	return nil
}

// ageFacts is what the stated ages of a pair say, shared by both scorers.
type ageFacts struct {
	adultToMinor, peers, targetAdult, gap, targetMinor bool
	actorAge, targetAge                                int
}

func (st *State) ages(actor, target int) ageFacts {
	as := &st.Speakers[actor]
	af := ageFacts{actorAge: as.SelfAge}
	if ap := st.participant(as.ID); ap != nil && ap.Age > 0 {
		af.actorAge = ap.Age
	}
	if target >= 0 {
		ts := &st.Speakers[target]
		af.targetAge = ts.SelfAge
		if tp := st.participant(ts.ID); tp != nil && tp.Age > 0 {
			af.targetAge = tp.Age
		}
	}
	a, t := af.actorAge, af.targetAge
	switch {
	case a >= 18 && t > 0 && t < 18:
		af.adultToMinor = true
	case a > 0 && a < 18 && t > 0 && t < 18 && abs(a-t) <= 2:
		af.peers = true
	case t >= 18:
		af.targetAdult = true
	case a > 0 && t > 0 && a-t > 3:
		af.gap = true
	case t > 0 && t < 18:
		af.targetMinor = true
	}
	return af
}

// metaPrior is the hand-set shift from platform metadata about the actor
// and the facts that explain it.
func (st *State) metaPrior(actor int, fact func(string, ...any)) float64 {
	ap := st.participant(st.Speakers[actor].ID)
	if ap == nil {
		return 0
	}
	var prior float64
	switch {
	case ap.AccountAgeDays > 0 && ap.AccountAgeDays < 7:
		prior += 0.6
		fact("account %d days old", ap.AccountAgeDays)
	case ap.AccountAgeDays > 0 && ap.AccountAgeDays < 30:
		prior += 0.3
		fact("account %d days old", ap.AccountAgeDays)
	case ap.AccountAgeDays > 365:
		prior -= 0.2
	}
	if ap.InitiatedContact != nil {
		if *ap.InitiatedContact {
			prior += 0.3
			fact("initiated contact")
		} else {
			prior -= 0.2
		}
	}
	switch {
	case ap.MinorsContacted >= 20:
		prior += 1.0
		fact("contacted %d minors this week", ap.MinorsContacted)
	case ap.MinorsContacted >= 5:
		prior += 0.5
		fact("contacted %d minors this week", ap.MinorsContacted)
	}
	return prior
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// features fills x, which must be zero, with the pair's feature vector.
// pv holds the pair's evidence after the context rules (d.evidence).
func (d *Detector) features(st *State, pv *pairView, x *[numFeatures]float64) {
	e := &pv.e
	core := 0
	// Only present families (e != 0) write: x is zero, and every family
	// test below (≥ 0.3, ≥ breadthFloor) fails on an absent one.
	for m := pv.present; m != 0; m &= m - 1 {
		f := Family(bits.TrailingZeros16(m))
		x[featE+int(f)] = e[f]
		if f != AgeProbing && f != MaturityFlattery && e[f] >= breadthFloor {
			core++
			if pv.strong[f] >= 2 {
				x[featPersist+int(f)] = 1
			}
		}
		// e[f]·e[g] for g > f sit next to each other in the vector.
		if f+1 < numFamilies {
			row := x[pairIndex[f][f+1]:][:numFamilies-f-1]
			for k := range row {
				row[k] = e[f] * e[int(f)+1+k]
			}
		}
	}
	x[fBreadth2], x[fBreadth3], x[fBreadth4] = b2f(core >= 2), b2f(core >= 3), b2f(core >= 4)
	x[fCaregiverExcluded] = b2f(pv.caregiverExcluded)
	x[fOversightMove] = b2f(pv.flags[PlatformMove]&flagOversight != 0 && e[PlatformMove] >= breadthFloor)
	as := &st.Speakers[pv.actor]
	x[fSurprise], x[fConvenience], x[fCommerce] = float64(st.Surprise), float64(st.Convenience), float64(st.Commerce)
	x[fCaregiver], x[fSafety], x[fQuote], x[fEducation] = float64(as.Caregiver), float64(as.Safety), float64(as.Quote), float64(as.Education)
	x[fEvasive], x[fAdultLife] = float64(as.Evasive), float64(as.AdultLife)
	if e[SextortionThreat] > 0 && e[PaymentDemand] > 0 {
		if _, ok := d.fastSextortion(st, pv.actor, pv.target); ok {
			x[fFastSextortion] = 1
		}
	}
	af := st.ages(pv.actor, pv.target)
	x[fAdultToMinor], x[fPeers], x[fTargetAdult] = b2f(af.adultToMinor), b2f(af.peers), b2f(af.targetAdult)
	// The target's stated minority counts whoever the actor is, so that
	// an adult's stated age can only add to it (adult_to_minor is on top
	// of target_minor, not instead of it).
	x[fAgeGap], x[fTargetMinor] = b2f(af.gap), b2f(af.targetAge > 0 && af.targetAge < 18)

	// Order: a family "comes before" another when its first evidence
	// message precedes the other's; both must be raised.
	first := &pv.first
	before := func(f, g Family) bool {
		return e[f] >= 0.3 && e[g] >= 0.3 && first[f] >= 0 && first[g] > first[f]
	}
	x[fAgeThenSecrecy] = b2f(before(AgeProbing, Secrecy))
	x[fAgeThenPlatform] = b2f(before(AgeProbing, PlatformMove))
	x[fSecrecyThenPlatform] = b2f(before(Secrecy, PlatformMove))
	x[fAgeSecrecyPlatform] = b2f(before(AgeProbing, Secrecy) && before(Secrecy, PlatformMove))
	x[fFlatteryThenPhoto] = b2f(before(MaturityFlattery, PhotoRequest))
	x[fRiskThenMeeting] = b2f(before(RiskAssessment, Meeting))
	// No order term for sextortion: the demand comes before the threat as
	// often as after it, and a learned "threat first" term missed the rest.

	// Pace: how many messages and how much time the raised grooming
	// evidence spans, and how late in the conversation it starts.
	// Sextortion has its own pace term (fast_sextortion): it runs in
	// minutes where grooming takes days.
	lo, hi := -1, -1
	var tlo, thi int64
	for m := pv.present & (1<<SextortionThreat - 1); m != 0; m &= m - 1 {
		f := bits.TrailingZeros16(m)
		if e[f] < 0.3 || first[f] < 0 {
			continue
		}
		if lo < 0 || first[f] < lo {
			lo = first[f]
		}
		hi = max(hi, pv.last[f])
		if t := pv.t[f]; t > 0 {
			if tlo == 0 || t < tlo {
				tlo = t
			}
			thi = max(thi, t)
		}
	}
	if lo >= 0 {
		x[fIndicatorSpan] = math.Log1p(float64(hi-lo)) / 3
		x[fHours] = math.Log1p(float64(thi-tlo)/3600) / 5
		if st.N > 0 {
			x[fLateStart] = float64(lo) / float64(st.N)
		}
	}
	if pv.target >= 0 {
		x[fTargetFirst] = b2f(st.Speakers[pv.target].First < as.First)
	}
	// Speaker-level terms that do not depend on any one writer's words:
	// how many messages carry strong evidence (a groomer repeats, a
	// look-alike has one odd line), how much of the talk is the actor's
	// questions, and whether the other side answers with safety advice or
	// tells of someone else (a victim's friend, a disclosure).
	x[fStrongMsgs] = math.Log1p(float64(pv.nstrong)) / 2
	if as.Messages > 0 {
		x[fQuestionShare] = float64(as.Questions) / float64(as.Messages)
	}
	if st.N > 0 {
		x[fMessageShare] = float64(as.Messages) / float64(st.N)
	}
	if pv.target >= 0 {
		ts := &st.Speakers[pv.target]
		x[fTargetSafety], x[fTargetQuote] = float64(max(ts.Safety, ts.Education)), float64(ts.Quote)
	}
	for _, ds := range st.Disclosures {
		switch ds.Speaker {
		case pv.actor:
			x[fDisclosureActor] = 1
		case pv.target:
			x[fDisclosureTarget] = 1
		}
	}
}

// Contribution is one learned feature's share of a raised score: its
// weight times its value on the logit scale, and the messages behind it.
type Contribution struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
	Logit   float64 `json:"logit"`
	// Messages is always encoded (null when none), so that a client that
	// decodes into a reused value never keeps an earlier risk's messages.
	Messages []int `json:"messages"`
}

// maxContributions bounds the explanation of a learned score.
const maxContributions = 6

// contributions lists the features that raised the pair's logit most. It
// runs for the reported pair on every message, so it keeps the top few in
// a fixed array and allocates only the result.
func (m *Model) contributions(st *State, pv *pairView, x *[numFeatures]float64) []Contribution {
	var top [maxContributions]int
	var topv [maxContributions]float64
	n := 0
	for i, v := range x {
		if v == 0 {
			// w·0 ≤ 0.05: never a contribution. Most features are zero.
			continue
		}
		c := m.w[i] * v
		if c <= 0.05 || (n == maxContributions && c <= topv[n-1]) {
			continue
		}
		k := min(n, maxContributions-1)
		for k > 0 && topv[k-1] < c {
			top[k], topv[k] = top[k-1], topv[k-1]
			k--
		}
		top[k], topv[k] = i, c
		n = min(n+1, maxContributions)
	}
	if n == 0 {
		return nil
	}
	cs := make([]Contribution, n)
	// The contributions' message lists share one block, sized by the
	// evidence they can name (an upper bound: duplicates are dropped).
	bound := 0
	for k := range cs {
		for _, f := range featureFamilyTable[top[k]] {
			for p := range st.Pairs {
				ps := &st.Pairs[p]
				if ps.Actor == pv.actor && (ps.Target == pv.target || ps.Target == -1) {
					bound += len(ps.Ev[f])
				}
			}
		}
	}
	block := make([]int, 0, bound)
	for k := range cs {
		i := top[k]
		// Field by field: cs is fresh and zero, and a whole-struct store
		// would zero it again behind write barriers.
		cs[k].Feature, cs[k].Value, cs[k].Logit = m.names[i], round3(x[i]), round3(topv[k])
		start := len(block)
		for _, f := range featureFamilyTable[i] {
			for p := range st.Pairs {
				ps := &st.Pairs[p]
				if ps.Actor != pv.actor || (ps.Target != pv.target && ps.Target != -1) {
					continue
				}
				for _, ev := range ps.Ev[f] {
					if !slices.Contains(block[start:], ev.Msg) {
						block = append(block, ev.Msg)
					}
				}
			}
		}
		if end := len(block); end > start {
			cs[k].Messages = block[start:end:end]
			slices.Sort(cs[k].Messages)
		}
	}
	return cs
}
