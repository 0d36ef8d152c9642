package grooming

import (
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lang is a language the lexicons cover. The order is part of the streaming
// State encoding (State.Lang is indexed by it).
type Lang uint8

// Supported languages.
const (
	LangEN Lang = iota
	LangES
	LangDE
	LangFR
	LangIT
	LangPT
	LangNL
	LangPL
	LangET
	numLangs
)

var langCodes = [numLangs]string{"en", "es", "de", "fr", "it", "pt", "nl", "pl", "et"}

// String returns the ISO 639-1 code.
func (l Lang) String() string {
	if l < numLangs {
		return langCodes[l]
	}
	return "und"
}

// Languages lists the supported languages' codes in a fixed order.
func Languages() []string { return append([]string(nil), langCodes[:]...) }

// UnsupportedLanguage is the Risk.Language of a conversation whose words are
// mostly outside every supported language: its score says nothing.
const UnsupportedLanguage = "unsupported"

// langStopwords are each language's commonest function words and chat
// spellings. Identification counts them per message: chat lines are too
// short for character n-gram profiles to be reliable, while a handful of
// function words names the language of even a three-word line. Words shared
// by several languages count for all of them, at a lower weight.
var langStopwords = [numLangs]string{
	LangEN: "the and you u ya to is it that of in for on me my your ur im i'm are r what wat was this with have do dont don't just so but not be can if at how like they we he she its it's gonna wanna yeah yes no about would will there get know want where when why did got pls thx been i a an his her such from up our us",
	LangES: "que de el la los las en y es un una por con para no lo le se mi tu te pero como muy esta estas eso esto porque cuando donde tienes eres hola pues tambien ya soy estoy vale bueno algo nada mas q xq pq ahora hoy mañana si sí del al sus tus casa hay",
	LangDE: "und ich du der die das ist nicht ein eine zu mit auf es sie wir was wie bist hast mir dich dein deine auch noch aber wenn schon mal ja nein bei oder kann habe bin doch heute gerade hab nur dann warum wo hat nach einem von ihn ihm ihr sich den dem im zum mein meine jemand am sind war deiner deinen wegen um uhr",
	LangFR: "je tu le la les et est un une des pas que qui de du en pour avec mais ce ça c'est moi toi ton ta tes mon ma on il elle nous vous suis es as fait bien oui non trop quoi t'es j'ai tes pk pq stp mdr au aux sur dans leur peut ne y bon peux veux",
	LangIT: "il lo la gli le di che e non sono sei un una per con mi ti ci cosa come anche ma ho hai è del della questo quello perché perche quando dove tuo tua tuoi mio mia molto ciao sì allora vuoi puoi fare cmq nn xké xche ke al alla da dal nel nella su poi ora oggi niente tutto io tu lui lei noi voi loro se ne stai fai va bene grazie ai ok",
	LangPT: "o a os as de do da dos das que e é não nao um uma para pra com você voce vc tu eu meu minha seu sua teu tua está ta tá isso isto mas muito quando onde porque tem tenho sou estou também tambem já aqui oi né no na nos em por ele ela eles gente tudo nada se me te lhe vai foi só agora hoje amanhã obrigado valeu ao",
	LangNL: "de het een en ik je jij is niet dat van op te met voor maar zijn wat hoe heb hebt ben bent nog wel als er mijn jouw jou naar dan kan wil gaan toch hoi oke wij zo aan om bij uit ze zij hij we mij me jullie hun die deze dit nu hier daar al geen niks niets nee moet kun kunt heel echt even ff dank graag leuk goed misschien waarom wanneer vandaag thuis beste mag staat heeft hebben wordt gaat komt zit oké ook zodat ja",
	LangPL: "i w nie na to jest się z że co do ja ty jak ale mi cię tak mnie jesteś masz czy już go jej może tylko bo tu też mój moja twój twoja twoje gdzie kiedy dlaczego bardzo będzie mam był była nic jestem ci pod nami mnie po za od o a dla ze przez jego ich nas mu tym ten ta te tego gdy jeszcze teraz no dobrze siebie sobie twoje twojej",
	LangET: "ja on ei see et kas ma sa mina sina me te nad mis kui aga oled olen mul sul siis ka veel nii väga seda mida kus miks kes mitte pole ole oma tema meie teie mind sind sinu minu tere jah kuidas oli ära ega ning kuid või kunagi keegi midagi ainult praegu täna homme ju siin seal selle mulle sulle talle meile nad saab tuleb peab koos pärast ikka kõik kohe mu su aitäh tore palun kust nüüd juba kell hästi okei jaa lihtsalt sest tahad tahan saan saad võib võin ütles ema isa vanemad koolis reedel laupäeval kallis lahe hea päriselt vist eks jälle mitu mitmes sinna kuhu millal kodus koju",
}

// Thresholds of identification: a message needs langMinScore points to get
// a language; a conversation with at least langMinWords words of which
// fewer than langMinKnown in a hundred are function words of any supported
// language is marked unsupported. Supported-language chat sits far above
// that share (see TestLanguageShares) and other languages far below.
const (
	langMinScore = 2
	langMinWords = 12
	langMinKnown = 17 // percent
)

// compileLangs folds the stopword lists the way message words are folded.
func compileLangs() map[string]uint16 {
	var n normalizer
	m := map[string]uint16{}
	for l, list := range langStopwords {
		for _, w := range strings.Fields(list) {
			m[foldPatternWord(&n, w)] |= 1 << l
		}
	}
	return m
}

// langCount is one message's language evidence.
type langCount struct {
	score [numLangs]uint16
	hits  [numLangs]uint16 // function words of each language
	words uint16           // letter words seen
	known uint16           // of them, function words of some supported language
}

// letterLangs maps letters that only some supported languages write to
// those languages. Letters that unsupported neighbours also write often (ä,
// ö, ü in Swedish, Finnish, Hungarian, Turkish; ç in Turkish) are left out. Folding removes them before matching, so identification
// reads them from the original text: a short Polish line of content words
// ("możesz wysłać zdjęcie") has few function words but many of these.
func letterLangs(r rune) uint16 {
	switch r {
	case 'ą', 'ę', 'ś', 'ż', 'ź', 'ć', 'ń', 'ł', 'Ą', 'Ę', 'Ś', 'Ż', 'Ź', 'Ć', 'Ń', 'Ł':
		return 1 << LangPL
	case 'õ', 'Õ':
		return 1<<LangET | 1<<LangPT
	case 'ã', 'Ã', 'ê', 'Ê', 'ô', 'Ô':
		return 1<<LangPT | 1<<LangFR
	case 'ñ', 'Ñ', '¿', '¡':
		return 1 << LangES
	case 'ß':
		return 1 << LangDE
	case 'è', 'È', 'ì', 'Ì', 'ò', 'Ò', 'ù', 'Ù', 'à', 'À':
		return 1<<LangIT | 1<<LangFR
	case 'œ', 'Œ', 'ë', 'Ë', 'î', 'Î', 'û', 'Û':
		return 1 << LangFR
	}
	return 0
}

// wordLetters returns the languages whose special letters the original
// text of a token contains, and how many extra words it stands for: scripts
// written without spaces (Han, kana, Thai) count a word per character, so
// that a Chinese chat is not too short to judge. Only non-ASCII text is
// scanned.
func wordLetters(orig string) (mask uint16, extra int) {
	ascii := true
	for i := 0; i < len(orig); i++ {
		if orig[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return 0, 0
	}
	for _, r := range orig {
		if r < 0x0E00 {
			mask |= letterLangs(r)
			continue
		}
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai) {
			extra++
		}
	}
	return mask, max(extra-1, 0)
}

// countLangs scores the normalised tokens of one message (text is its
// original). A function word unique to one language scores 2, a shared
// one 1 for each of its languages; a word with a language's special
// letters counts as evidence for it like a shared function word.
func (lx *lexicon) countLangs(n *normalizer, text string, c *langCount) {
	*c = langCount{}
	for _, t := range n.toks {
		w := n.buf[t.a:t.b]
		if t.num >= 0 || !allLetters(w) {
			continue
		}
		var letters uint16
		extra := 0
		if int(t.end) <= len(text) && t.start <= t.end {
			letters, extra = wordLetters(text[t.start:t.end])
		}
		c.words = uint16(min(int(c.words)+1+extra, 1<<16-1))
		mask, ok := lx.langTab.get(wordHash(w), w)
		if !ok {
			mask = letters
			if mask == 0 {
				continue
			}
			c.known++
			for mask != 0 {
				l := bits.TrailingZeros16(mask)
				mask &= mask - 1
				c.score[l]++
				c.hits[l]++
			}
			continue
		}
		c.known++
		pts := uint16(1)
		if bits.OnesCount16(mask) == 1 {
			pts = 2
		}
		for mask != 0 {
			l := bits.TrailingZeros16(mask)
			mask &= mask - 1
			c.score[l] += pts
			c.hits[l]++
		}
	}
}

// best returns the language with the highest score, or false when no
// language reaches min or two tie for the top.
func bestLang(score []int32, min int32) (Lang, bool) {
	best, second := -1, int32(-1)
	for l, s := range score {
		switch {
		case best < 0 || s > score[best]:
			if best >= 0 {
				second = score[best]
			}
			best = l
		case s > second:
			second = s
		}
	}
	if best < 0 || score[best] < min || score[best] == second {
		return 0, false
	}
	return Lang(best), true
}

// messageLang names the language of one message's counts.
func (c *langCount) lang() (Lang, bool) {
	var s [numLangs]int32
	for l := range s {
		s[l] = int32(c.score[l])
	}
	return bestLang(s[:], langMinScore)
}

// IdentifyLanguage returns the language code of text ("en", "pl" …), or ""
// when the text is too short or ambiguous to tell. It is what the detector
// records per message; it does not say whether a language is unsupported,
// which takes a conversation's worth of words (Risk.Language).
func (d *Detector) IdentifyLanguage(text string) string {
	s := d.scratch()
	defer d.release(s)
	t := d.tag(s, text)
	if l, ok := t.lang.lang(); ok {
		return l.String()
	}
	return ""
}

// addLang folds one message's evidence into the conversation state.
func (st *State) addLang(c *langCount) {
	if len(st.Lang) != int(numLangs) {
		st.Lang = make([]int32, numLangs)
		st.LangMsgs = make([]int32, numLangs)
	}
	for l := range c.score {
		st.Lang[l] += int32(c.hits[l])
	}
	if l, ok := c.lang(); ok {
		st.LangMsgs[l]++
	}
	st.Words += int32(c.words)
	st.KnownWords += int32(c.known)
}

// language sets r's language fields from the conversation state: the
// dominant language, every language that won a message when there are
// several (a mixed chat), or the unsupported marker.
func (st *State) language(r *Risk) {
	var top int32
	for _, h := range st.Lang {
		top = max(top, h)
	}
	if st.Words >= langMinWords && int64(top)*100 < int64(st.Words)*langMinKnown {
		r.Language = UnsupportedLanguage
		r.Unsupported = true
		return
	}
	if len(st.Lang) != int(numLangs) {
		return
	}
	if l, ok := bestLang(st.Lang, langMinScore); ok {
		r.Language = l.String()
	}
	n := 0
	for _, c := range st.LangMsgs {
		if c > 0 {
			n++
		}
	}
	if n < 2 {
		return
	}
	r.Languages = make([]string, 0, n)
	for l, c := range st.LangMsgs {
		if c > 0 {
			r.Languages = append(r.Languages, Lang(l).String())
		}
	}
}
