package report

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
)

// NCMEC's CyberTipline Reporting API (ISPWS) base URLs. Reports sent to
// the test URL are discarded by NCMEC; it is the default.
const (
	NCMECTestURL       = "https://exttest.cybertip.org/ispws"
	NCMECProductionURL = "https://report.cybertip.org/ispws"
)

// MaxISPWSReply bounds a reply read from ISPWS: its replies are a few
// hundred bytes.
const MaxISPWSReply = 64 << 10

// ISPWS is a client of NCMEC's CyberTipline Reporting API: HTTP Basic,
// XML in and out, every reply carrying a responseCode (0 is success).
type ISPWS struct {
	BaseURL  string // empty: NCMECTestURL
	Username string
	Password string
	HTTP     *http.Client // nil: http.DefaultClient (set a timeout)
}

// ISPWSReply is what ISPWS answered to one request.
type ISPWSReply struct {
	HTTPStatus  int
	Code        *int // responseCode; nil when the body had none
	Description string
	ReportID    int64
	FileID      string
	Hash        string
	Files       []string // reportDoneResponse's file ids
	Body        string   // the body, up to vigil.MaxSubmissionReply bytes
}

// ispwsBody is any ISPWS reply: reportResponse or reportDoneResponse.
type ispwsBody struct {
	ResponseCode        *int   `xml:"responseCode"`
	ResponseDescription string `xml:"responseDescription"`
	ReportID            int64  `xml:"reportId"`
	FileID              string `xml:"fileId"`
	Hash                string `xml:"hash"`
	Files               struct {
		FileID []string `xml:"fileId"`
	} `xml:"files"`
}

// ParseISPWSReply parses the body of an ISPWS reply.
func ParseISPWSReply(status int, body []byte) (*ISPWSReply, error) {
	r := &ISPWSReply{HTTPStatus: status, Body: string(body[:min(len(body), vigil.MaxSubmissionReply)])}
	if len(body) > MaxISPWSReply {
		return r, vigil.Errorf(vigil.ETOOLARGE, "ispws reply larger than %d bytes", MaxISPWSReply)
	}
	var b ispwsBody
	if err := xml.Unmarshal(body, &b); err != nil {
		return r, fmt.Errorf("parse ispws reply (http %d): %w", status, err)
	}
	r.Code, r.Description, r.ReportID, r.FileID, r.Hash, r.Files = b.ResponseCode, strings.TrimSpace(b.ResponseDescription), b.ReportID, strings.TrimSpace(b.FileID), b.Hash, b.Files.FileID
	return r, nil
}

// Response codes ISPWS documents.
const (
	ispwsOK              = 0
	ispwsAlreadyFinished = 5102
)

// ErrNoReply wraps a failure after which the request may or may not have
// reached NCMEC (a timeout, a dropped connection): whoever retries must
// not assume either.
var ErrNoReply = errors.New("no reply from ispws")

// Err returns the error r stands for, nil for success. Failures that may
// pass (NCMEC's server errors, HTTP 5xx) are EUNAVAILABLE; the rest say
// what NCMEC refused, 4100 with the element its schema check named.
func (r *ISPWSReply) Err() error {
	if r.Code == nil {
		if r.HTTPStatus >= 500 {
			return vigil.Errorf(vigil.EUNAVAILABLE, "ncmec: http %d", r.HTTPStatus)
		}
		return vigil.Errorf(vigil.EINTERNAL, "ncmec: http %d without a response code", r.HTTPStatus)
	}
	c, d := *r.Code, r.Description
	if d == "" {
		d = "no description"
	}
	switch {
	case c == ispwsOK && r.HTTPStatus < 300:
		return nil
	case c == ispwsOK:
		return vigil.Errorf(vigil.EUNAVAILABLE, "ncmec: http %d", r.HTTPStatus)
	case c == 1000 || c == 1100 || c == 1110 || c == 1111 || c == 1300:
		return vigil.Errorf(vigil.EUNAVAILABLE, "ncmec %d (server error, will retry): %s", c, d)
	case c == 2000:
		return vigil.Errorf(vigil.EUNAUTHORIZED, "ncmec %d: authentication required (check the credentials): %s", c, d)
	case c >= 3000 && c < 4000:
		return vigil.Errorf(vigil.EFORBIDDEN, "ncmec %d: not authorised: %s", c, d)
	case c == 4100:
		return vigil.Errorf(vigil.EINVALID, "ncmec 4100: the report failed NCMEC's schema validation: %s", d)
	case c == 4110:
		return vigil.Errorf(vigil.EINVALID, "ncmec 4110: malformed xml: %s", d)
	case c == 4000 || c == 4200:
		return vigil.Errorf(vigil.EINVALID, "ncmec %d: invalid request: %s", c, d)
	case c == 5001 || c == 5002:
		return vigil.Errorf(vigil.ENOTFOUND, "ncmec %d: report or file does not exist: %s", c, d)
	case c == 5101:
		return vigil.Errorf(vigil.ECONFLICT, "ncmec 5101: report already retracted: %s", d)
	case c == ispwsAlreadyFinished:
		return vigil.Errorf(vigil.ECONFLICT, "ncmec 5102: report already finished: %s", d)
	}
	return vigil.Errorf(vigil.EINTERNAL, "ncmec %d: %s", c, d)
}

func (c *ISPWS) post(ctx context.Context, path, contentType string, body []byte) (*ISPWSReply, error) {
	base := c.BaseURL
	if base == "" {
		base = NCMECTestURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("ispws %s: %w", path, err)
	}
	req.SetBasicAuth(c.Username, c.Password)
	req.Header.Set("Content-Type", contentType)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ispws %s: %w: %w", path, ErrNoReply, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxISPWSReply+1))
	if err != nil {
		return nil, fmt.Errorf("ispws %s: %w: %w", path, ErrNoReply, err)
	}
	r, err := ParseISPWSReply(resp.StatusCode, data)
	if err != nil {
		if resp.StatusCode >= 500 {
			// A proxy's error page: NCMEC did not answer.
			return r, vigil.Errorf(vigil.EUNAVAILABLE, "ncmec %s: http %d", path, resp.StatusCode)
		}
		return r, err
	}
	return r, r.Err()
}

// Submit opens a report with the <report> document; the reply carries
// its reportId.
func (c *ISPWS) Submit(ctx context.Context, doc []byte) (*ISPWSReply, error) {
	return c.post(ctx, "/submit", "text/xml; charset=utf-8", doc)
}

// Upload adds a file to an open report; the reply carries its fileId and
// NCMEC's hash of it.
func (c *ISPWS) Upload(ctx context.Context, reportID int64, name string, data []byte) (*ISPWSReply, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField("id", strconv.FormatInt(reportID, 10)); err != nil {
		return nil, err
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return c.post(ctx, "/upload", w.FormDataContentType(), buf.Bytes())
}

// FileInfo sends a file's <fileDetails>.
func (c *ISPWS) FileInfo(ctx context.Context, doc []byte) (*ISPWSReply, error) {
	return c.post(ctx, "/fileinfo", "text/xml; charset=utf-8", doc)
}

// Finish closes a report: NCMEC takes it and lists its files.
func (c *ISPWS) Finish(ctx context.Context, reportID int64) (*ISPWSReply, error) {
	return c.post(ctx, "/finish", "application/x-www-form-urlencoded", []byte(url.Values{"id": {strconv.FormatInt(reportID, 10)}}.Encode()))
}

// Retract abandons an unfinished report.
func (c *ISPWS) Retract(ctx context.Context, reportID int64) (*ISPWSReply, error) {
	return c.post(ctx, "/retract", "application/x-www-form-urlencoded", []byte(url.Values{"id": {strconv.FormatInt(reportID, 10)}}.Encode()))
}
