package vigil_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

func confirmedCase(c *vigil.Case) *vigil.Case {
	c.State = vigil.CaseDecided
	c.Decision = &vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "r"}
	return c
}

func TestNewIncident(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	conv := confirmedCase(&vigil.Case{ID: 2, Kind: vigil.CaseKindConversation, CreatedAt: t0.Add(time.Hour),
		Conversation: &vigil.CaseConversation{ConversationID: "c-1", Suspect: "u-1", Messages: []vigil.CaseMessage{
			{Index: 0, Speaker: "u-1", Text: "hello", Time: t0},
			{Index: 1, Speaker: "k-2", Text: "hi"},
			{Index: 2, Speaker: "u-1", Text: "keep this between us", Time: t0.Add(time.Minute), Indicators: []string{"secrecy"}},
		}}})
	file := confirmedCase(&vigil.Case{ID: 1, Kind: vigil.CaseKindMatch, CreatedAt: t0.Add(2 * time.Hour),
		Content: vigil.ContentRef{SHA256: "AB", UserID: "u-1"},
		Matches: []vigil.Match{{SignalType: vigil.SignalMD5, Value: "0f"}}})
	file.Decision.Category = " a2 "
	inc, err := vigil.NewIncident([]*vigil.Case{conv, file})
	if err != nil {
		t.Fatal(err)
	}
	if inc.ReportedUser != "u-1" || len(inc.CaseIDs) != 2 || inc.CaseIDs[0] != 1 || !inc.Enticement() || !inc.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("incident %+v", inc)
	}
	if f := inc.Files[0]; f.SHA256 != "ab" || f.MD5 != "0f" || f.Classification != "A2" {
		t.Errorf("file %+v", f)
	}
	c := inc.Conversations[0]
	if c.Suspect != "u-1" || len(c.IntendedRecipients) != 1 || c.IntendedRecipients[0] != "k-2" || len(c.Messages) != 1 || c.Messages[0].Index != 2 {
		t.Errorf("conversation %+v", c)
	}

	other := confirmedCase(&vigil.Case{ID: 3, Kind: vigil.CaseKindMatch, Content: vigil.ContentRef{UserID: "u-9"}, Matches: []vigil.Match{{}}})
	open := &vigil.Case{ID: 4, Kind: vigil.CaseKindMatch, Content: vigil.ContentRef{UserID: "u-1"}, Matches: []vigil.Match{{}}}
	anon := confirmedCase(&vigil.Case{ID: 5, Kind: vigil.CaseKindMatch, Matches: []vigil.Match{{}}})
	for _, tc := range []struct {
		name  string
		cases []*vigil.Case
		code  string
	}{
		{"none", nil, vigil.EINVALID},
		{"two users", []*vigil.Case{file, other}, vigil.EINVALID},
		{"not confirmed", []*vigil.Case{file, open}, vigil.ECONFLICT},
		{"no user", []*vigil.Case{anon}, vigil.EINVALID},
		{"twice", []*vigil.Case{file, file}, vigil.EINVALID},
	} {
		if _, err := vigil.NewIncident(tc.cases); vigil.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

// TestNewIncidentDisclosure: a victim's disclosure never makes its speaker
// the reported user, and a sextortion case suggests the annotation.
func TestNewIncidentDisclosure(t *testing.T) {
	dis := confirmedCase(&vigil.Case{ID: 3, Kind: vigil.CaseKindConversation, Content: vigil.ContentRef{UserID: "kid"},
		Conversation: &vigil.CaseConversation{ConversationID: "c-2", DisclosedBy: "kid", Sextortion: true, Messages: []vigil.CaseMessage{
			{Index: 0, Speaker: "kid", Text: "someone says he'll send our chats to my mom unless i pay"},
		}}})
	if _, err := vigil.NewIncident([]*vigil.Case{dis}); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("disclosure incident: err %v, want EINVALID", err)
	}
	sx := confirmedCase(&vigil.Case{ID: 4, Kind: vigil.CaseKindConversation,
		Conversation: &vigil.CaseConversation{ConversationID: "c-3", Suspect: "x", Sextortion: true, Messages: []vigil.CaseMessage{
			{Index: 0, Speaker: "x", Text: "pay or i send our chats to your school", Indicators: []string{"sextortion_threat"}},
		}}})
	inc, err := vigil.NewIncident([]*vigil.Case{sx})
	if err != nil {
		t.Fatal(err)
	}
	if inc.ReportedUser != "x" || !inc.Sextortion {
		t.Errorf("incident %+v", inc)
	}
}

// TestNewIncidentClassifierCase: a confirmed classifier case (material no
// list knew) is reported as a file, without matches.
func TestNewIncidentClassifierCase(t *testing.T) {
	c := confirmedCase(&vigil.Case{ID: 7, Kind: vigil.CaseKindClassifier, CreatedAt: time.Now(),
		Content: vigil.ContentRef{SHA256: "CD", UserID: "u-2", MediaID: "m"},
		Scores:  []vigil.ClassifierScore{{Classifier: "pigeon", Label: "csam", Score: 0.9}}})
	inc, err := vigil.NewIncident([]*vigil.Case{c})
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Files) != 1 || inc.Files[0].SHA256 != "cd" || inc.Files[0].MediaID != "m" || len(inc.Files[0].Matches) != 0 {
		t.Errorf("incident files %+v", inc.Files)
	}
}

// A file that declares a generative source gets NCMEC's generativeAi
// annotation, suggested for the reviewer approving the incident.
func TestNewIncidentGenerativeAI(t *testing.T) {
	gen := confirmedCase(&vigil.Case{ID: 1, Kind: vigil.CaseKindMatch, Matches: []vigil.Match{{}},
		Content: vigil.ContentRef{UserID: "u-1", GenerativeAI: &vigil.GenerativeAI{Source: vigil.GenerativeAIXMP, DigitalSourceType: "trainedAlgorithmicMedia"}}})
	plain := confirmedCase(&vigil.Case{ID: 2, Kind: vigil.CaseKindMatch, Matches: []vigil.Match{{}}, Content: vigil.ContentRef{UserID: "u-1"}})
	inc, err := vigil.NewIncident([]*vigil.Case{gen, plain})
	if err != nil {
		t.Fatal(err)
	}
	if a := inc.Files[0].Annotations; len(a) != 1 || a[0] != "generativeAi" || len(inc.Files[1].Annotations) != 0 {
		t.Fatalf("annotations %v, %v", a, inc.Files[1].Annotations)
	}
	inc.Time = time.Now()
	if err := inc.Validate(); err != nil {
		t.Fatal(err)
	}
}

// A stored indication is checked like every case field: it comes from
// outside input (a certificate's subject).
func TestCaseValidateGenerativeAI(t *testing.T) {
	for _, tc := range []struct {
		g  vigil.GenerativeAI
		ok bool
	}{
		{vigil.GenerativeAI{Source: "c2pa", DigitalSourceType: "trainedAlgorithmicMedia", Signer: "CN=x", Trust: "untrusted"}, true},
		{vigil.GenerativeAI{Source: "exif", DigitalSourceType: "trainedAlgorithmicMedia"}, false},
		{vigil.GenerativeAI{Source: "xmp", DigitalSourceType: "x\u202e"}, false},
		{vigil.GenerativeAI{Source: "c2pa", Trust: "maybe"}, false},
	} {
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, Matches: []vigil.Match{{}}, Content: vigil.ContentRef{GenerativeAI: &tc.g}}
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.g, err)
		}
	}
}

// TestIncidentLabels checks the second vocabulary: labels are known
// DIMENSION:VALUE pairs (a bare value is read as its dimension's), an
// unknown one is refused naming it, and a new incident is given the
// labels its files' industry classes and content types imply.
func TestIncidentLabels(t *testing.T) {
	for in, want := range map[string]string{
		"legality:baseline": "legality:baseline", " Baseline ": "legality:baseline", "national": "legality:national",
		"age:infant-toddler": "age:infant-toddler", "pubescent": "age:pubescent", "gender:both": "gender:both", "video": "content:video",
	} {
		if got, err := vigil.CanonicalLabel(in); err != nil || got != want {
			t.Errorf("CanonicalLabel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "sparkly", "age:adult", "colour:red", "legality:", ":baseline"} {
		if _, err := vigil.CanonicalLabel(bad); vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(vigil.ErrorMessage(err), fmt.Sprintf("%q", strings.TrimSpace(bad))) {
			t.Errorf("CanonicalLabel(%q): %v, want EINVALID naming it", bad, err)
		}
	}
	for class, want := range map[string]string{"A1": "age:pre-pubescent", "A2": "age:pre-pubescent", "B1": "age:pubescent", "B2": "age:pubescent", "": ""} {
		if got := vigil.IndustryClassLabel(class); got != want {
			t.Errorf("label of class %q: %q, want %q", class, got, want)
		}
	}

	conv := confirmedCase(&vigil.Case{ID: 2, Kind: vigil.CaseKindConversation,
		Conversation: &vigil.CaseConversation{ConversationID: "c-1", Suspect: "u-1", Messages: []vigil.CaseMessage{{Speaker: "u-1", Text: "keep this between us", Indicators: []string{"secrecy"}}}}})
	img := confirmedCase(&vigil.Case{ID: 1, Kind: vigil.CaseKindMatch, Content: vigil.ContentRef{UserID: "u-1", MediaType: "image/jpeg"}, Matches: []vigil.Match{{}}})
	img.Decision.Category = "B2"
	vid := confirmedCase(&vigil.Case{ID: 3, Kind: vigil.CaseKindMatch, Content: vigil.ContentRef{UserID: "u-1", MediaType: "video/mp4"}, Matches: []vigil.Match{{}}})
	vid.Decision.Category = "A1"
	inc, err := vigil.NewIncident([]*vigil.Case{conv, img, vid})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(inc.Labels, ","); got != "age:pre-pubescent,age:pubescent,content:image,content:video,content:text" {
		t.Errorf("suggested labels %q", got)
	}

	inc.Time = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	e := vigil.IncidentEdit{Labels: &[]string{"baseline", "gender:female", "legality:baseline"}}
	if err := e.Apply(inc); err != nil || strings.Join(inc.Labels, ",") != "legality:baseline,gender:female" {
		t.Errorf("edited labels %q, %v", inc.Labels, err)
	}
	e = vigil.IncidentEdit{Labels: &[]string{"gender:female", "sparkly"}}
	if err := e.Apply(inc); vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(vigil.ErrorMessage(err), `"sparkly"`) {
		t.Errorf("unknown label: %v", err)
	}
	// A stored incident whose labels are not in the vocabulary is refused
	// (free text from before the vocabulary must be replaced on its next edit).
	inc.Labels = []string{"whatever"}
	if err := inc.Validate(); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("free-text label validates: %v", err)
	}
}

// FuzzCanonicalLabel checks that any text is either refused or made a
// label of the vocabulary that is its own canonical form.
func FuzzCanonicalLabel(f *testing.F) {
	for _, s := range []string{"legality:baseline", "Baseline", " age:pubescent ", "sparkly", ":", "gender:", "\x00", "content:TEXT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := vigil.CanonicalLabel(s)
		if err != nil {
			if vigil.ErrorCode(err) != vigil.EINVALID || len(vigil.ErrorMessage(err)) > 4*vigil.MaxEntryFieldLen+1024 {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if again, err := vigil.CanonicalLabel(c); err != nil || again != c {
			t.Fatalf("%q -> %q -> %q, %v", s, c, again, err)
		}
		inc := &vigil.Incident{ReportedUser: "u", CaseIDs: []int64{1}, Time: time.Unix(1, 0), Labels: []string{c}}
		if err := inc.Validate(); err != nil {
			t.Fatalf("%q: canonical %q does not validate: %v", s, c, err)
		}
	})
}
