package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
)

// DestinationCentre is a centre running Vigil in centre mode (vigil serve
// --centre): the EU Centre's role, or a hotline's.
const DestinationCentre = "centre"

// StepCentreStatus is the attempt a status poll stores: its reply is the
// centre's feedback (vigil.CentreFeedback), so the incident's
// submissions show every outcome the centre gave and when.
const StepCentreStatus = "status"

// Centre sends approved incidents to a centre as its registered provider:
// one POST of the EU Centre rendering to URL/v1/centre/reports with the
// provider's key, the submission's idempotency key as the provider's
// report id (so a retry after a lost reply finds the report the first
// made), and then polls the report's status and feedback (Poll).
//
// Replies: 201 or 200 (a resend) is done and gives the centre's id of the
// report; 408, 429, 5xx, a timeout or no reply is retried; any other
// status fails the submission with the centre's error message.
type Centre struct {
	URL    string // the centre's base URL: https://centre.example.org
	Key    string // the provider key the centre gave (vigil centre provider add)
	EU     *EU
	Client *http.Client // nil: http.DefaultClient (set a timeout)
}

// Name implements Destination.
func (*Centre) Name() string { return DestinationCentre }

// Validate returns EINVALID for a centre destination that cannot send.
func (c *Centre) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return vigil.Errorf(vigil.EINVALID, "centre: URL must be http(s)://host")
	}
	if !strings.HasPrefix(c.Key, vigil.KeySecretPrefix) {
		return vigil.Errorf(vigil.EINVALID, "centre: a provider key (%s…) is required", vigil.KeySecretPrefix)
	}
	if c.EU == nil {
		return vigil.Errorf(vigil.EINVALID, "centre: no EU rendering configured")
	}
	return nil
}

// Render implements Destination: the EU Centre rendering that is sent.
func (c *Centre) Render(ctx context.Context, incidents vigil.IncidentService, inc *vigil.Incident) (*Rendering, error) {
	if c.EU == nil {
		return nil, vigil.Errorf(vigil.EINVALID, "centre: no EU rendering configured")
	}
	return c.EU.Render(ctx, incidents, inc)
}

func (c *Centre) idempotencyKey() (string, error) { return (*Webhook)(nil).idempotencyKey() }

func (c *Centre) client() *http.Client {
	if c.Client == nil {
		return http.DefaultClient
	}
	return c.Client
}

func (c *Centre) endpoint(parts ...string) string {
	return strings.TrimRight(c.URL, "/") + "/v1/centre/reports" + strings.Join(parts, "")
}

// Send implements Destination.
func (c *Centre) Send(ctx context.Context, st *Steps) error {
	r, ok, err := euAsCreated(ctx, c.EU, c.Validate(), st)
	if !ok {
		return err
	}
	sub := st.Sub
	var got vigil.CentreFeedback
	err = st.Attempt(ctx, "deliver", 0, func() (*Reply, error) {
		reply, body, err := c.do(ctx, http.MethodPost, c.endpoint(), sub.IdempotencyKey, []byte(r.Report))
		if err == nil {
			if jerr := json.Unmarshal(body, &got); jerr != nil || got.ID <= 0 {
				return reply, vigil.Errorf(vigil.EUNAVAILABLE, "centre: reply without a report id (will retry)")
			}
		}
		return reply, err
	}, func(sub *vigil.Submission) {
		sub.ReportID, sub.State = got.ID, vigil.SubmissionFinished
	})
	if err == nil {
		st.logger.Info("report sent to centre", "submission", sub.ID, "incident", sub.IncidentID, "centre_report", got.ID)
		return nil
	}
	if err, ok := retryable(ctx, err); ok {
		return err
	}
	return st.Fail(ctx, vigil.ErrorMessage(err))
}

// do sends one request to the centre and maps its reply's status.
func (c *Centre) do(ctx context.Context, method, u, key string, body []byte) (*Reply, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("centre request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	req.Header.Set("User-Agent", "vigil/"+vigil.Version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderIdempotencyKey, key)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, nil, vigil.Errorf(vigil.EUNAVAILABLE, "centre: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxWebhookReply))
	if err != nil {
		return nil, nil, vigil.Errorf(vigil.EUNAVAILABLE, "centre: read reply: %v", err)
	}
	reply := &Reply{HTTPStatus: resp.StatusCode, Body: boundReply(data)}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return reply, data, nil
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return reply, data, vigil.Errorf(vigil.EUNAVAILABLE, "centre: http %d (will retry)", s)
	case s == http.StatusNotFound:
		return reply, data, vigil.Errorf(vigil.ENOTFOUND, "centre: %s", centreMessage(data, s))
	}
	return reply, data, vigil.Errorf(vigil.EINVALID, "centre refused the request: %s", centreMessage(data, resp.StatusCode))
}

// centreMessage is the error message of a Vigil error body, or the status.
func centreMessage(data []byte, status int) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return fmt.Sprintf("http %d %s: %s", status, e.Error.Code, e.Error.Message)
	}
	return "http " + strconv.Itoa(status)
}

// Poll asks the centre for the status and feedback of the report
// submission sub made, and stores what it says on the submission as a
// StepCentreStatus attempt when it differs from the last one stored (a
// poll that finds nothing new stores nothing). It returns the feedback and
// whether it was new.
func (c *Centre) Poll(ctx context.Context, subs vigil.SubmissionService, sub *vigil.Submission) (*vigil.CentreFeedback, bool, error) {
	if sub.Destination != DestinationCentre || sub.ReportID == 0 {
		return nil, false, vigil.Errorf(vigil.ECONFLICT, "submission %d has no centre report to ask about", sub.ID)
	}
	reply, body, err := c.do(ctx, http.MethodGet, c.endpoint("/", strconv.FormatInt(sub.ReportID, 10)), "", nil)
	if err != nil {
		return nil, false, err
	}
	var fb vigil.CentreFeedback
	if err := json.Unmarshal(body, &fb); err != nil || fb.ID != sub.ReportID {
		return nil, false, vigil.Errorf(vigil.EUNAVAILABLE, "centre: status reply is not the report's feedback")
	}
	canon, err := json.Marshal(fb)
	if err != nil {
		return nil, false, err
	}
	changed := false
	_, err = subs.UpdateSubmission(ctx, sub.ID, func(s *vigil.Submission) error {
		for i := len(s.Attempts) - 1; i >= 0; i-- {
			if s.Attempts[i].Step == StepCentreStatus {
				if s.Attempts[i].Reply == string(canon) {
					return nil
				}
				break
			}
		}
		changed = true
		s.Attempts = append(s.Attempts, vigil.SubmissionAttempt{Step: StepCentreStatus, Started: time.Now().UTC(), Replied: true,
			HTTPStatus: reply.HTTPStatus, Reply: string(canon)})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return &fb, changed, nil
}

// Forward delivers body to the webhook as a centre's forward of a report
// to law enforcement: one signed POST (as Send's), with key as its
// Idempotency-Key, the same on every attempt, so the receiver files it
// once. It returns the receiver's status and reply (bounded), if it
// answered; the error is nil for 2xx, EUNAVAILABLE for 408, 429, 5xx, a
// timeout or no reply, EINVALID for another status. It implements
// centre.Forwarder.
func (w *Webhook) Forward(ctx context.Context, key string, body []byte) (int, []byte, error) {
	if w.URL == "" || (w.Ed25519Key == nil && len(w.Secret) < jobs.MinSecretLen) {
		return 0, nil, vigil.Errorf(vigil.EINVALID, "forward webhook: a URL and a secret or Ed25519 key are required")
	}
	reply, err := w.deliver(ctx, key, body)
	if reply == nil {
		return 0, nil, err
	}
	return reply.HTTPStatus, []byte(reply.Body), err
}
