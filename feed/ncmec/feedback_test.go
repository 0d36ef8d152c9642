package ncmec_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed/ncmec"
	"github.com/vigil-oss/vigil/sqlite"
)

func TestSendOpinions(t *testing.T) {
	ctx := context.Background()
	s := openStores(t)
	var mu sync.Mutex
	got := map[string]string{} // path -> vote
	reasons := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != user || p != password {
			http.Error(w, "<error>Authentication failed</error>", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/reasons"):
			fmt.Fprintf(w, `<?xml version="1.0"?><feedbackReasons xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><availableFeedbackReasons>`)
			for i := range reasons {
				fmt.Fprintf(w, `<reason guid="01234567-abcd-0123-4567-01234567890%d" name="Not CSAM %d" type="MD5"/>`, i, i)
			}
			fmt.Fprint(w, `</availableFeedbackReasons></feedbackReasons>`)
		case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/feedback"):
			b, _ := io.ReadAll(r.Body)
			var doc struct {
				XMLName     xml.Name
				Affirmative *struct{} `xml:"affirmative"`
				Negative    *struct {
					GUID string `xml:"reasonIds>guid"`
				} `xml:"negative"`
			}
			if err := xml.Unmarshal(b, &doc); err != nil || doc.XMLName.Local != "feedbackSubmission" || doc.XMLName.Space != "https://hashsharing.ncmec.org/hashsharing/v2" {
				http.Error(w, "<error>bad body</error>", http.StatusBadRequest)
				return
			}
			vote := "up"
			if doc.Negative != nil {
				vote = "down:" + doc.Negative.GUID
			}
			got[strings.TrimPrefix(r.URL.Path, "/hashsharing")] = vote
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := &ncmec.Client{BaseURL: srv.URL + "/hashsharing", Username: user, Password: password, Sleep: func(context.Context, time.Duration) error { return nil }}

	es := []*vigil.Entry{
		{SignalType: vigil.SignalMD5, Value: md5(1), Source: "ncmec", SourceEntryID: "42-image1"},
		{SignalType: vigil.SignalPDQ, Value: pdqA, Source: "ncmec", SourceEntryID: "42-image-2"},
		{SignalType: vigil.SignalMD5, Value: md5(3), Source: "stopncii", SourceEntryID: "VideoMD5:x"}, // not NCMEC's
	}
	if _, err := s.entries.AddEntries(ctx, s.bank.ID, "fetch", es); err != nil {
		t.Fatal(err)
	}
	cases := sqlite.NewCaseService(s.db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour), Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", i+1)},
			Matches: []vigil.Match{{BankID: s.bank.ID, Bank: "ncmec", EntryID: e.ID, SignalType: e.SignalType, Value: e.Value, Source: e.Source}}}
		if err := cases.OpenCase(ctx, c, "rules"); err != nil {
			t.Fatal(err)
		}
		verdict := vigil.VerdictFalsePositive
		if i == 0 {
			verdict = vigil.VerdictConfirmed
		}
		if _, err := cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: verdict, DecidedBy: "rita"}); err != nil {
			t.Fatal(err)
		}
	}

	// Two reasons offered and none chosen: the downvote is refused before
	// anything of it is sent, and stays due.
	reasons = 2
	n, err := ncmec.SendOpinions(ctx, c, s.exchanges, s.bank.ID, nil)
	if vigil.ErrorCode(err) != vigil.EINVALID || n != 1 || len(got) != 1 {
		t.Fatalf("with two reasons: sent %d, %v, %v", n, err, got)
	}
	reasons = 1
	n, err = ncmec.SendOpinions(ctx, c, s.exchanges, s.bank.ID, nil)
	if err != nil || n != 1 {
		t.Fatalf("sent %d, %v", n, err)
	}
	want := map[string]string{
		"/v2/entries/42/image1/MD5/feedback":  "up",
		"/v2/entries/42/image-2/PDQ/feedback": "down:01234567-abcd-0123-4567-012345678900",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("feedback %v, want %v", got, want)
	}
	if n, err := ncmec.SendOpinions(ctx, c, s.exchanges, s.bank.ID, nil); err != nil || n != 0 {
		t.Fatalf("resent %d, %v", n, err)
	}
}
