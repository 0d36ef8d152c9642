package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
)

// MaxDSAReply bounds what is read of a Transparency Database reply: a
// created statement is echoed back, a few kilobytes.
const MaxDSAReply = 1 << 20

// TransparencyDB submits statements of reasons to the EU DSA Transparency
// Database API (POST {BaseURL}/api/v1/statement, Bearer token).
type TransparencyDB struct {
	// BaseURL is the database's address without the /api path, e.g. its
	// sandbox for tests of a platform's integration.
	BaseURL string
	// Token is the platform's API token.
	Token  string
	Client *http.Client
}

// DSAReceipt is what the database answered for a statement.
type DSAReceipt struct {
	HTTPStatus int    `json:"http_status"`
	UUID       string `json:"uuid"`
	PUID       string `json:"puid"`
	Permalink  string `json:"permalink,omitempty"`
	// Existing says the database already held a statement with this puid
	// (an earlier attempt got through): sending again adds none. Its
	// documentation shows the existing statement with its uuid; its code
	// (PuidNotUniqueSingleException) sends only the puid, so UUID may be
	// empty then (GET /api/v1/statement/existing-puid/{puid} finds it).
	Existing bool `json:"existing,omitempty"`
	// Body is the reply as received, bounded by MaxDSAReply, for the
	// submission's record of the attempt.
	Body []byte `json:"-"`
}

// Submit validates s and posts it. A statement that breaks a rule is
// refused without a request (EINVALID). The database's 422 is EINVALID
// with its errors by field, 401 EUNAUTHORIZED, 5xx and transport failures
// EUNAVAILABLE (worth retrying: the database documents that nothing was
// stored), other statuses EINVALID with the status.
func (t *TransparencyDB) Submit(ctx context.Context, s *DSAStatement) (*DSAReceipt, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(t.BaseURL, "/")+"/api/v1/statement", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("transparency database request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	client := t.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, vigil.Errorf(vigil.EUNAVAILABLE, "transparency database: %v", err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, MaxDSAReply+1))
	if err != nil {
		return nil, vigil.Errorf(vigil.EUNAVAILABLE, "transparency database: read reply: %v", err)
	}
	return ParseDSAReply(resp.StatusCode, reply)
}

// ParseDSAReply reads the database's answer to one statement.
func ParseDSAReply(status int, body []byte) (*DSAReceipt, error) {
	if len(body) > MaxDSAReply {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "transparency database: reply larger than %d bytes", MaxDSAReply)
	}
	r := &DSAReceipt{HTTPStatus: status, Body: body}
	switch {
	case status == http.StatusCreated:
		var created struct {
			UUID      string `json:"uuid"`
			PUID      string `json:"puid"`
			Permalink string `json:"permalink"`
		}
		if err := json.Unmarshal(body, &created); err != nil || created.UUID == "" {
			// Created but unreadable: the statement is in the database, so
			// this must not read as a failure to retry.
			return r, vigil.Errorf(vigil.EINTERNAL, "transparency database: http 201 without a statement uuid")
		}
		r.UUID, r.PUID, r.Permalink = created.UUID, created.PUID, created.Permalink
		return r, nil
	case status == http.StatusUnprocessableEntity:
		var refused struct {
			Message  string              `json:"message"`
			Errors   map[string][]string `json:"errors"`
			Existing *struct {
				UUID      string `json:"uuid"`
				PUID      string `json:"puid"`
				Permalink string `json:"permalink"`
			} `json:"existing"`
		}
		if err := json.Unmarshal(body, &refused); err != nil {
			return r, vigil.Errorf(vigil.EINVALID, "transparency database: http 422 with an unreadable body")
		}
		if refused.Existing != nil && len(refused.Errors) == 1 && refused.Errors["puid"] != nil {
			r.UUID, r.PUID, r.Permalink, r.Existing = refused.Existing.UUID, refused.Existing.PUID, refused.Existing.Permalink, true
			return r, nil
		}
		fields := make([]string, 0, len(refused.Errors))
		for f := range refused.Errors {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		var msgs []string
		for _, f := range fields {
			msgs = append(msgs, f+": "+quote(strings.Join(refused.Errors[f], " ")))
		}
		if len(msgs) == 0 {
			msgs = append(msgs, quote(refused.Message))
		}
		return r, vigil.Errorf(vigil.EINVALID, "transparency database refused the statement: %s", strings.Join(msgs, "; "))
	case status == http.StatusUnauthorized:
		return r, vigil.Errorf(vigil.EUNAUTHORIZED, "transparency database: the API token was refused (http 401)")
	case status >= 500:
		return r, vigil.Errorf(vigil.EUNAVAILABLE, "transparency database: http %d (server error, will retry)", status)
	default:
		return r, vigil.Errorf(vigil.EINVALID, "transparency database: http %d", status)
	}
}

// maxDSAMessage bounds the database's words quoted in an error.
const maxDSAMessage = 300

// quote keeps what the database said printable and short: it goes into
// errors shown to reviewers and logs.
func quote(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > maxDSAMessage {
		s = string([]rune(s)[:maxDSAMessage]) + "…"
	}
	return s
}
