package textmatch

import "fmt"

// automaton is an Aho-Corasick automaton over bytes, stored as a double
// array: the child of state s on code c is t = base[s]+c when check[t] == s.
// That gives one array lookup per transition in about 20 bytes per state,
// where a dense table would need a kilobyte per state and a map-based trie
// several pointer chases. Bytes are first mapped to dense codes (1..n) so
// that the arrays stay small; code 0 is a byte no pattern contains.
type automaton struct {
	code  [256]uint8
	base  []int32
	check []int32 // parent state; -1 for a free slot
	fail  []int32 // longest proper suffix that is also a state
	term  []int32 // index of the pattern ending here, -1 for none
	dict  []int32 // nearest state on the fail chain with term >= 0, 0 for none
}

const freeSlot = -1

// searchWindow is how far behind the highest used slot findBase looks for
// free slots.
const searchWindow = 2048

// newAutomaton builds the automaton for patterns, which must be sorted,
// distinct and non-empty. State term values are indexes into patterns.
func newAutomaton(patterns []string) (*automaton, error) {
	a := &automaton{}
	var used [256]bool
	total := 0
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
		total += len(p)
	}
	n := 0
	for b := range 256 {
		if used[b] {
			n++
			a.code[b] = uint8(n) // codes follow byte order, so sorted patterns stay sorted
		}
	}
	if n > 255 {
		return nil, fmt.Errorf("build automaton: %d distinct bytes", n)
	}
	a.grow(total + 256)
	a.check[0] = -2 // the root is nobody's child
	b := &daBuilder{a: a, patterns: patterns, nextCheck: 1}
	if err := b.place(0, len(patterns), 0, 0); err != nil {
		return nil, err
	}
	a.trim(b.maxSlot + 1)
	a.link()
	return a, nil
}

func (a *automaton) grow(n int) {
	old := len(a.check)
	if n <= old {
		return
	}
	a.base = append(a.base, make([]int32, n-old)...)
	a.check = append(a.check, make([]int32, n-old)...)
	a.term = append(a.term, make([]int32, n-old)...)
	for i := old; i < n; i++ {
		a.check[i], a.term[i] = freeSlot, -1
	}
}

func (a *automaton) trim(n int) {
	a.base, a.check, a.term = a.base[:n:n], a.check[:n:n], a.term[:n:n]
}

type daBuilder struct {
	a         *automaton
	patterns  []string
	nextCheck int // slots below this are all taken
	maxSlot   int
}

// place gives state the children needed by patterns[lo:hi], which share
// their first depth bytes, and recurses into them.
func (d *daBuilder) place(lo, hi, depth int, state int32) error {
	a := d.a
	if lo == hi {
		return nil
	}
	if len(d.patterns[lo]) == depth {
		a.term[state] = int32(lo)
		lo++
	}
	if lo == hi {
		return nil
	}
	type child struct {
		code   int
		lo, hi int
	}
	var kids []child
	for i := lo; i < hi; {
		c := int(a.code[d.patterns[i][depth]])
		j := i + 1
		for j < hi && int(a.code[d.patterns[j][depth]]) == c {
			j++
		}
		kids = append(kids, child{c, i, j})
		i = j
	}
	base := d.findBase(kids[0].code, func(b int) bool {
		for _, k := range kids {
			if a.check[b+k.code] != freeSlot {
				return false
			}
		}
		return true
	}, kids[len(kids)-1].code)
	if base > 1<<31-1-256 {
		return fmt.Errorf("build automaton: too many states")
	}
	a.base[state] = int32(base)
	for _, k := range kids {
		a.check[base+k.code] = state
		d.maxSlot = max(d.maxSlot, base+k.code)
	}
	for _, k := range kids {
		if err := d.place(k.lo, k.hi, depth+1, int32(base+k.code)); err != nil {
			return err
		}
	}
	return nil
}

// findBase returns the first base at which fits accepts the children, the
// lowest of which has code first and the highest code last. Like darts, it
// moves the start of the search past regions found nearly full, which keeps
// the search from rescanning the dense front of the array.
func (d *daBuilder) findBase(first int, fits func(int) bool, last int) int {
	a := d.a
	// Searching only a window behind the highest slot in use bounds the
	// work per state; holes left further back are the price, a few percent
	// of the array. Without it, building 100,000 keywords took minutes.
	d.nextCheck = max(d.nextCheck, d.maxSlot-searchWindow)
	pos := max(d.nextCheck, first) - 1
	taken, firstFree := 0, true
	for {
		pos++
		if pos-first+last >= len(a.check) {
			a.grow(2*len(a.check) + 256)
		}
		if a.check[pos] != freeSlot {
			taken++
			continue
		}
		if firstFree {
			d.nextCheck, firstFree = pos, false
		}
		if fits(pos - first) {
			break
		}
	}
	if span := pos - d.nextCheck + 1; span > 0 && taken*20 >= span*19 {
		d.nextCheck = pos
	}
	return pos - first
}

// next returns the child of s on code c, or -1.
func (a *automaton) next(s int32, c int) int32 {
	t := int(a.base[s]) + c
	if t < len(a.check) && a.check[t] == s {
		return int32(t)
	}
	return -1
}

// link computes the fail and dict links, breadth first so that every
// state's fail target is done before the state.
func (a *automaton) link() {
	n := len(a.check)
	a.fail = make([]int32, n)
	a.dict = make([]int32, n)
	maxCode := 0
	for _, c := range a.code {
		maxCode = max(maxCode, int(c))
	}
	queue := make([]int32, 1, n/2+1)
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		for c := 1; c <= maxCode; c++ {
			t := a.next(s, c)
			if t < 0 {
				continue
			}
			queue = append(queue, t)
			if s == 0 {
				continue // fail and dict are 0 already
			}
			f := a.fail[s]
			for {
				if u := a.next(f, c); u >= 0 {
					a.fail[t] = u
					break
				}
				if f == 0 {
					break
				}
				f = a.fail[f]
			}
			if ft := a.fail[t]; a.term[ft] >= 0 {
				a.dict[t] = ft
			} else {
				a.dict[t] = a.dict[ft]
			}
		}
	}
}

// scan runs text through the automaton and calls hit with the pattern index
// and the end offset of every occurrence. It stops early when hit returns
// false.
func (a *automaton) scan(text []byte, hit func(pattern int32, end int) bool) {
	s := int32(0)
	for i, ch := range text {
		c := int(a.code[ch])
		if c == 0 {
			s = 0
			continue
		}
		for {
			if t := a.next(s, c); t >= 0 {
				s = t
				break
			}
			if s == 0 {
				break
			}
			s = a.fail[s]
		}
		o := s
		if a.term[o] < 0 {
			o = a.dict[o]
		}
		for o > 0 {
			if !hit(a.term[o], i+1) {
				return
			}
			o = a.dict[o]
		}
	}
}
