package http

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
)

// decodeJSON reads one JSON value from a body of at most maxJSONBody bytes
// into v, the one reader of every JSON request body. It refuses what
// encoding/json would take silently: unknown fields (a typo would be
// ignored), data after the value, a key given twice in one object (the
// last would win; field names match case-insensitively, so "name" and
// "Name" are the same field), and null where the target is not a pointer,
// map or interface (it would leave a zero value, as if the field were
// empty: a null body, a null message).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	return unmarshalStrict(data, v)
}

// readJSONBody reads a JSON request body of at most maxJSONBody bytes.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxJSONBody {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "request body is larger than the %d-byte limit", maxJSONBody)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxJSONBody)); err != nil {
		return nil, err // over the limit, or the client's connection failed
	}
	return buf.Bytes(), nil
}

// unmarshalStrict is decodeJSON on a body already read.
//
// The decoder goes first: it validates the value as it reads it (one scan,
// then the decoding), and the check of duplicate keys and nulls walks the
// value only once it is known to be valid JSON, so no separate validation
// pass is needed. What the check refuses is refused all the same; v may
// then be partly filled, as after any decoding error.
func unmarshalStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return vigil.Errorf(vigil.EINVALID, "request body is empty; expected JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return vigil.Errorf(vigil.EINVALID, "invalid JSON body: %v", err)
	}
	end := int(dec.InputOffset())
	if len(bytes.TrimLeft(data[end:], " \t\n\r")) > 0 { // JSON's white space only
		return vigil.Errorf(vigil.EINVALID, "invalid JSON body: data after the value")
	}
	c := jsonChecker{data: data[:end]}
	return c.value(reflect.TypeOf(v).Elem())
}

// jsonChecker walks a JSON value, already known to be valid, beside the Go
// type it decodes into, for what the decoder itself lets through.
type jsonChecker struct {
	data []byte
	pos  int
	// path is where the walk is, for error messages only.
	path []pathStep
	// keys holds the keys seen in the objects being walked, innermost
	// last, so that the common small object needs no map of its own.
	keys []string
}

// fieldCache holds, per struct type, its JSON field names: a function of
// the type alone, computed once per process as encoding/json does its own,
// rather than for every request.
var fieldCache sync.Map // reflect.Type → *structFields

// pathStep is an object key or, when key is "", an array index.
type pathStep struct {
	key   string
	index int
}

func (c *jsonChecker) where() string {
	if len(c.path) == 0 {
		return "the request body"
	}
	var b strings.Builder
	for _, s := range c.path {
		if s.key != "" {
			b.WriteString("." + s.key)
		} else {
			fmt.Fprintf(&b, "[%d]", s.index)
		}
	}
	return b.String()
}

func (c *jsonChecker) skipSpace() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// value checks the value at c.pos, to be decoded into t (nil: unknown, as
// inside an interface, a json.RawMessage or a type with its own
// unmarshaler, where only duplicate keys are checked).
func (c *jsonChecker) value(t reflect.Type) error {
	c.skipSpace()
	nullable := t == nil
	for t != nil && t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	if t != nil && (t.Kind() == reflect.Map || t.Kind() == reflect.Interface) {
		nullable = true
	}
	if t != nil && customUnmarshaler(t) {
		t = nil
	}
	switch c.data[c.pos] {
	case 'n':
		if !nullable {
			if len(c.path) == 0 {
				return vigil.Errorf(vigil.EINVALID, "request body is null; expected a JSON %s", jsonKind(t))
			}
			return vigil.Errorf(vigil.EINVALID, "%s is null; give a value or leave it out", c.where())
		}
		c.pos += len("null")
	case '{':
		return c.object(t)
	case '[':
		return c.array(t)
	case '"':
		c.skipString()
	default: // number, true, false
		for c.pos < len(c.data) && !strings.ContainsRune(",]} \t\n\r", rune(c.data[c.pos])) {
			c.pos++
		}
	}
	return nil
}

// skipString moves past the string at c.pos and returns its raw contents.
func (c *jsonChecker) skipString() []byte {
	start := c.pos + 1
	for c.pos = start; c.data[c.pos] != '"'; c.pos++ {
		if c.data[c.pos] == '\\' {
			c.pos++
		}
	}
	c.pos++
	return c.data[start : c.pos-1]
}

func (c *jsonChecker) object(t reflect.Type) error {
	var fields *structFields
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = typeFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	// A struct field is matched as encoding/json does (exactly, else
	// case-insensitively), so two spellings of one field are one key; a
	// map key is itself. Small objects are checked against c.keys, large
	// ones (maps) against a set.
	start := len(c.keys)
	defer func() { c.keys = c.keys[:start] }()
	var seen map[string]bool
	c.pos++ // '{'
	for {
		c.skipSpace()
		if c.data[c.pos] == '}' {
			c.pos++
			return nil
		}
		if c.data[c.pos] == ',' {
			c.pos++
			c.skipSpace()
		}
		raw := c.skipString()
		// A key with escapes or bytes that are not UTF-8 is compared as
		// encoding/json decodes it (invalid bytes become U+FFFD), so two
		// spellings of one decoded key are one key.
		escaped := bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw)
		var key, id string
		ft := elem
		var f jsonField
		ok := false
		if fields != nil && !escaped {
			f, ok = fields.exact[string(raw)]
		}
		if ok {
			// The common case, without allocating the key.
			key, id, ft = f.name, f.name, f.typ
		} else {
			key = string(raw)
			if escaped {
				key = unquote(c.data[c.pos-len(raw)-2 : c.pos])
			}
			id = key
			if fields != nil {
				if f, ok := fields.lookup(key); ok {
					id, ft = f.name, f.typ
				}
			}
		}
		c.path = append(c.path, pathStep{key: key})
		dup := seen[id]
		if seen == nil {
			dup = slices.Contains(c.keys[start:], id)
			if c.keys = append(c.keys, id); len(c.keys)-start > 16 {
				seen = map[string]bool{}
				for _, k := range c.keys[start:] {
					seen[k] = true
				}
			}
		} else {
			seen[id] = true
		}
		if dup {
			return vigil.Errorf(vigil.EINVALID, "%s is given twice (in one object, one key may appear once)", c.where())
		}
		c.skipSpace()
		c.pos++ // ':'
		if err := c.value(ft); err != nil {
			return err
		}
		c.path = c.path[:len(c.path)-1]
	}
}

// unquote returns the string of a valid JSON string literal.
func unquote(lit []byte) string {
	var s string
	json.Unmarshal(lit, &s)
	return s
}

func (c *jsonChecker) array(t reflect.Type) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	c.pos++ // '['
	for i := 0; ; i++ {
		c.skipSpace()
		switch c.data[c.pos] {
		case ']':
			c.pos++
			return nil
		case ',':
			c.pos++
		}
		c.path = append(c.path, pathStep{index: i})
		if err := c.value(elem); err != nil {
			return err
		}
		c.path = c.path[:len(c.path)-1]
	}
}

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name string
	typ  reflect.Type
}

// structFields are a struct's JSON fields by exact and lower-cased name.
type structFields struct {
	exact, folded map[string]jsonField
}

func (f *structFields) lookup(key string) (jsonField, bool) {
	if jf, ok := f.exact[key]; ok {
		return jf, true
	}
	jf, ok := f.folded[strings.ToLower(key)]
	return jf, ok
}

// typeFields returns t's JSON fields, promoting those of embedded
// structs (a shallower field wins), as encoding/json does.
func typeFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{exact: map[string]jsonField{}, folded: map[string]jsonField{}}
	defer fieldCache.Store(t, f)
	// Breadth first, so that a shallower field is seen first.
	for level, depth := []reflect.Type{t}, 0; len(level) > 0 && depth < 10; depth++ {
		var next []reflect.Type
		for _, t := range level {
			for i := range t.NumField() {
				sf := t.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if st := sf.Type; sf.Anonymous && name == "" {
					if st.Kind() == reflect.Pointer {
						st = st.Elem()
					}
					if st.Kind() == reflect.Struct {
						next = append(next, st)
						continue
					}
				}
				if !sf.IsExported() {
					continue
				}
				if name == "" {
					name = sf.Name
				}
				jf := jsonField{name: name, typ: sf.Type}
				if _, ok := f.exact[name]; !ok {
					f.exact[name] = jf
				}
				if _, ok := f.folded[strings.ToLower(name)]; !ok {
					f.folded[strings.ToLower(name)] = jf
				}
			}
		}
		level = next
	}
	return f
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// customUnmarshaler reports whether t decodes itself, so that its JSON
// need not follow its Go shape (time.Time, json.RawMessage, enums).
func customUnmarshaler(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler) && t.Kind() != reflect.Map
}

// jsonKind names the JSON form of a Go type, for error messages.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	}
	return fmt.Sprintf("%s value", t.Kind())
}
