package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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

	"github.com/riverqueue/river"
	"github.com/vigil-oss/vigil"
)

// Headers of a webhook delivery.
const (
	HeaderEventID   = "Vigil-Event-Id"   // the event's id: the same on every retry, for dropping duplicates
	HeaderEventType = "Vigil-Event-Type" // the event's type
	HeaderTimestamp = "Vigil-Timestamp"  // Unix seconds when this attempt was signed
	HeaderSignature = "Vigil-Signature"  // "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// MinSecretLen is the shortest webhook secret accepted, in bytes.
const MinSecretLen = 16

// maxResponseRead bounds what is read of a receiver's response: only the
// status matters, but reading a little lets the connection be reused.
const maxResponseRead = 4 << 10

// Webhook is a configured receiver of events.
type Webhook struct {
	URL    string
	Secret []byte // signs every delivery; required
}

func (wh Webhook) validate(name string) error {
	if err := ValidateWebhookName(name); err != nil {
		return err
	}
	u, err := url.Parse(wh.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return vigil.Errorf(vigil.EINVALID, "webhook %q: URL must be http(s)://host/…", name)
	}
	if len(wh.Secret) < MinSecretLen {
		return vigil.Errorf(vigil.EINVALID, "webhook %q: secret must be at least %d bytes", name, MinSecretLen)
	}
	return nil
}

// ValidateWebhookName returns an EINVALID error unless name matches
// [a-z0-9_-]{1,64}, the alphabet of bank names (vigil.ValidateBankName).
func ValidateWebhookName(name string) error {
	if vigil.ValidateBankName(name) != nil {
		return vigil.Errorf(vigil.EINVALID, "webhook name %q must be 1 to %d characters and may hold only a-z, 0-9, _ and -", name, vigil.MaxBankNameLen)
	}
	return nil
}

// SecretEnv is the environment variable that holds the secret of the named
// webhook: VIGIL_WEBHOOK_SECRET_ and the name in upper case, '-' as '_'.
func SecretEnv(name string) string {
	return "VIGIL_WEBHOOK_SECRET_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Sign returns the signature header value of a delivery of body signed at
// timestamp (Unix seconds): "v1=" and the hex HMAC-SHA256, keyed with the
// secret, of the decimal timestamp, a ".", and the body.
func Sign(secret []byte, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery as a receiver should: the signature must match
// the body and timestamp, and the timestamp must be within tolerance of
// now, so that a captured delivery cannot be replayed later.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("webhook timestamp missing or malformed")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook timestamp outside tolerance")
	}
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(want)) {
		return errors.New("webhook signature mismatch")
	}
	return nil
}

const kindWebhook = "vigil_webhook"

// webhookArgs is a delivery job: one event for one webhook. The event is
// stored whole, so that a retry sends the same id and body.
type webhookArgs struct {
	Webhook string      `json:"webhook"`
	Event   vigil.Event `json:"event"`
}

func (webhookArgs) Kind() string { return kindWebhook }

// Notify implements vigil.Notifier: it stores a delivery job for ev, which
// is then sent (and retried) in the background. An empty ev.ID gets a
// random one, a zero ev.Time the current time.
func (c *Client) Notify(ctx context.Context, webhook string, ev vigil.Event) error {
	if _, ok := c.cfg.Webhooks[webhook]; !ok {
		return vigil.Errorf(vigil.ENOTFOUND, "webhook %q is not configured", webhook)
	}
	if ev.Type == "" {
		return vigil.Errorf(vigil.EINVALID, "event has no type")
	}
	if ev.ID == "" {
		var b [16]byte
		rand.Read(b[:])
		ev.ID = "evt_" + hex.EncodeToString(b[:])
	}
	if ev.Time.IsZero() {
		ev.Time = c.cfg.Now().UTC()
	}
	_, err := c.river.Insert(ctx, webhookArgs{Webhook: webhook, Event: ev}, &river.InsertOpts{MaxAttempts: c.cfg.WebhookMaxAttempts})
	if err != nil {
		return fmt.Errorf("queue webhook %q: %w", webhook, err)
	}
	return nil
}

// webhookWorker delivers events. A 2xx answer is a delivery; a 4xx other
// than 408 and 429 means the receiver will never take it, so the job is
// cancelled; anything else is retried with River's backoff.
type webhookWorker struct {
	river.WorkerDefaults[webhookArgs]
	c *Client
}

func (w *webhookWorker) Timeout(*river.Job[webhookArgs]) time.Duration {
	return w.c.cfg.WebhookTimeout + 5*time.Second
}

func (w *webhookWorker) Work(ctx context.Context, job *river.Job[webhookArgs]) error {
	name := job.Args.Webhook
	wh, ok := w.c.cfg.Webhooks[name]
	if !ok {
		// Removed from the configuration since the event was queued.
		return river.JobCancel(fmt.Errorf("webhook %q is no longer configured", name))
	}
	body, err := json.Marshal(job.Args.Event)
	if err != nil {
		return river.JobCancel(fmt.Errorf("encode event: %w", err))
	}
	ts := w.c.cfg.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(fmt.Errorf("webhook %q: %w", name, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil/"+vigil.Version)
	req.Header.Set(HeaderEventID, job.Args.Event.ID)
	req.Header.Set(HeaderEventType, job.Args.Event.Type)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(wh.Secret, ts, body))
	resp, err := w.c.cfg.HTTPClient.Do(req)
	if err != nil {
		// The job's errors are shown through the API: keep the URL (which
		// may carry a token) out of them.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("deliver to webhook %q: %w", name, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		w.c.logger.Debug("webhook delivered", "webhook", name, "event", job.Args.Event.ID, "attempt", job.Attempt)
		return nil
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		return river.JobCancel(fmt.Errorf("webhook %q refused the event: %s", name, resp.Status))
	default:
		return fmt.Errorf("webhook %q answered %s", name, resp.Status)
	}
}
