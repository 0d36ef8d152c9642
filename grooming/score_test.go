package grooming

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func conv(lines ...string) Conversation {
	var c Conversation
	for _, l := range lines {
		from, text, _ := strings.Cut(l, ": ")
		c.Messages = append(c.Messages, Message{From: from, Text: text})
	}
	return c
}

var groomingConv = conv(
	"adult: saw your drawing, it's really good",
	"kid: thanks!!",
	"adult: how old r u btw",
	"kid: im 12",
	"adult: you seem way more mature than 12",
	"adult: are your parents home?",
	"kid: no they're at work",
	"adult: add me on snap, this app watches everything",
	"adult: and don't tell your parents we talk ok",
)

func TestScoreRaisesOnCombination(t *testing.T) {
	d := newTestDetector(t)
	r := d.Score(groomingConv)
	if !r.Flagged || r.Level == LevelNone || r.Suspect != "adult" || r.Target != "kid" {
		t.Fatalf("risk = %+v", r)
	}
	// Every raised family has evidence whose spans index the original text.
	for _, ind := range r.Indicators {
		if len(ind.Evidence) == 0 || len(ind.Messages) != len(ind.Evidence) {
			t.Errorf("%v: no evidence", ind.Family)
		}
		for _, ev := range ind.Evidence {
			text := groomingConv.Messages[ev.Message].Text
			for _, sp := range ev.Spans {
				if sp.Start < 0 || sp.End > len(text) || sp.Start >= sp.End {
					t.Errorf("%v: span %+v outside message %d", ind.Family, sp, ev.Message)
				}
			}
		}
	}
	// A single keyword is weak.
	one := d.Score(conv("adult: don't tell your parents ok", "kid: ok"))
	if one.Flagged || one.Score >= r.Score {
		t.Errorf("single keyword risk = %+v", one)
	}
}

func TestScoreBenignTwins(t *testing.T) {
	d := newTestDetector(t)
	tests := []struct {
		name string
		c    Conversation
	}{
		{"surprise party", conv(
			"sis: don't tell mom!! we're getting her a cake for her birthday",
			"bro: ok i won't 🤫",
			"sis: keep it secret till friday, meet me at the mall after school",
			"bro: ok")},
		{"parent checking in", conv(
			"mom: are you home alone right now?",
			"kid: yes",
			"mom: lock the door, I'll pick you up at 5",
			"mom: send me a selfie with your cabin mates tomorrow")},
		{"peers comparing ages", conv(
			"a: how old r u",
			"b: 13 u?",
			"a: im 13 too",
			"b: add me on discord, this app is so laggy")},
		{"coach with parents in loop", conv(
			"coach: great practice today",
			"coach: I'll text your mom about the weekend camp",
			"coach: your dad can drive you, meet at the field at 9, parents are welcome",
			"kid: ok thanks")},
		{"reported speech", conv(
			"kid: this guy said don't tell ur parents and asked for a pic",
			"friend: ew block him",
			"kid: i blocked and reported him, told my mom")},
		{"safety education", conv(
			"teacher: warning signs: if someone asks you to keep secrets from your parents or to move to snap, tell a trusted adult",
			"kid: ok")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := d.Score(tt.c); r.Flagged {
				t.Errorf("flagged benign conversation: %+v", r)
			}
		})
	}
}

func TestScoreSuspectPosition(t *testing.T) {
	d := newTestDetector(t)
	// The child speaks first: position must not decide the suspect.
	c := Conversation{Messages: append([]Message{{From: "kid", Text: "hi"}}, groomingConv.Messages...)}
	if r := d.Score(c); r.Suspect != "adult" {
		t.Errorf("suspect = %q, want adult", r.Suspect)
	}
}

func TestScoreMetadata(t *testing.T) {
	d := newTestDetector(t)
	c := conv("x: how old are you", "y: 13", "x: what school do you go to", "x: add me on snap")
	base := d.Score(c).Score
	yes := true
	c.Participants = []Participant{{ID: "x", Age: 34, AccountAgeDays: 2, InitiatedContact: &yes, MinorsContacted: 25}, {ID: "y", Age: 13}}
	if got := d.Score(c).Score; got <= base {
		t.Errorf("adult metadata: score %.3f, want > %.3f", got, base)
	}
	c.Participants = []Participant{{ID: "x", Age: 13}, {ID: "y", Age: 13}}
	if got := d.Score(c).Score; got >= base {
		t.Errorf("peer metadata: score %.3f, want < %.3f", got, base)
	}
	// Metadata alone never flags.
	quiet := conv("x: hi", "y: hi", "x: nice build")
	quiet.Participants = []Participant{{ID: "x", Age: 40, AccountAgeDays: 1, InitiatedContact: &yes, MinorsContacted: 50}, {ID: "y", Age: 11}}
	if r := d.Score(quiet); r.Flagged {
		t.Errorf("metadata alone flagged: %+v", r)
	}
}

func TestScoreDecay(t *testing.T) {
	d := newTestDetector(t)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	mk := func(gap time.Duration) Conversation {
		c := conv("a: you're so mature for your age", "a: what school do you go to", "b: lincoln", "b: ok")
		for i := range c.Messages {
			c.Messages[i].Time = t0
		}
		c.Messages[2].Time = t0.Add(gap)
		c.Messages[3].Time = t0.Add(gap)
		return c
	}
	if near, far := d.Score(mk(time.Minute)).Score, d.Score(mk(60*24*time.Hour)).Score; far >= near {
		t.Errorf("score after 60 days %.3f, want < %.3f", far, near)
	}
}

// Streaming: appending message by message, with the state serialised to
// JSON and back between messages at random points, must give exactly the
// batch result at every prefix.
func TestStreamingEqualsBatch(t *testing.T) {
	d := newTestDetector(t)
	rng := rand.New(rand.NewPCG(1, 2))
	convs := []Conversation{groomingConv}
	for _, line := range readLines(t, "testdata/dev.jsonl")[:60] {
		rec, err := ParseRecord([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, rec.Conversation)
	}
	for ci, c := range convs {
		st := NewState(c.Participants)
		for i, m := range c.Messages {
			if rng.IntN(2) == 0 {
				b, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				st = new(State)
				if err := json.Unmarshal(b, st); err != nil {
					t.Fatal(err)
				}
			}
			got := d.Append(st, m)
			want := d.Score(Conversation{Messages: c.Messages[:i+1], Participants: c.Participants})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("conversation %d, message %d: stream %+v, batch %+v", ci, i, got, want)
			}
		}
	}
}

// The state stays bounded however long the conversation and however many
// speakers join.
func TestStateBounded(t *testing.T) {
	d := newTestDetector(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var lines []string
	for _, l := range readLines(t, "testdata/dev.jsonl") {
		rec, _ := ParseRecord([]byte(l))
		for _, m := range rec.Messages {
			lines = append(lines, m.Text)
		}
	}
	st := NewState(nil)
	maxSize := 0
	for i := 0; i < 20000; i++ {
		from := string(rune('a' + rng.IntN(26)))
		if i%100 == 0 {
			from = strings.Repeat("long-name-", 50)
		}
		d.Append(st, Message{From: from, Text: lines[rng.IntN(len(lines))]})
		if i%1000 == 999 {
			b, _ := json.Marshal(st)
			maxSize = max(maxSize, len(b))
		}
	}
	if len(st.Speakers) > MaxSpeakers || len(st.Pairs) > maxPairs {
		t.Errorf("%d speakers, %d pairs", len(st.Speakers), len(st.Pairs))
	}
	const limit = 64 << 10
	if maxSize > limit {
		t.Errorf("state grew to %d bytes of JSON, want ≤ %d", maxSize, limit)
	}
	t.Logf("largest state: %d bytes of JSON", maxSize)
}
