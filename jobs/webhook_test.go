package jobs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"job.completed"}`)
	now := time.Unix(1_800_000_000, 0)
	header := func(secret []byte, ts int64, b []byte) http.Header {
		h := http.Header{}
		h.Set(jobs.HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(jobs.HeaderSignature, jobs.Sign(secret, ts, b))
		return h
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		body []byte
		ok   bool
	}{
		{"valid", header(testSecret, now.Unix(), body), body, true},
		{"tampered body", header(testSecret, now.Unix(), body), []byte(`{"id":"evt_2","type":"job.completed"}`), false},
		{"other secret", header([]byte("another-secret-of-32-bytes-long!"), now.Unix(), body), body, false},
		{"replayed late", header(testSecret, now.Add(-10*time.Minute).Unix(), body), body, false},
		{"from the future", header(testSecret, now.Add(10*time.Minute).Unix(), body), body, false},
		{"no headers", http.Header{}, body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := jobs.Verify(testSecret, tc.h, tc.body, now, 5*time.Minute)
			if (err == nil) != tc.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// The documented scheme, spelled out: HMAC-SHA256 over "ts.body".
	mac := hmac.New(sha256.New, []byte("key"))
	mac.Write([]byte("1700000000.{}"))
	if got, want := jobs.Sign([]byte("key"), 1700000000, []byte("{}")), "v1="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestWebhookConfig(t *testing.T) {
	e := mustOpenEnv(t)
	for _, tc := range []struct {
		name string
		wh   jobs.Webhook
		hook string
	}{
		{"no secret", jobs.Webhook{URL: "https://example.org/hook"}, "a"},
		{"short secret", jobs.Webhook{URL: "https://example.org/hook", Secret: []byte("short")}, "a"},
		{"not http", jobs.Webhook{URL: "ftp://example.org/", Secret: testSecret}, "a"},
		{"no host", jobs.Webhook{URL: "https:///x", Secret: testSecret}, "a"},
		{"bad name", jobs.Webhook{URL: "https://example.org/hook", Secret: testSecret}, "Bad Name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jobs.Open(context.Background(), e.config(map[string]jobs.Webhook{tc.hook: tc.wh}))
			if vigil.ErrorCode(err) != vigil.EINVALID {
				t.Fatalf("Open = %v, want EINVALID", err)
			}
		})
	}
}

func TestNotifyRetriesUntilDelivered(t *testing.T) {
	testNotifyRetriesUntilDelivered(t, mustOpenEnv(t))
}

// TestNotifyRetriesUntilDeliveredPostgres runs the same on River's pgx
// driver.
func TestNotifyRetriesUntilDeliveredPostgres(t *testing.T) {
	testNotifyRetriesUntilDelivered(t, mustOpenPostgresEnv(t))
}

func testNotifyRetriesUntilDelivered(t *testing.T, e *env) {
	rc := newReceiver(t, http.StatusInternalServerError, http.StatusTooManyRequests)
	c := mustOpenClient(t, e.config(map[string]jobs.Webhook{"platform": {URL: rc.URL, Secret: testSecret}}), true)

	ctx := context.Background()
	if err := c.Notify(ctx, "nowhere", vigil.Event{Type: vigil.EventRuleMatched}); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Fatalf("unknown webhook: %v", err)
	}
	ev := vigil.Event{ID: "evt_retry", Type: vigil.EventRuleMatched, Data: json.RawMessage(`{"rule":"r1"}`)}
	if err := c.Notify(ctx, "platform", ev); err != nil {
		t.Fatal(err)
	}
	rc.wait(t, 3)
	ds := rc.got()
	if len(ds) != 3 {
		t.Fatalf("got %d deliveries, want 3", len(ds))
	}
	for _, d := range ds {
		if d.verified != nil || d.id != "evt_retry" || d.typ != vigil.EventRuleMatched || string(d.event.Data) != `{"rule":"r1"}` {
			t.Fatalf("delivery %+v", d)
		}
	}
}

func TestNotifyCancelsWhenRefused(t *testing.T) {
	rc := newReceiver(t, http.StatusGone)
	e := mustOpenEnv(t)
	cfg := e.config(map[string]jobs.Webhook{"platform": {URL: rc.URL, Secret: testSecret}})
	c := mustOpenClient(t, cfg, true)
	if err := c.Notify(context.Background(), "platform", vigil.Event{Type: vigil.EventRuleMatched}); err != nil {
		t.Fatal(err)
	}
	rc.wait(t, 1)
	// The job is the only one: id 1.
	j := waitJob(t, c, 1)
	if j.State != vigil.JobCancelled || j.Attempts != 1 || j.Kind != vigil.JobKindWebhook {
		t.Fatalf("job %+v", j)
	}
	if ds := rc.got(); len(ds) != 1 || ds[0].id == "" {
		t.Fatalf("deliveries %+v", ds)
	}
}

// FuzzVerify checks that Verify accepts exactly the signature Sign makes
// for the body and timestamp, whatever the headers hold.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"id":"e"}`), "1800000000", "v1=00")
	f.Add([]byte{}, "-1", "")
	f.Add([]byte("x"), "99999999999999999999", "v1=")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string) {
		h := http.Header{}
		h.Set(jobs.HeaderTimestamp, ts)
		h.Set(jobs.HeaderSignature, sig)
		err := jobs.Verify(testSecret, h, body, now, time.Hour)
		n, perr := strconv.ParseInt(h.Get(jobs.HeaderTimestamp), 10, 64)
		want := perr == nil && n >= now.Add(-time.Hour).Unix() && n <= now.Add(time.Hour).Unix() &&
			h.Get(jobs.HeaderSignature) == jobs.Sign(testSecret, n, body)
		if (err == nil) != want {
			t.Fatalf("Verify(%q, ts %q, sig %q) = %v, want ok=%v", body, ts, sig, err, want)
		}
	})
}

// TestNotifyUsesClock checks that event times and signature timestamps
// come from the configured clock.
func TestNotifyUsesClock(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	e := mustOpenEnv(t)
	cfg := e.config(map[string]jobs.Webhook{"platform": {URL: rc.URL, Secret: testSecret}})
	then := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg.Now = func() time.Time { return then }
	c := mustOpenClient(t, cfg, true)
	if err := c.Notify(context.Background(), "platform", vigil.Event{Type: vigil.EventRuleMatched}); err != nil {
		t.Fatal(err)
	}
	rc.wait(t, 1)
	d := rc.got()[0]
	if !d.event.Time.Equal(then) || d.header.Get(jobs.HeaderTimestamp) != strconv.FormatInt(then.Unix(), 10) {
		t.Fatalf("event time %v, timestamp %s", d.event.Time, d.header.Get(jobs.HeaderTimestamp))
	}
	if err := jobs.Verify(testSecret, d.header, d.body, then, time.Second); err != nil {
		t.Fatal(err)
	}
}
