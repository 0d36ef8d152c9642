package grooming

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzTag(f *testing.F) {
	for _, s := range []string{
		"how old r u?", "d i s c o r d", "wic\u200bkr", "ѕnар", "𝕒𝕧𝕠𝕔𝕒𝕕𝕠", "13yo", "don't tell your parents",
		"\"quoted\" «text»", "t'as quel âge", "erzähl deinen Eltern nichts", "\xff\xfe", "a\u0301\u0301\u0301", "@$@$", "1 2 3 4 5",
		"🤫🎁📸", "ß", "ǅ", "ﬀ", "\u00ad\u200e\u2066", "i m 1 3", "k 3 3 p",
	} {
		f.Add(s)
	}
	d := NewDetector(Options{MaxMessageBytes: 2048})
	f.Fuzz(func(t *testing.T, s string) {
		check := func(sp Span) {
			if sp.Start < 0 || sp.End > len(s) || sp.Start >= sp.End {
				t.Fatalf("span %+v outside %d bytes of %q", sp, len(s), s)
			}
			if utf8.ValidString(s) && (!utf8.RuneStart(s[sp.Start]) || (sp.End < len(s) && !utf8.RuneStart(s[sp.End]))) {
				t.Fatalf("span %+v splits a rune in %q", sp, s)
			}
		}
		for _, tk := range Normalize(s) {
			check(Span{tk.Start, tk.End})
		}
		tags := d.Tag(s)
		for _, tg := range tags.Indicators {
			if tg.Score < 0 || tg.Score > 1 {
				t.Fatalf("score %v", tg.Score)
			}
			for _, sp := range tg.Spans {
				check(sp)
			}
		}
		if l := tags.Language; l != "" && !slices.Contains(Languages(), l) {
			t.Fatalf("message language %q", l)
		}
		r := d.Score(Conversation{Messages: []Message{{From: "a", Text: s}, {From: "b", Text: s}}})
		if r.Score < 0 || r.Score > 1 {
			t.Fatalf("risk score %v", r.Score)
		}
		if l := r.Language; l != "" && l != UnsupportedLanguage && !slices.Contains(Languages(), l) || r.Unsupported != (l == UnsupportedLanguage) {
			t.Fatalf("risk language %q unsupported %v", l, r.Unsupported)
		}
	})
}

// FuzzParseRecord feeds arbitrary JSON lines through parsing, scoring and a
// streaming replay with the state serialised between messages.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"id":"1","messages":[{"from":"a","text":"how old r u"},{"from":"b","text":"13"}]}`))
	f.Add([]byte(`{"id":"2","label":"grooming","suspect":"a","messages":[{"from":"a","text":"add me on snap","time":"2026-01-01T00:00:00Z"}],"participants":[{"id":"a","age":30,"initiated_contact":true}]}`))
	f.Add([]byte(`{"messages":null}`))
	f.Add([]byte(`not json`))
	d := NewDetector(Options{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := ParseRecord(b)
		if err != nil {
			return
		}
		if len(rec.Messages) > 200 {
			rec.Messages = rec.Messages[:200]
		}
		want := d.Score(rec.Conversation)
		st := NewState(rec.Participants)
		var got Risk
		for _, m := range rec.Messages {
			js, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			st = new(State)
			if err := json.Unmarshal(js, st); err != nil {
				t.Fatal(err)
			}
			got = d.Append(st, m)
		}
		if len(rec.Messages) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("stream %+v != batch %+v", got, want)
		}
	})
}

// FuzzParseModel: a model file from outside (--model) never panics the
// parser, and a model it accepts scores conversations within [0,1].
func FuzzParseModel(f *testing.F) {
	f.Add([]byte(modelJSON))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"features":[],"weights":[]}`))
	f.Add([]byte(`[1,2`))
	d0 := NewDetector(Options{})
	conv := Conversation{Messages: []Message{
		{From: "a", Text: "how old r u?"}, {From: "b", Text: "13"},
		{From: "a", Text: "dont tell your parents, add me on snap"},
	}}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseModel(b)
		if err != nil {
			return
		}
		d := &Detector{opts: d0.opts, lx: d0.lx, model: m}
		d.pool.New = d0.pool.New
		r := d.Score(conv)
		if math.IsNaN(r.Score) || r.Score < 0 || r.Score > 1 {
			t.Fatalf("score %v", r.Score)
		}
	})
}

// FuzzHasQuestionMark checks the byte scan against strings.ContainsAny on
// any input, valid UTF-8 or not.
func FuzzHasQuestionMark(f *testing.F) {
	for _, s := range []string{"", "ok?", "¿qué", "何？", "\xc2", "\xef\xbc", "\xe0\xc2\xbf", "\xef\xbc\x9f", "\xbf\xc2\xbf", "a\xffb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hasQuestionMark(s), strings.ContainsAny(s, "?¿？"); got != want {
			t.Fatalf("hasQuestionMark(%q) = %v, ContainsAny %v", s, got, want)
		}
	})
}
