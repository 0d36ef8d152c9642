package textmatch

import (
	"unicode"
	"unicode/utf8"

	"github.com/vigil-oss/vigil/internal/verror"
	"golang.org/x/text/unicode/norm"
)

// maxNormLen bounds the normalised text: compatibility decomposition can
// expand a few characters many times over (U+FDFA becomes 18 letters).
const maxNormLen = 4 * MaxTextLen

// normText is text normalised for keyword matching, with the way back to the
// original: for every byte of b, where its source starts and ends in the
// original text, and how many equal letters were collapsed into it.
type normText struct {
	b     []byte
	start []int32
	end   []int32
	run   []uint8
}

// tok is one rune on its way to the normalised text, with the span of the
// original text it came from. A rune of -1 has been removed.
type tok struct {
	r          rune
	start, end int32
}

// Normalize returns text normalised the way KeywordList matches it, and for
// every byte of norm the offset in text where the character it came from
// starts; offsets has one more entry, len(text), so that offsets[len(norm)]
// is defined. The normalisation, in order:
//
//   - compatibility decomposition (NFKD: full-width, ligatures, circled and
//     styled letters become plain ones) with combining marks (accents)
//     removed;
//   - zero-width and other format characters and invisible fillers removed,
//     all white space made a plain space;
//   - Cyrillic and Greek letters that look like Latin ones made Latin, by
//     their look in each case (Cyrillic "Н" is "h", Greek "ν" is "v");
//   - case folded;
//   - letters written one by one with separators ("t e l e g r a m",
//     "t.e.l.e.g.r.a.m") joined;
//   - leetspeak inside words undone (0→o, 3→e, 4→a, 5→s, 7→t, @→a, $→s);
//     '1', '!' and '|', which stand for both i and l, become '1' and keyword
//     lists match it as either;
//   - runs of the same character collapsed to one.
func Normalize(text string) (norm string, offsets []int, err error) {
	nt, err := normalize(text)
	if err != nil {
		return "", nil, err
	}
	offsets = make([]int, len(nt.b)+1)
	for i, s := range nt.start {
		offsets[i] = int(s)
	}
	offsets[len(nt.b)] = len(text)
	return string(nt.b), offsets, nil
}

func normalize(text string) (*normText, error) {
	return normalizeInto(text, &scratch{})
}

// scratch holds the buffers of one normalisation so that a KeywordList can
// reuse them across calls instead of allocating some 25 bytes per input
// byte each time.
type scratch struct {
	toks []tok
	nt   normText
}

// maxPooledLen is the largest text whose buffers are kept for reuse; one
// huge text should not pin its buffers for good.
const maxPooledLen = 64 << 10

// normalizeInto normalises text into sc's buffers; the result is valid
// until sc is used again.
func normalizeInto(text string, sc *scratch) (*normText, error) {
	if len(text) > MaxTextLen {
		return nil, verror.Errorf(verror.ETOOLARGE, "text longer than %d bytes", MaxTextLen)
	}
	if cap(sc.toks) < len(text) {
		sc.toks = make([]tok, 0, len(text))
	}
	toks := decompose(text, sc.toks[:0])
	sc.toks = toks
	if joinSpacedLetters(toks) {
		toks = dropRemoved(toks)
	}
	undoLeet(toks)
	if err := collapse(toks, &sc.nt); err != nil {
		return nil, err
	}
	return &sc.nt, nil
}

// decompose turns text into folded, de-confused runes, one segment of
// combining characters at a time so each rune knows its source span.
func decompose(text string, toks []tok) []tok {
	var buf []byte
	for i := 0; i < len(text); {
		c := text[i]
		// ASCII followed by ASCII is its own segment and its own NFKD form;
		// skipping the normaliser for it keeps plain text fast.
		if c < utf8.RuneSelf && (i+1 == len(text) || text[i+1] < utf8.RuneSelf) {
			r := rune(asciiFold[c])
			toks = append(toks, tok{r, int32(i), int32(i + 1)})
			i++
			continue
		}
		n := norm.NFKD.NextBoundaryInString(text[i:], true)
		if n <= 0 {
			n = 1
		}
		buf = norm.NFKD.AppendString(buf[:0], text[i:i+n])
		for k := 0; k < len(buf); {
			r, size := utf8.DecodeRune(buf[k:])
			toks = appendFolded(toks, r, int32(i), int32(i+n))
			k += size
		}
		i += n
	}
	return toks
}

func appendFolded(toks []tok, r rune, start, end int32) []tok {
	if r < utf8.RuneSelf {
		return append(toks, tok{rune(asciiFold[r]), start, end})
	}
	if r == utf8.RuneError || unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) || unicode.Is(unicode.Cc, r) {
		return append(toks, tok{' ', start, end})
	}
	if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) || invisible[r] {
		return toks
	}
	if l, ok := confusables[r]; ok {
		r = l
	}
	r = unicode.ToLower(unicode.ToUpper(r))
	if l, ok := confusables[r]; ok {
		r = l
	}
	if r == 'ß' {
		return append(toks, tok{'s', start, end}, tok{'s', start, end})
	}
	return append(toks, tok{r, start, end})
}

// invisible holds characters that render as nothing but are not in
// category Cf, so removing format characters alone misses them.
var invisible = map[rune]bool{
	'\u115F': true, '\u1160': true, '\u3164': true, '\uFFA0': true, // Hangul fillers
	'\u2800': true, // braille blank
}

// confusables maps Cyrillic and Greek letters to the Latin letters they look
// like. Upper and lower case are mapped separately, before case folding,
// because they look like different Latin letters (Greek "Η" is H, "η" is n).
var confusables = map[rune]rune{
	// Cyrillic
	'А': 'a', 'а': 'a', 'В': 'b', 'в': 'b', 'Е': 'e', 'е': 'e', 'К': 'k', 'к': 'k',
	'М': 'm', 'м': 'm', 'Н': 'h', 'н': 'h', 'О': 'o', 'о': 'o', 'Р': 'p', 'р': 'p',
	'С': 'c', 'с': 'c', 'Т': 't', 'т': 't', 'У': 'y', 'у': 'y', 'Х': 'x', 'х': 'x',
	'Ѕ': 's', 'ѕ': 's', 'І': 'i', 'і': 'i', 'Ј': 'j', 'ј': 'j', 'Ԛ': 'q', 'ԛ': 'q',
	'Ԝ': 'w', 'ԝ': 'w', 'Ү': 'y', 'ү': 'y', 'Һ': 'h', 'һ': 'h', 'Ь': 'b', 'ь': 'b',
	'ԁ': 'd', 'Ӏ': 'l', 'ӏ': 'l', 'Ԍ': 'g', 'ԍ': 'g', 'Ɡ': 'g', 'ɡ': 'g', 'Ꙇ': 'i',
	// Greek
	'Α': 'a', 'α': 'a', 'Β': 'b', 'β': 'b', 'Ε': 'e', 'ε': 'e', 'Ζ': 'z', 'ζ': 'z',
	'Η': 'h', 'η': 'n', 'Ι': 'i', 'ι': 'i', 'Κ': 'k', 'κ': 'k', 'Μ': 'm', 'μ': 'u',
	'Ν': 'n', 'ν': 'v', 'Ο': 'o', 'ο': 'o', 'Ρ': 'p', 'ρ': 'p', 'Τ': 't', 'τ': 't',
	'Υ': 'y', 'υ': 'u', 'Χ': 'x', 'χ': 'x', 'ω': 'w', 'γ': 'y', 'Ϲ': 'c', 'ϲ': 'c',
	// Latin look-alikes outside ASCII that NFKD leaves alone
	'ı': 'i', 'ȷ': 'j', 'ł': 'l', 'ø': 'o', 'đ': 'd', 'ħ': 'h',
}

// ASCII character classes, looked up rather than computed because the
// normaliser asks for every character several times.
const (
	classWord   = 1 << iota // letter or digit
	classLeet               // symbol that stands for a letter inside a word
	classSpacer             // separator between spaced-out letters
)

// asciiFold lower-cases ASCII letters and makes control characters spaces.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := range utf8.RuneSelf {
		switch {
		case 'A' <= c && c <= 'Z':
			t[c] = byte(c + 'a' - 'A')
		case c < ' ' || c == 0x7f:
			t[c] = ' '
		default:
			t[c] = byte(c)
		}
	}
	return t
}()

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range utf8.RuneSelf {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			t[c] |= classWord
		}
	}
	for _, c := range "@$!|" {
		t[c] |= classLeet
	}
	for _, c := range " .-_*~+/" {
		t[c] |= classSpacer
	}
	return t
}()

// isWordRune and wordish keep the non-ASCII case out of line so that the
// ASCII case inlines: they run several times per character.
func isWordRune(r rune) bool {
	if uint32(r) < utf8.RuneSelf {
		return asciiClass[r]&classWord != 0
	}
	return r >= 0 && isLetterOrDigit(r)
}

func isLetterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// isLeetSymbol reports whether r stands for a letter inside a word.
func isLeetSymbol(r rune) bool {
	return r >= 0 && r < utf8.RuneSelf && asciiClass[r]&classLeet != 0
}

func wordish(r rune) bool {
	if uint32(r) < utf8.RuneSelf {
		return asciiClass[r]&(classWord|classLeet) != 0
	}
	return r >= 0 && isLetterOrDigit(r)
}

func isSpacer(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0 && asciiClass[r]&classSpacer != 0
	}
	return r == '·'
}

// joinSpacedLetters removes the separators in runs of at least three single
// characters such as "t e l e g r a m" or "t-e-l-e-g-r-a-m", marking them
// with rune -1, and reports whether it removed any. Two letters at least
// must be in the run, so a list of numbers ("1 2 3") is left alone.
func joinSpacedLetters(toks []tok) (removed bool) {
	n := len(toks)
	// single reports whether toks[k], just after a non-word token, is a
	// word of one character.
	single := func(k int) bool {
		return k < n && wordish(toks[k].r) && (k+1 == n || !wordish(toks[k+1].r))
	}
	for k := 0; k < n; {
		if !wordish(toks[k].r) {
			k++
			continue
		}
		if k+1 < n && wordish(toks[k+1].r) {
			// A longer word: skip to its end.
			for k++; k < n && wordish(toks[k].r); k++ {
			}
			continue
		}
		first, last, count, letters := k, k, 1, 0
		if unicode.IsLetter(toks[k].r) {
			letters++
		}
		for {
			m := last + 1
			for m < n && m-last-1 < 3 && isSpacer(toks[m].r) {
				m++
			}
			if m == last+1 || !single(m) {
				break
			}
			last = m
			count++
			if unicode.IsLetter(toks[m].r) {
				letters++
			}
		}
		if count >= 3 && letters >= 2 {
			removed = true
			for s := first + 1; s < last; s++ {
				if !wordish(toks[s].r) {
					toks[s].r = -1
				}
			}
		}
		k = last + 1
	}
	return removed
}

func dropRemoved(toks []tok) []tok {
	out := toks[:0]
	for _, t := range toks {
		if t.r >= 0 {
			out = append(out, t)
		}
	}
	return out
}

// undoLeet rewrites leetspeak in words that have at least one letter. Digits
// are rewritten anywhere in such a word; symbols only inside it, so that
// "@name" and "hello!" keep their punctuation and word boundaries.
func undoLeet(toks []tok) {
	for a := 0; a < len(toks); {
		if !wordish(toks[a].r) {
			a++
			continue
		}
		b, letter, leet := a, false, false
		for ; b < len(toks); b++ {
			r := toks[b].r
			if r < utf8.RuneSelf {
				c := asciiClass[r]
				if c&(classWord|classLeet) == 0 {
					break
				}
				letter = letter || 'a' <= r && r <= 'z'
				leet = leet || c&classLeet != 0 || '0' <= r && r <= '9'
			} else if unicode.IsLetter(r) {
				letter = true
			} else if !unicode.IsDigit(r) {
				break
			}
		}
		if letter && leet {
			rewriteLeet(toks[a:b])
		}
		a = b
	}
}

// rewriteLeet rewrites one word. Symbols before the first or after the last
// letter or digit are punctuation ("@name", "hello!!"), not letters.
func rewriteLeet(word []tok) {
	first, last := 0, len(word)-1
	for isLeetSymbol(word[first].r) {
		first++
	}
	for isLeetSymbol(word[last].r) {
		last--
	}
	for k := range word {
		r := word[k].r
		if isLeetSymbol(r) && (k < first || k > last) {
			continue
		}
		switch r {
		case '0':
			r = 'o'
		case '3':
			r = 'e'
		case '4', '@':
			r = 'a'
		case '5', '$':
			r = 's'
		case '7':
			r = 't'
		case '!', '|':
			r = '1'
		}
		word[k].r = r
	}
}

// collapse writes the runes out as UTF-8, folding runs of the same rune into
// one. For letters and digits the run length is kept, so that a keyword with
// a double letter does not match a word with a single one.
func collapse(toks []tok, nt *normText) error {
	// Locals rather than fields of a heap struct: appending to fields costs
	// a write barrier per byte while the collector runs.
	b, start, end, run := nt.b[:0], nt.start[:0], nt.end[:0], nt.run[:0]
	if cap(b) < len(toks) {
		b = make([]byte, 0, len(toks))
		start = make([]int32, 0, len(toks))
		end = make([]int32, 0, len(toks))
		run = make([]uint8, 0, len(toks))
	}
	prev, prevLen := rune(-1), 0
	for _, t := range toks {
		if t.r == prev {
			n := len(b)
			word := isWordRune(t.r)
			for k := n - prevLen; k < n; k++ {
				end[k] = t.end
				if word && run[k] < 255 {
					run[k]++
				}
			}
			continue
		}
		n := len(b)
		if t.r < utf8.RuneSelf {
			b = append(b, byte(t.r))
		} else {
			b = utf8.AppendRune(b, t.r)
		}
		prev, prevLen = t.r, len(b)-n
		for k := n; k < len(b); k++ {
			start = append(start, t.start)
			end = append(end, t.end)
			run = append(run, 1)
		}
		if len(b) > maxNormLen {
			return verror.Errorf(verror.ETOOLARGE, "text longer than %d bytes once normalised", maxNormLen)
		}
	}
	*nt = normText{b: b, start: start, end: end, run: run}
	return nil
}
