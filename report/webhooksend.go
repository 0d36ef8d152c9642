package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// Headers of a report delivered to a webhook, besides jobs'
// Vigil-Timestamp and Vigil-Signature (the same scheme as Vigil's event
// webhooks, so one receiver verifies both).
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	// EventReportSubmitted is the Vigil-Event-Type of a report delivery.
	EventReportSubmitted = "report.submitted"
)

// MaxWebhookReply bounds what is read of a receiver's reply.
const MaxWebhookReply = 64 << 10

// WebhookBody is what the webhook destination posts: the incident's EU
// Centre rendering, with the ids a receiver needs to file it once.
type WebhookBody struct {
	SubmissionID   int64           `json:"submission_id"`
	IncidentID     int64           `json:"incident_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	Format         string          `json:"format"` // "eu"
	Report         json.RawMessage `json:"report"`
}

// Webhook is a destination of the deployment's choice (a national
// hotline's intake, a case system, a relay to the EU Centre once it
// exists): one signed POST of the incident's EU Centre rendering.
//
// Every attempt carries the submission's idempotency key (the header
// Idempotency-Key, also Vigil-Event-Id), made once when the submission
// starts, so a delivery retried after a lost reply is recognised by the
// receiver and filed once; a receiver must drop a key it has seen. Each
// attempt is signed at its own time (Vigil-Timestamp): HMAC-SHA256 with
// Secret ("v1=…", as jobs.Sign) or, with Ed25519Key, an Ed25519
// signature ("ed25519=" and base64) of the same "timestamp.body", which
// the receiver can check without holding a secret that could forge one.
// VerifyWebhook checks both, with a replay window.
//
// Replies: 2xx is done; 408, 429, 5xx, a timeout or no reply is retried
// with the job's backoff; any other status fails the submission.
type Webhook struct {
	URL        string
	Secret     []byte             // HMAC-SHA256 key, at least jobs.MinSecretLen bytes
	Ed25519Key ed25519.PrivateKey // signs instead of Secret when set
	// EU renders the body; its Now is replaced by the submission's
	// creation time, so every attempt sends the same report.
	EU     *EU
	Client *http.Client     // nil: http.DefaultClient (set a timeout)
	Now    func() time.Time // nil: time.Now; the signing time
}

// Name implements Destination.
func (*Webhook) Name() string { return DestinationWebhook }

// Validate returns an EINVALID error for a webhook that cannot send.
func (w *Webhook) Validate() error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return vigil.Errorf(vigil.EINVALID, "report webhook: URL must be http(s)://host/…")
	}
	if w.Ed25519Key == nil && len(w.Secret) < jobs.MinSecretLen {
		return vigil.Errorf(vigil.EINVALID, "report webhook: a secret of at least %d bytes or an Ed25519 key is required", jobs.MinSecretLen)
	}
	if w.Ed25519Key != nil && len(w.Ed25519Key) != ed25519.PrivateKeySize {
		return vigil.Errorf(vigil.EINVALID, "report webhook: bad Ed25519 key")
	}
	if w.EU == nil {
		return vigil.Errorf(vigil.EINVALID, "report webhook: no EU rendering configured")
	}
	return nil
}

// Render implements Destination: the EU Centre rendering the body
// carries. It needs only EU, so that a dry run checks a report without
// the webhook's address or key.
func (w *Webhook) Render(ctx context.Context, incidents vigil.IncidentService, inc *vigil.Incident) (*Rendering, error) {
	if w.EU == nil {
		return nil, vigil.Errorf(vigil.EINVALID, "report webhook: no EU rendering configured")
	}
	return w.EU.Render(ctx, incidents, inc)
}

func (w *Webhook) idempotencyKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("idempotency key: %w", err)
	}
	return "vigil-" + hex.EncodeToString(b[:]), nil
}

// euAsCreated renders st's incident in the EU format as of the
// submission's creation, so that a resend renders the same bytes, for the
// destinations that send that rendering (webhook, centre). invalid is the
// destination's own configuration check. ok false: the submission was
// stopped as failed (err is the store's, if recording that failed) or
// the rendering failed (err).
func euAsCreated(ctx context.Context, eu *EU, invalid error, st *Steps) (r *Rendering, ok bool, err error) {
	if invalid != nil {
		return nil, false, st.Fail(ctx, vigil.ErrorMessage(invalid))
	}
	if st.Sub.IdempotencyKey == "" {
		return nil, false, st.Fail(ctx, "submission has no idempotency key")
	}
	e := *eu
	created := st.Sub.CreatedAt
	e.Now = func() time.Time { return created }
	if r, err = e.Render(ctx, st.Incidents, st.Incident); err != nil {
		return nil, false, err
	}
	if !r.Valid {
		return nil, false, st.Fail(ctx, r.Error)
	}
	return r, true, nil
}

// Send implements Destination.
func (w *Webhook) Send(ctx context.Context, st *Steps) error {
	r, ok, err := euAsCreated(ctx, w.EU, w.Validate(), st)
	if !ok {
		return err
	}
	sub := st.Sub
	body, err := json.Marshal(WebhookBody{SubmissionID: sub.ID, IncidentID: sub.IncidentID, IdempotencyKey: sub.IdempotencyKey,
		Format: "eu", Report: json.RawMessage(r.Report)})
	if err != nil {
		return fmt.Errorf("encode webhook body: %w", err)
	}
	err = st.Attempt(ctx, "deliver", 0, func() (*Reply, error) { return w.deliver(ctx, sub.IdempotencyKey, body) },
		func(sub *vigil.Submission) { sub.State = vigil.SubmissionFinished })
	if err == nil {
		st.logger.Info("report delivered", "submission", sub.ID, "incident", sub.IncidentID)
		return nil
	}
	if err, ok := retryable(ctx, err); ok {
		return err
	}
	return st.Fail(ctx, vigil.ErrorMessage(err))
}

func (w *Webhook) deliver(ctx context.Context, key string, body []byte) (*Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("report webhook request: %w", err)
	}
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil/"+vigil.Version)
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(jobs.HeaderEventID, key)
	req.Header.Set(jobs.HeaderEventType, EventReportSubmitted)
	req.Header.Set(jobs.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(jobs.HeaderSignature, w.sign(ts, body))
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, vigil.Errorf(vigil.EUNAVAILABLE, "report webhook: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxWebhookReply))
	if err != nil {
		return nil, vigil.Errorf(vigil.EUNAVAILABLE, "report webhook: read reply: %v", err)
	}
	reply := &Reply{HTTPStatus: resp.StatusCode, Body: boundReply(data)}
	return reply, webhookStatusErr(resp.StatusCode)
}

// webhookStatusErr maps a receiver's status: 2xx done, 408/429/5xx worth
// retrying, the rest a refusal.
func webhookStatusErr(status int) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return vigil.Errorf(vigil.EUNAVAILABLE, "report webhook: http %d (will retry)", status)
	}
	return vigil.Errorf(vigil.EINVALID, "report webhook refused the report: http %d", status)
}

func (w *Webhook) sign(ts int64, body []byte) string {
	if w.Ed25519Key != nil {
		return "ed25519=" + base64.StdEncoding.EncodeToString(ed25519.Sign(w.Ed25519Key, signedPayload(ts, body)))
	}
	return jobs.Sign(w.Secret, ts, body)
}

func signedPayload(ts int64, body []byte) []byte {
	return append([]byte(strconv.FormatInt(ts, 10)+"."), body...)
}

// VerifyWebhook checks a report delivery as a receiver should: the
// timestamp within window of now (a captured delivery cannot be replayed
// later) and the signature over "timestamp.body", by secret (HMAC-SHA256,
// "v1=") or by pub (Ed25519, "ed25519="), whichever the receiver holds.
// Dropping a repeated Idempotency-Key is the receiver's part.
func VerifyWebhook(h http.Header, body []byte, now time.Time, window time.Duration, secret []byte, pub ed25519.PublicKey) error {
	sig := h.Get(jobs.HeaderSignature)
	if enc, ok := strings.CutPrefix(sig, "ed25519="); ok {
		if pub == nil {
			return errors.New("webhook signed with ed25519, and no public key to check it")
		}
		ts, err := strconv.ParseInt(h.Get(jobs.HeaderTimestamp), 10, 64)
		if err != nil {
			return errors.New("webhook timestamp missing or malformed")
		}
		if d := now.Sub(time.Unix(ts, 0)); d > window || d < -window {
			return errors.New("webhook timestamp outside tolerance")
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || !ed25519.Verify(pub, signedPayload(ts, body), raw) {
			return errors.New("webhook signature mismatch")
		}
		return nil
	}
	if secret == nil {
		return errors.New("webhook signed with hmac, and no secret to check it")
	}
	return jobs.Verify(secret, h, body, now, window)
}
