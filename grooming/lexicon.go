package grooming

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Family is a grooming indicator family (docs/grooming.md §2), or a context
// cue that separates an indicator from its benign twin.
type Family uint8

// Indicator families. The order is part of the streaming State encoding.
const (
	AgeProbing Family = iota
	PersonalInfo
	MaturityFlattery
	Gift
	RiskAssessment
	Secrecy
	Isolation
	PlatformMove
	PhotoRequest
	Compliance
	Meeting
	Desensitisation
	// Financial sextortion: a threat to share messages or images unless
	// paid, a payment demand in untraceable means, and a countdown.
	SextortionThreat
	PaymentDemand
	Deadline
	numFamilies
)

// Context cues: they never raise risk by themselves; they qualify the
// indicator families (who is excluded, who is in the loop, whose words).
const (
	CueCaregiver   Family = iota + 32 // a caregiver is kept in the loop
	CueSurprise                       // secrecy serves a surprise for a third party
	CueQuote                          // the words are reported, not meant
	CueEducation                      // safety advice or a warning
	CueConvenience                    // a channel move for a technical or group reason
	CueEvasiveAge                     // the speaker dodges their own age
	CueAdultLife                      // adult life markers (job, rent, own car)
	CueSafety                         // advice that increases safety ("lock the door")
	CueCommerce                       // buying or selling an object: ages, photos and meetings are logistics
	CueDisclosure                     // the speaker tells someone they are being threatened
	CueScamReport                     // a scam, spam email or news story is discussed, not lived
	cueEnd
)

var familyNames = map[Family]string{
	AgeProbing:       "age_probing",
	PersonalInfo:     "personal_info",
	MaturityFlattery: "maturity_flattery",
	Gift:             "gift",
	RiskAssessment:   "risk_assessment",
	Secrecy:          "secrecy",
	Isolation:        "isolation",
	PlatformMove:     "platform_move",
	PhotoRequest:     "photo_request",
	Compliance:       "compliance_pressure",
	Meeting:          "meeting",
	Desensitisation:  "desensitisation",
	SextortionThreat: "sextortion_threat",
	PaymentDemand:    "payment_demand",
	Deadline:         "deadline",
	CueCaregiver:     "caregiver_in_loop",
	CueSurprise:      "surprise",
	CueQuote:         "reported_speech",
	CueEducation:     "safety_education",
	CueConvenience:   "convenience_move",
	CueEvasiveAge:    "evasive_age",
	CueAdultLife:     "adult_life",
	CueSafety:        "safety_advice",
	CueCommerce:      "commerce",
	CueDisclosure:    "victim_disclosure",
	CueScamReport:    "scam_report",
}

// String returns the family's snake_case name used in JSON.
func (f Family) String() string {
	if s, ok := familyNames[f]; ok {
		return s
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// MarshalText encodes the family by name.
func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText decodes a family name.
func (f *Family) UnmarshalText(b []byte) error {
	for k, v := range familyNames {
		if v == string(b) {
			*f = k
			return nil
		}
	}
	return fmt.Errorf("unknown family %q", b)
}

// Families lists the indicator families in a fixed order.
func Families() []Family {
	out := make([]Family, numFamilies)
	for i := range out {
		out[i] = Family(i)
	}
	return out
}

func (f Family) isIndicator() bool { return f < numFamilies }

// entry flags.
const (
	// flagCaregiver marks secrecy or cover stories aimed at caregivers or
	// oversight: the strongest secrecy, and it cancels caregiver-in-loop cues.
	flagCaregiver uint8 = 1 << iota
	// flagOversight marks a move that removes oversight (hidden accounts,
	// disappearing messages), which convenience does not excuse.
	flagOversight
)

// entry is one lexicon pattern. Pattern syntax, tokens separated by spaces:
// a word; a|b alternatives; word* a prefix; @name a macro (alternatives
// listed in macros); ?x an optional element; ~N up to N arbitrary words;
// #n any number, #minor a number 5–17, #adult 18–99. Words go through the
// same folding as messages, so write them naturally ("don't", "âge").
type entry struct {
	fam   Family
	w     float32
	flags uint8
	pat   string
}

// macros are word classes shared by all languages; chat mixes languages, so
// "tu mom" and "deine parents" should still match.
var macros = map[string]string{
	"you":       "you|u|ya|yu|yuo|chu",
	"your":      "your|ur|yr|yur|yor|you|u",
	"are":       "are|r|re|ar",
	"parent":    "mom|mum|mommy|mummy|mother|dad|daddy|father|parent|parents|folks|moms|mums|dads|mother's|father's|stepmom|stepdad|stepmum|mama|papa|mamá|papá|family|grandma|grandpa|nan|gran|guardian|mami|papi|madre|padre|padres|familia|mutter|vater|eltern|mutti|vati|familie|mère|père|maman|famille|mamie|papy|genitori|mamma|papà|famiglia|tuoi|pais|mãe|mae|pai|família|ouders|moeder|vader|mam|pap|rodzic*|mama|mamie|mamy|tata|tacie|taty|rodzin*|vanem*|ema|emale|isa|isale|pere|perekon*",
	"oversight": "mom|mum|mommy|mother|dad|daddy|father|parent|parents|folks|moms|mums|dads|stepmom|stepdad|mama|papa|family|grandma|grandpa|teacher|teachers|mods|mod|moderators|admins|anyone|anybody|nobody|noone|police|cops|padres|madre|padre|mamá|papá|nadie|familia|eltern|mutter|vater|niemand|niemandem|lehrer|mama|papa|parents|mère|père|maman|personne|famille|prof|genitori|mamma|papà|nessuno|insegnante|tuoi|pais|mãe|mae|pai|ninguém|ninguem|professor|ouders|moeder|vader|mam|pap|niemand|leraar|rodzic*|mamie|mamy|tata|tacie|nikomu|nikt|nauczyciel*|vanem*|ema|emale|isa|isale|kellelegi|keegi|õpetaja*",
	"anyone":    "anyone|anybody|nobody|noone|someone|people|everyone",
	"app":       "discord|dc|snapchat|snap|sc|telegram|tg|whatsapp|whatsap|wa|signal|wickr|kik|instagram|insta|ig|skype|viber|wechat|threema|tiktok|messenger|imessage|facetime|zap|whats|wpp|snapis|discordis|instas|instagramis|whatsappis|telegramis|tiktokis|snapie|discordzie|instagramie|messengerze|whatsappie|telegramie",
	"chat":      "chat|chats|messages|message|msgs|msg|convo|convos|conversation|conversations|texts|dms|dm|history|logs|chatlog|screenshots|pics|photos|mensajes|chats|conversación|nachrichten|chatverlauf|verlauf|messages|conversation|conv|messaggi|conversazione|mensagens|conversa|conversas|berichten|gesprek|wiadomości|wiadomosci|rozmow*|sõnum*|vestlus*",
	"giftitem":  "robux|vbucks|vbuck|pavos|gems|gem|skin|skins|coins|nitro|battlepass|pass|giftcard|card|cards|cashapp|venmo|paypal|money|cash|minecoins|diamonds|gold|credits|points|items|item|rp|primogems|tokens|gemas|dinero|tarjeta|monedas|skins|geld|gutschein|guthaben|münzen|argent|carte|pièces|pieces|cadeau|regalo|geschenk|present|gift|gifts|subs|sub|membership|premium|controller|headset|headphones|airpods|console|sim|keyboard|makeup|hoodie|shoes|phone|ricarica|soldi|buono|dinheiro|recarga|pix|tegoed|cadeaukaart|pieniądze|pieniadze|doładowani*|prezent*|raha|kinkekaart*|kingitus*|robuxit|robuxe|robuxy|robuxów|robuxi",
	"photo":     "pic|pics|picture|pictures|photo|photos|selfie|selfies|foto|fotos|bild|bilder|image|images|snap|snaps|video|vid|vids|zdjęci*|fotk*|pilt*|pildi*|filmpje",
	"child":     "kid|kids|girl|girls|boy|boys|children|kinder|niños|niñas|enfants|kiddo|teens|teenagers|bambini|ragazzi|crianças|kinderen|dzieci|lapsed",
	"neg":       "dont|don't|dnt|not|never|no|doesnt|doesn't|wont|won't|shouldnt|shouldn't|cant|can't|without|nobody|noone|non|nn|não|nao|niet|nie|ei|ära",
	"tell":      "tell|telling|mention|mentioning|say|saying|show|showing|bring|involve|inform|talk|speak|involved|involving|brag|bragging|post|posting|share|sharing",
	"device":    "phone|tablet|ipad|computer|laptop|pc|screen|messages|chats|texts|dms|account|history|switch",
	"orelse":    "or|otherwise|else|ou|senão|senao|of|anders|või|voi|muidu|albo|inaczej|lub|oder|sonst|sinon|altrimenti|sino|sennò|senno",
	"audience":  "everyone|everybody|class|classmates|school|followers|friends|family|teachers|todos|todo|mundo|turma|escola|seguidores|amigos|iedereen|klas|volgers|vrienden|kõik|koik|klass|kool|jälgijad|jalgijad|sõbrad|sobrad|wszyscy|klasa|szkoła|szkola|obserwujący|obserwujacy|znajomi|alle|klasse|schule|follower|freunde|tout|tous|classe|école|ecole|abonnés|abonnes|amis|tutti|scuola|amici|clase|colegio|@parent",
	"seeverb":   "see|sees|ve|vê|ver|verá|verão|verao|vao|vão|ziet|zien|krijgt|krijgen|näeb|naeb|näevad|naevad|saavad|zobaczy|zobaczą|zobacza|dostanie|dostaną|sieht|sehen|bekommt|bekommen|voit|voient|verra|verront|vede|vedono|vedrà|vedra|vedranno|ven|verán|veran|receive|receives|recebe|recebem",
	"sent":      "sent|mandou|mandaste|enviou|enviaste|stuurde|gestuurd|saatsid|saatnud|wysłałeś|wyslales|wysłałaś|wyslalas|geschickt|envoyé|envoye|mandato|inviato|enviaste|mandaste",
	"kept":      "kept|saved|guardei|salvei|printei|bewaard|opgeslagen|salvestasin|hoidsin|zapisałem|zapisalem|zachowałem|zachowalem|gespeichert|gardé|garde|sauvegardé|sauvegarde|salvato|conservato|guardé|guarde",
	"have":      "have|got|tenho|heb|hebben|mul|mam|habe|hab|j'ai|jai|ho|tengo",
	"yourp":     "your|ur|je|jouw|su|sinu|seus|teus|tua|teu|sua|seu|twoich|twoje|twoja|deine|deiner|tes|tuoi|tus",
	"money":     "euro|eur|eurot|euros|reais|zł|zl|złotych|zlotych|pln|dollars|bucks|usd|pix|mbway|tikkie|blik|paysafecard|paysafe|btc|usdt|bitcoin",
	"telltr":    "tell|say|ütle|utle|räägi|raagi|conte|contes|conta|digas|diga|diz|fale|fales|zeg|zeggen|vertel|vertellen|mów|mow|powiedz|sag|sage|erzähl|erzahl|dis|raconte|dire|dica|dirlo|decir|cuentes|cuenta",
}

// lexiconEntries is the union of all languages. Languages are not separated
// because chat code-switches freely and the folded words rarely collide.
func lexiconEntries() [][]entry {
	return [][]entry{
		slices.Concat(lexiconEN, sextortionEN), slices.Concat(lexiconES, sextortionES, sextortionES2),
		slices.Concat(lexiconDE, sextortionDE, sextortionDE2), slices.Concat(lexiconFR, sextortionFR, sextortionFR2),
		slices.Concat(lexiconIT, sextortionIT, sextortionIT2), slices.Concat(lexiconPT, sextortionPT, sextortionPT2),
		slices.Concat(lexiconNL, lexiconNL2, sextortionNL, sextortionNL2), slices.Concat(lexiconPL, lexiconPL2, sextortionPL, sextortionPL2),
		slices.Concat(lexiconET, sextortionET, sextortionET2), slices.Concat(lexiconCo, sextortionAll, lexiconCV, lexiconGL),
	}
}

// elem is one compiled pattern element.
type elem struct {
	syms   []int32 // any of these symbols matches
	gap    int8    // >0: skip up to gap tokens
	opt    bool
	lo, hi int16 // number range when hi > 0
	// mask has bit symMask(s) set for every s in syms: a token whose
	// symbols' bits miss it cannot satisfy the element, which rejects
	// most candidates without searching syms.
	mask uint64
}

// symMask is a symbol's bit in the one-word Bloom masks of elements and
// tokens.
func symMask(s int32) uint64 { return 1 << (uint32(s) & 63) }

type pattern struct {
	fam   Family
	w     float32
	flags uint8
	elems []elem
	// co marks a co-occurrence pattern ("&a b c"): every element must occur
	// within coWindow tokens, in any order. Paraphrases reorder words; the
	// behaviour is in which words meet, not in their sequence.
	co  bool
	coQ bool // the message must also ask a question
}

// Co-occurrence patterns: at most maxCoElems elements within coWindow tokens.
const (
	coWindow   = 10
	maxCoElems = 4
)

// coRef names element e of co-occurrence pattern p.
type coRef struct{ p, e int32 }

// lexicon is the compiled, immutable matcher shared by all goroutines.
type lexicon struct {
	words      map[string]int32
	prefixes   map[string]int32
	prefixLens []int
	byFirst    [][]firstRef // symbol → patterns whose first element has it
	numFirst   []int32      // patterns starting with a number class
	coPats     []int32      // co-occurrence patterns
	coBySym    [][]coRef    // symbol → co-occurrence elements it satisfies
	patterns   []pattern
	nsyms      int32
	langs      map[string]uint16 // folded function word → languages (bit per Lang)
	// wordTab, prefixTab and langTab are words, prefixes and langs as
	// wordTables, for the per-token lookups; the maps build them.
	wordTab   wordTable[int32]
	prefixTab wordTable[int32]
	langTab   wordTable[uint16]
}

// symbols appends w's symbols to syms: its word symbol, then its prefix
// symbols from the shortest prefix up, the order the maps gave. It
// returns the appended slice and w's full hash.
func (lx *lexicon) symbols(syms []int32, w []byte) ([]int32, uint32) {
	start := len(syms)
	h := uint32(fnvOffset)
	pl := lx.prefixLens
	for j, c := range w {
		h = fnvStep(h, c)
		if len(pl) > 0 && pl[0] == j+1 {
			pl = pl[1:]
			if id, ok := lx.prefixTab.get(h, w[:j+1]); ok {
				syms = append(syms, id)
			}
		}
	}
	if id, ok := lx.wordTab.get(h, w); ok {
		syms = append(syms, 0)
		copy(syms[start+1:], syms[start:])
		syms[start] = id
	}
	return syms, h
}

// known reports whether a de-spaced run spells a lexicon word or starts
// with a lexicon prefix.
func (lx *lexicon) known(w []byte) bool {
	h := uint32(fnvOffset)
	pl := lx.prefixLens
	for j, c := range w {
		h = fnvStep(h, c)
		if len(pl) > 0 && pl[0] == j+1 {
			pl = pl[1:]
			if _, ok := lx.prefixTab.get(h, w[:j+1]); ok {
				return true
			}
		}
	}
	_, ok := lx.wordTab.get(h, w)
	return ok
}

// foldPatternWord folds one pattern word the way message words are folded.
func foldPatternWord(n *normalizer, w string) string {
	n.run(w, nil)
	var b strings.Builder
	for _, t := range n.toks {
		b.Write(n.buf[t.a:t.b])
	}
	return b.String()
}

func compileLexicon(groups [][]entry) (*lexicon, error) {
	lx := &lexicon{words: map[string]int32{}, prefixes: map[string]int32{}, langs: compileLangs()}
	var n normalizer
	sym := func(w string) (int32, error) {
		prefix := strings.HasSuffix(w, "*")
		w = strings.TrimSuffix(w, "*")
		f := foldPatternWord(&n, w)
		if f == "" {
			return 0, fmt.Errorf("empty word %q", w)
		}
		m := lx.words
		if prefix {
			m = lx.prefixes
		}
		if id, ok := m[f]; ok {
			return id, nil
		}
		id := lx.nsyms
		lx.nsyms++
		m[f] = id
		return id, nil
	}
	for _, g := range groups {
		for _, e := range g {
			p := pattern{fam: e.fam, w: e.w, flags: e.flags}
			pat := e.pat
			if strings.HasPrefix(pat, "&") {
				p.co = true
				pat = pat[1:]
			}
			for _, part := range strings.Fields(pat) {
				var el elem
				if p.co && part == "#q" {
					p.coQ = true
					continue
				}
				if p.co && (strings.HasPrefix(part, "~") || strings.HasPrefix(part, "?") || strings.HasPrefix(part, "#")) {
					return nil, fmt.Errorf("pattern %q: co-occurrence elements are words only", e.pat)
				}
				if strings.HasPrefix(part, "~") {
					k, err := strconv.Atoi(part[1:])
					if err != nil || k < 1 || k > 8 {
						return nil, fmt.Errorf("pattern %q: bad gap %q", e.pat, part)
					}
					el.gap = int8(k)
					p.elems = append(p.elems, el)
					continue
				}
				if strings.HasPrefix(part, "?") {
					el.opt = true
					part = part[1:]
				}
				switch part {
				case "#n":
					el.lo, el.hi = 0, 999
				case "#minor":
					el.lo, el.hi = 5, 17
				case "#adult":
					el.lo, el.hi = 18, 99
				default:
					var alts []string
					for _, a := range strings.Split(part, "|") {
						if strings.HasPrefix(a, "@") {
							m, ok := macros[a[1:]]
							if !ok {
								return nil, fmt.Errorf("pattern %q: unknown macro %q", e.pat, a)
							}
							alts = append(alts, strings.Split(m, "|")...)
							continue
						}
						alts = append(alts, a)
					}
					for _, a := range alts {
						id, err := sym(a)
						if err != nil {
							return nil, fmt.Errorf("pattern %q: %w", e.pat, err)
						}
						if !slices.Contains(el.syms, id) {
							el.syms = append(el.syms, id)
						}
					}
				}
				p.elems = append(p.elems, el)
			}
			for k := range p.elems {
				slices.Sort(p.elems[k].syms)
				for _, s := range p.elems[k].syms {
					p.elems[k].mask |= symMask(s)
				}
			}
			if p.co && (len(p.elems) < 2 || len(p.elems) > maxCoElems) {
				return nil, fmt.Errorf("pattern %q: co-occurrence needs 2 to %d elements", e.pat, maxCoElems)
			}
			if len(p.elems) == 0 || p.elems[0].gap > 0 || p.elems[0].opt || p.elems[len(p.elems)-1].gap > 0 {
				return nil, fmt.Errorf("pattern %q: must start with a required word and end with a word", e.pat)
			}
			lx.patterns = append(lx.patterns, p)
		}
	}
	lx.byFirst = make([][]firstRef, lx.nsyms)
	lx.coBySym = make([][]coRef, lx.nsyms)
	for i, p := range lx.patterns {
		first := p.elems[0]
		switch {
		case p.co:
			lx.coPats = append(lx.coPats, int32(i))
			for k, el := range p.elems {
				for _, s := range el.syms {
					lx.coBySym[s] = append(lx.coBySym[s], coRef{int32(i), int32(k)})
				}
			}
		case first.hi > 0:
			lx.numFirst = append(lx.numFirst, int32(i))
		default:
			for _, s := range first.syms {
				ref := firstRef{pat: int32(i), one: len(p.elems) == 1}
				if len(p.elems) > 1 {
					if e := &p.elems[1]; e.gap == 0 && !e.opt && e.hi == 0 {
						ref.next = e.mask
					}
				}
				lx.byFirst[s] = append(lx.byFirst[s], ref)
			}
		}
	}
	seen := map[int]bool{}
	for p := range lx.prefixes {
		seen[len(p)] = true
	}
	for l := range seen {
		lx.prefixLens = append(lx.prefixLens, l)
	}
	sort.Ints(lx.prefixLens)
	lx.wordTab = newWordTable(lx.words)
	lx.prefixTab = newWordTable(lx.prefixes)
	lx.langTab = newWordTable(lx.langs)
	return lx, nil
}

// firstRef is a pattern started by a symbol, with what the matcher needs
// to reject it without reading the pattern: most candidates fail on their
// second word.
type firstRef struct {
	pat int32
	// one: the pattern is this single element, a match as it stands.
	one bool
	// next is the second element's mask when that element is a plain
	// required word (no gap, not optional, not a number): the token after
	// the first must have one of its bits. 0 means no shortcut.
	next uint64
}

// hit is one pattern match over tokens [a, b).
type hit struct {
	pat  int32
	a, b int32
}

// matcher holds per-call scratch for matching one message.
type matcher struct {
	symOff []int32 // token i's symbols are syms[symOff[i]:symOff[i+1]]
	syms   []int32
	mask   []uint64 // token i's symbols' symMask bits
	hits   []hit
	coLo   []int32 // per co-pattern element: first and last token seen
	coHi   []int32
	// coSeen[p] == coGen marks co-pattern p as touched by this message;
	// coTouched lists those patterns.
	coSeen    []uint32
	coGen     uint32
	coTouched []int32
}

func (lx *lexicon) match(m *matcher, n *normalizer, question bool) {
	m.hits = m.hits[:0]
	m.syms = m.syms[:0]
	m.symOff = append(m.symOff[:0], 0)
	m.mask = m.mask[:0]
	for _, t := range n.toks {
		m.syms, _ = lx.symbols(m.syms, n.buf[t.a:t.b])
		var mask uint64
		for _, s := range m.syms[m.symOff[len(m.symOff)-1]:] {
			mask |= symMask(s)
		}
		m.mask = append(m.mask, mask)
		m.symOff = append(m.symOff, int32(len(m.syms)))
	}
	ntok := len(n.toks)
	for i := 0; i < ntok; i++ {
		for _, s := range m.syms[m.symOff[i]:m.symOff[i+1]] {
			for _, ref := range lx.byFirst[s] {
				if ref.one {
					m.hits = append(m.hits, hit{pat: ref.pat, a: int32(i), b: int32(i + 1)})
					continue
				}
				if ref.next != 0 && (i+1 >= ntok || m.mask[i+1]&ref.next == 0) {
					continue
				}
				if end, ok := lx.matchAt(m, n, ref.pat, 1, i+1); ok {
					m.hits = append(m.hits, hit{pat: ref.pat, a: int32(i), b: int32(end)})
				}
			}
		}
		if n.toks[i].num >= 0 {
			for _, pi := range lx.numFirst {
				if lx.elemOK(m, n, &lx.patterns[pi].elems[0], i) {
					if end, ok := lx.matchAt(m, n, pi, 1, i+1); ok {
						m.hits = append(m.hits, hit{pat: pi, a: int32(i), b: int32(end)})
					}
				}
			}
		}
	}
	lx.matchCo(m, ntok, question)
}

// matchCo finds co-occurrence patterns. For each element it keeps the
// first and last token that satisfied it; a pattern matches when some
// choice of those positions fits in coWindow tokens. Checking only the
// extremes can miss a fit in long messages, which costs a little recall
// and never invents a match.
func (lx *lexicon) matchCo(m *matcher, ntok int, question bool) {
	if len(lx.coPats) == 0 {
		return
	}
	size := len(lx.patterns) * maxCoElems
	if cap(m.coLo) < size {
		m.coLo = make([]int32, size)
		m.coHi = make([]int32, size)
	}
	m.coLo, m.coHi = m.coLo[:size], m.coHi[:size]
	if len(m.coSeen) != len(lx.patterns) {
		m.coSeen = make([]uint32, len(lx.patterns))
		m.coGen = 0
	}
	// Only patterns one of whose words occurs can match: a generation
	// number marks the ones touched by this message, whose first and last
	// positions are reset on first touch, instead of resetting and
	// checking every co-pattern on every message.
	m.coGen++
	if m.coGen == 0 {
		clear(m.coSeen)
		m.coGen = 1
	}
	m.coTouched = m.coTouched[:0]
	for i := 0; i < ntok; i++ {
		for _, s := range m.syms[m.symOff[i]:m.symOff[i+1]] {
			for _, r := range lx.coBySym[s] {
				if m.coSeen[r.p] != m.coGen {
					m.coSeen[r.p] = m.coGen
					m.coTouched = append(m.coTouched, r.p)
					base := int(r.p) * maxCoElems
					for k := range maxCoElems {
						m.coLo[base+k] = -1
					}
				}
				j := int(r.p)*maxCoElems + int(r.e)
				if m.coLo[j] < 0 {
					m.coLo[j] = int32(i)
				}
				m.coHi[j] = int32(i)
			}
		}
	}
	// Hits come in pattern order, as when every co-pattern was checked.
	slices.Sort(m.coTouched)
	for _, pi := range m.coTouched {
		p := &lx.patterns[pi]
		if p.coQ && !question {
			continue
		}
		base := int(pi) * maxCoElems
		ok := true
		for k := range p.elems {
			if m.coLo[base+k] < 0 {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		// Try the window anchored at each element's last position, taking
		// for every other element its occurrence nearest to the anchor.
		for k := range p.elems {
			anchor := m.coHi[base+k]
			lo, hi := anchor, anchor
			fits := true
			for o := range p.elems {
				if o == k {
					continue
				}
				a, b := m.coLo[base+o], m.coHi[base+o]
				pos := b
				if abs32(a-anchor) < abs32(b-anchor) {
					pos = a
				}
				lo, hi = min(lo, pos), max(hi, pos)
				if hi-lo > coWindow {
					fits = false
					break
				}
			}
			if fits {
				m.hits = append(m.hits, hit{pat: pi, a: lo, b: hi + 1})
				break
			}
		}
	}
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

func (lx *lexicon) elemOK(m *matcher, n *normalizer, e *elem, i int) bool {
	if e.hi > 0 {
		v := n.toks[i].num
		return v >= e.lo && v <= e.hi
	}
	if m.mask[i]&e.mask == 0 {
		return false
	}
	for _, s := range m.syms[m.symOff[i]:m.symOff[i+1]] {
		if len(e.syms) <= 8 {
			for _, t := range e.syms {
				if s == t {
					return true
				}
			}
			continue
		}
		// Macro alternations are long and sorted at compile time.
		if _, ok := slices.BinarySearch(e.syms, s); ok {
			return true
		}
	}
	return false
}

// matchAt matches elements k… of pattern pi from token pos and returns the
// end token. Patterns are short and gaps small, so backtracking is cheap.
func (lx *lexicon) matchAt(m *matcher, n *normalizer, pi int32, k, pos int) (int, bool) {
	p := &lx.patterns[pi]
	if k == len(p.elems) {
		return pos, true
	}
	e := &p.elems[k]
	ntok := len(n.toks)
	if e.gap > 0 {
		for g := 0; g <= int(e.gap) && pos+g <= ntok; g++ {
			if end, ok := lx.matchAt(m, n, pi, k+1, pos+g); ok {
				return end, true
			}
		}
		return 0, false
	}
	if pos < ntok && lx.elemOK(m, n, e, pos) {
		if end, ok := lx.matchAt(m, n, pi, k+1, pos+1); ok {
			return end, true
		}
	}
	if e.opt {
		return lx.matchAt(m, n, pi, k+1, pos)
	}
	return 0, false
}
