package report_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// fakeTransparencyDB answers as the Transparency Database documents: 201
// with the stored statement, 422 with errors by field (and the existing
// statement for a puid already used), 401 for a wrong token.
type fakeTransparencyDB struct {
	mu       sync.Mutex
	token    string
	fail5xx  bool
	requests int
	stored   map[string]string // puid → uuid
	// hook, when set, sees each decoded statement first: it answers for
	// the database by returning true. stored tells it whether the
	// statement was stored before it was called (after: true).
	hook func(w http.ResponseWriter, r *http.Request, s map[string]any) bool
	// after, when set, makes hook run after the statement is stored
	// (a reply lost on its way back).
	after bool
}

func (f *fakeTransparencyDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/statement" || r.Header.Get("Accept") != "application/json" ||
		r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"message":"Unauthenticated."}`))
		return
	}
	if f.fail5xx {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var s map[string]any
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write([]byte(`{"message":"The decision ground field is required.","errors":{"decision_ground":["The decision ground field is required."]}}`))
		return
	}
	if s["category"] == "STATEMENT_CATEGORY_FAKE_REFUSED" || s["decision_facts"] == "refuse me" {
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write([]byte(`{"message":"The decision facts field is invalid. (and 1 more error)","errors":{"decision_facts":["The decision facts field is invalid."],"content_date":["The content date does not match the format YYYY-MM-DD."]}}`))
		return
	}
	if f.hook != nil && !f.after && f.hook(w, r, s) {
		return
	}
	puid, _ := s["puid"].(string)
	if _, ok := f.stored[puid]; ok {
		w.WriteHeader(http.StatusUnprocessableEntity)
		json.NewEncoder(w).Encode(map[string]any{
			"message": "The identifier given is not unique within this platform.",
			"errors":  map[string][]string{"puid": {"The identifier given is not unique within this platform."}},
			// As PuidNotUniqueSingleException answers: the puid only.
			"existing": map[string]any{"puid": puid},
		})
		return
	}
	uuid := "4b989c23-3736-4fd9-8612-a975b98d88d" + string(rune('0'+len(f.stored)))
	f.stored[puid] = uuid
	if f.hook != nil && f.after && f.hook(w, r, s) {
		return
	}
	s["uuid"], s["id"], s["permalink"] = uuid, 34509873504987, "https://db.example/statement/"+uuid
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(s)
}

func TestTransparencyDBSubmit(t *testing.T) {
	ctx := context.Background()
	fake := &fakeTransparencyDB{token: "tok", stored: map[string]string{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	db := &report.TransparencyDB{BaseURL: srv.URL + "/", Token: "tok", Client: srv.Client()}
	sts, err := report.RenderDSA(imageryIncident(t), facts, dsaCfg, applied)
	must(t, err)

	// 201: the database's uuid and permalink are kept.
	r, err := db.Submit(ctx, &sts[0])
	must(t, err)
	if r.HTTPStatus != 201 || r.UUID == "" || r.PUID != sts[0].PUID || !strings.HasPrefix(r.Permalink, "https://db.example/") || r.Existing {
		t.Fatalf("receipt %+v", r)
	}
	// A second attempt of the same statement (a retry after a lost
	// reply) finds the one stored, and stores none more.
	again, err := db.Submit(ctx, &sts[0])
	must(t, err)
	if !again.Existing || again.PUID != sts[0].PUID || len(fake.stored) != 1 {
		t.Fatalf("resubmission: %+v, stored %d", again, len(fake.stored))
	}

	// 422 with errors by field: EINVALID naming each field.
	refused := sts[1]
	refused.DecisionFacts = "refuse me"
	_, err = db.Submit(ctx, &refused)
	wantCode(t, err, vigil.EINVALID)
	if msg := vigil.ErrorMessage(err); !strings.Contains(msg, "content_date: ") || !strings.Contains(msg, "decision_facts: ") {
		t.Errorf("422 error does not name the fields: %v", err)
	}

	// An invalid statement is never sent.
	n := fake.requests
	bad := sts[1]
	bad.PUID = "not a puid"
	_, err = db.Submit(ctx, &bad)
	wantCode(t, err, vigil.EINVALID)
	if fake.requests != n {
		t.Errorf("an invalid statement was sent")
	}

	// 401, 5xx and an unreachable database.
	_, err = (&report.TransparencyDB{BaseURL: srv.URL, Token: "wrong", Client: srv.Client()}).Submit(ctx, &sts[1])
	wantCode(t, err, vigil.EUNAUTHORIZED)
	fake.mu.Lock()
	fake.fail5xx = true
	fake.mu.Unlock()
	_, err = db.Submit(ctx, &sts[1])
	wantCode(t, err, vigil.EUNAVAILABLE)
	srv.Close()
	_, err = db.Submit(ctx, &sts[1])
	wantCode(t, err, vigil.EUNAVAILABLE)
}

func TestParseDSAReply(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		code   string
	}{
		{201, `{"uuid":"u","puid":"p"}`, ""},
		{201, `{"puid":"p"}`, vigil.EINTERNAL}, // stored, but no uuid: not a retry
		{201, `<html>`, vigil.EINTERNAL},
		{422, `{"message":"m","errors":{"puid":["taken"]}}`, vigil.EINVALID}, // no existing statement named
		{422, `{"message":"m","errors":{"puid":["taken"]},"existing":{"uuid":"u"}}`, ""},
		{422, `{"message":"m","errors":{"puid":["taken"]},"existing":{"puid":"p"}}`, ""},
		{422, `{"message":"m","errors":{"puid":["taken"],"category":["x"]},"existing":{"puid":"p"}}`, vigil.EINVALID},
		{422, `{"message":"The decision ground field is required."}`, vigil.EINVALID},
		{422, `not json`, vigil.EINVALID},
		{401, ``, vigil.EUNAUTHORIZED},
		{403, ``, vigil.EINVALID},
		{500, ``, vigil.EUNAVAILABLE},
		{503, `{}`, vigil.EUNAVAILABLE},
	} {
		_, err := report.ParseDSAReply(tc.status, []byte(tc.body))
		if got := vigil.ErrorCode(err); got != tc.code && (tc.code != "" || err != nil) {
			t.Errorf("%d %s: %v, want code %q", tc.status, tc.body, err, tc.code)
		}
	}
	_, err := report.ParseDSAReply(201, make([]byte, report.MaxDSAReply+1))
	wantCode(t, err, vigil.ETOOLARGE)
}

func FuzzParseDSAReply(f *testing.F) {
	f.Add(201, []byte(`{"uuid":"u","puid":"p","permalink":"https://x"}`))
	f.Add(422, []byte(`{"message":"m","errors":{"puid":["taken"]},"existing":{"uuid":"u"}}`))
	f.Add(422, []byte(`{"message":"m","errors":{"decision_facts":["x\n\u0000"]}}`))
	f.Add(500, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r, err := report.ParseDSAReply(status, body)
		if err == nil && (r == nil || r.UUID == "" && !r.Existing) {
			t.Fatalf("success without a uuid: %+v", r)
		}
		if err != nil && strings.ContainsAny(vigil.ErrorMessage(err), "\n\r\x00") {
			t.Fatalf("error quotes control characters: %q", vigil.ErrorMessage(err))
		}
	})
}
