package grooming

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Token is one word of the matching view of a message. The matching view is
// never shown to anyone: reviewers see the original text, and Start and End
// point into it so that a UI can highlight what matched.
type Token struct {
	// Text is the folded form used for matching: compatibility-decomposed,
	// lower-cased, without marks or format characters, confusables and
	// leetspeak mapped to Latin letters, repeated letters collapsed.
	Text string
	// Start and End are byte offsets into the original text.
	Start, End int
}

// Normalize returns the matching tokens of text. It is exported for
// debugging and for other packages that want the same folding; the detector
// uses an allocation-free variant internally.
func Normalize(text string) []Token {
	var n normalizer
	n.run(text, nil)
	out := make([]Token, len(n.toks))
	for i, t := range n.toks {
		out[i] = Token{Text: string(n.buf[t.a:t.b]), Start: int(t.start), End: int(t.end)}
	}
	return out
}

// ntok is a token inside normalizer.buf.
type ntok struct {
	a, b       int32 // folded text is buf[a:b]
	start, end int32 // original byte range
	num        int16 // value when the token is a plain number below 1000, else -1
	single     bool  // one character long before folding, candidate for de-spacing
	sepBefore  int8  // separator characters between the previous token and this one (capped)
	sepChar    byte  // the separator character when sepBefore == 1
}

// normalizer holds scratch space so that tagging a message allocates nothing
// in the common case. It is not safe for concurrent use.
type normalizer struct {
	buf  []byte
	toks []ntok
	tmp  []byte
	// spare is shape's output buffer: a token that splits into a number
	// and a unit adds a token, so shape cannot write into the slice it
	// reads.
	spare []ntok
}

// vocabulary tells the de-spacer which joined letter runs are worth joining;
// joining every run would damage ordinary text like "i m ok".
type vocabulary interface {
	known(word []byte) bool
}

// maxRunJoin bounds the number of single letters the de-spacer joins.
const maxRunJoin = 24

func (n *normalizer) reset() {
	n.buf = n.buf[:0]
	n.toks = n.toks[:0]
}

// run tokenises text into n.toks. The pipeline is per rune: drop format and
// zero-width characters and combining marks, apply the compatibility
// decomposition (which folds fullwidth and "fancy font" letters), lower-case,
// map confusables, then split into words. Leetspeak and repeat collapsing
// are applied per word because they depend on the word's shape, and
// de-spacing joins runs of single letters that spell a known word.
func (n *normalizer) run(text string, vocab vocabulary) {
	n.reset()
	inTok := false
	var cur ntok
	sep := 0
	var sepc byte
	chars := 0
	startTok := func(pos int) {
		inTok = true
		cur = ntok{a: int32(len(n.buf)), start: int32(pos), num: -1}
		if sep > 127 {
			sep = 127
		}
		cur.sepBefore = int8(sep)
		cur.sepChar = sepc
		chars = 0
	}
	endTok := func() {
		if !inTok {
			return
		}
		inTok = false
		cur.b = int32(len(n.buf))
		if cur.b > cur.a {
			cur.single = chars == 1
			n.toks = append(n.toks, cur)
		}
		sep = 0
		sepc = 0
	}
	addSep := func(c byte) {
		endTok()
		sep++
		sepc = c
	}
	var rb [utf8.UTFMax]byte
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
				fallthrough
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
				if !inTok {
					startTok(i)
				}
				n.buf = append(n.buf, c)
				chars++
				cur.end = int32(i + 1)
			case c == '\'':
				// Apostrophes inside words vanish so that "don't" and "dont"
				// meet; elsewhere they separate.
				if !(inTok && i+1 < len(text) && isWordByte(text[i+1])) {
					addSep(c)
				}
			case c == '@' || c == '$':
				// Leet symbols count as letters only when a letter follows
				// ("sn@p", "$nap"), so that "@name" and "$20" stay apart.
				if i+1 < len(text) && isLetterByte(text[i+1]) {
					if !inTok {
						startTok(i)
					}
					n.buf = append(n.buf, c)
					chars++
					cur.end = int32(i + 1)
				} else {
					addSep(c)
				}
			default:
				addSep(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		pos := i
		i += size
		if r == utf8.RuneError && size == 1 {
			addSep(' ')
			continue
		}
		if isInvisible(r) {
			// Zero-width and format characters hide words ("wic\u200bkr"):
			// drop them without breaking the word.
			continue
		}
		if name, ok := emojiWords[r]; ok {
			endTok()
			startTok(pos)
			n.buf = append(n.buf, name...)
			chars = 2
			cur.end = int32(i)
			endTok()
			continue
		}
		// Compatibility decomposition of this one rune.
		k := utf8.EncodeRune(rb[:], r)
		dec := norm.NFKD.Properties(rb[:k]).Decomposition()
		if dec == nil {
			dec = rb[:k]
		}
		for j := 0; j < len(dec); {
			r2, s2 := utf8.DecodeRune(dec[j:])
			j += s2
			if unicode.Is(unicode.Mn, r2) || isInvisible(r2) {
				continue
			}
			r2 = foldRune(r2)
			switch {
			case r2 == 'ß':
				if !inTok {
					startTok(pos)
				}
				n.buf = append(n.buf, 's', 's')
				chars++
				cur.end = int32(i)
			case r2 < utf8.RuneSelf && (isLetterByte(byte(r2)) || (r2 >= '0' && r2 <= '9')):
				if !inTok {
					startTok(pos)
				}
				n.buf = append(n.buf, byte(r2))
				chars++
				cur.end = int32(i)
			case unicode.IsLetter(r2) || unicode.IsDigit(r2):
				if !inTok {
					startTok(pos)
				}
				n.buf = utf8.AppendRune(n.buf, r2)
				chars++
				cur.end = int32(i)
			case r2 < utf8.RuneSelf:
				addSep(byte(r2))
			default:
				addSep(' ')
			}
		}
	}
	endTok()
	n.despace(vocab)
	n.shape()
}

func isWordByte(c byte) bool {
	return isLetterByte(c) || (c >= '0' && c <= '9') || c >= utf8.RuneSelf
}

func isLetterByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isInvisible reports characters that render as nothing: format controls
// (zero-width space and joiners, bidi marks, soft hyphen), variation
// selectors and the Hangul fillers that evade filters.
func isInvisible(r rune) bool {
	switch {
	case r == '\u00ad', r == '\u034f', r == '\u115f', r == '\u1160', r == '\u3164', r == '\uffa0':
		return true
	case r >= '\ufe00' && r <= '\ufe0f', r >= 0xe0100 && r <= 0xe01ef:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// despace joins runs of single characters separated by one consistent
// separator ("d i s c o r d", "t.e.l.e.g.r.a.m") when the joined word is in
// the vocabulary. Benign text spaces letters too, so unknown runs stay.
func (n *normalizer) despace(vocab vocabulary) {
	if vocab == nil || len(n.toks) < 3 {
		return
	}
	out := n.toks[:0]
	toks := n.toks
	for i := 0; i < len(toks); {
		if !toks[i].single {
			out = append(out, toks[i])
			i++
			continue
		}
		j := i + 1
		for j < len(toks) && j-i < maxRunJoin && toks[j].single && toks[j].sepBefore == 1 && (j == i+1 || toks[j].sepChar == toks[i+1].sepChar) {
			j++
		}
		if j-i >= 3 {
			n.tmp = n.tmp[:0]
			for k := i; k < j; k++ {
				n.tmp = append(n.tmp, n.buf[toks[k].a:toks[k].b]...)
			}
			n.tmp = foldWord(n.tmp, true)
			if vocab.known(n.tmp) {
				// The joined letters are contiguous in buf: single-letter
				// tokens were appended back to back.
				joined := toks[i]
				joined.b = toks[j-1].b
				joined.end = toks[j-1].end
				joined.single = false
				out = append(out, joined)
				i = j
				continue
			}
		}
		out = append(out, toks[i])
		i++
	}
	n.toks = out
}

// shape applies the per-word folds (leetspeak, repeats) and parses numbers.
// Words are rewritten in place; folding never makes a word longer.
func (n *normalizer) shape() {
	out := n.spare[:0]
	for _, t := range n.toks {
		w := n.buf[t.a:t.b]
		digits, letters := 0, 0
		for _, c := range w {
			if c >= '0' && c <= '9' {
				digits++
			} else {
				letters++
			}
		}
		switch {
		case letters == 0:
			// A number: keep it, and keep its value for age rules.
			if len(w) <= 3 {
				v := 0
				for _, c := range w {
					v = v*10 + int(c-'0')
				}
				t.num = int16(v)
			}
			out = append(out, t)
			continue
		case digits > 0:
			// "13yo", "15m", "2nd" are a number and a unit, not leetspeak.
			if k := leadingDigits(w); k > 0 && k < len(w) && allLetters(w[k:]) && (k >= 2 || numberSuffix(w[k:])) {
				num := t
				num.b = num.a + int32(k)
				num.single = false
				v := 0
				for _, c := range w[:k] {
					if len(w[:k]) <= 3 {
						v = v*10 + int(c-'0')
					}
				}
				if k <= 3 {
					num.num = int16(v)
				}
				// The original span cannot be split byte-exactly when
				// folding changed lengths; both halves keep the whole span.
				out = append(out, num)
				t.a += int32(k)
				t.num = -1
				w = n.buf[t.a:t.b]
			}
		}
		f := foldWord(w, true)
		t.b = t.a + int32(len(f))
		if t.b > t.a {
			out = append(out, t)
		}
	}
	n.spare = n.toks
	n.toks = out
}

func leadingDigits(w []byte) int {
	k := 0
	for k < len(w) && w[k] >= '0' && w[k] <= '9' {
		k++
	}
	return k
}

func allLetters(w []byte) bool {
	for _, c := range w {
		if c >= '0' && c <= '9' {
			return false
		}
	}
	return true
}

func numberSuffix(w []byte) bool {
	switch string(w) {
	case "yo", "y", "yr", "yrs", "st", "nd", "rd", "th", "m", "f", "am", "pm", "h", "k", "ans", "an", "j", "e", "eme", "er", "o", "a":
		return true
	}
	return false
}

// foldWord maps leetspeak symbols to letters (only in words that also have
// letters, so plain numbers survive) and collapses every run of a repeated
// letter to one ("sooo" and "so", "keep" and "kep" meet; the lexicon goes
// through the same fold). It works in place and returns the shortened slice.
func foldWord(w []byte, leet bool) []byte {
	hasLetter := false
	for _, c := range w {
		if c >= 'a' && c <= 'z' || c >= utf8.RuneSelf {
			hasLetter = true
			break
		}
	}
	o := 0
	var prev byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		if leet && hasLetter {
			switch c {
			case '0':
				c = 'o'
			case '1':
				c = 'i'
			case '3':
				c = 'e'
			case '4', '@':
				c = 'a'
			case '5', '$':
				c = 's'
			case '7':
				c = 't'
			}
		}
		if c == prev && c < utf8.RuneSelf && !(c >= '0' && c <= '9') {
			continue
		}
		prev = c
		w[o] = c
		o++
	}
	return w[:o]
}

// foldRune lower-cases r and maps common look-alikes from other scripts to
// the Latin letter they imitate (a compact subset of the UTS #39 confusables
// data covering Cyrillic, Greek, small capitals and a few symbols).
func foldRune(r rune) rune {
	r = unicode.ToLower(r)
	if m, ok := confusables[r]; ok {
		return m
	}
	return r
}

// confusables maps lower-case look-alike letters to Latin. Only letters that
// are visually near-identical in common fonts are listed, because the point
// is to undo deliberate disguise, not to transliterate.
var confusables = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'ё': 'e', 'һ': 'h', 'н': 'h', 'і': 'i', 'ї': 'i', 'ј': 'j',
	'к': 'k', 'ӏ': 'l', 'м': 'm', 'п': 'n', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'г': 'r', 'ѕ': 's', 'т': 't',
	'ц': 'u', 'ѵ': 'v', 'ԝ': 'w', 'х': 'x', 'у': 'y', 'ь': 'b', 'з': '3', 'ч': '4', 'ә': 'e', 'ɡ': 'g',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'γ': 'y', 'ω': 'w', 'ς': 's', 'σ': 'o', 'μ': 'u', 'δ': 'd', 'λ': 'l',
	// Small capitals and IPA letters used as "fancy fonts"
	'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ꜰ': 'f', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j',
	'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u',
	'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z', 'ı': 'i', 'ɑ': 'a', 'ɩ': 'i', 'ɵ': 'o', 'ø': 'o', 'đ': 'd',
	'ł': 'l', 'æ': 'a', 'œ': 'o', 'þ': 'p',
}

// emojiWords turns emoji that carry a grooming family into words the lexicon
// can name. Other emoji separate words.
var emojiWords = map[rune]string{
	'🤫': "emojishush", '🤐': "emojishush", '🙊': "emojishush",
	'🎁': "emojigift", '💎': "emojigift", '💰': "emojigift", '💸': "emojigift", '💵': "emojigift",
	'📸': "emojicamera", '📷': "emojicamera", '🤳': "emojicamera",
	'📍': "emojipin", '🏠': "emojihome",
	'🎂': "emojicake", '🎉': "emojiparty", '🥳': "emojiparty", '🎈': "emojiparty",
}
