package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestHostedLookupCommands: lookup keys with limits, a key's limits
// changed, and a bank's reveal level, from the command line, each in the
// audit log.
func TestHostedLookupCommands(t *testing.T) {
	data := newDataDir(t)
	run := func(args ...string) string {
		t.Helper()
		out, _, err := runMain(t, "", args...)
		if err != nil {
			t.Fatalf("vigil %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	run("key", "create", "--data", data, "--role", "lookup", "--name", "partner", "--rate", "50", "--burst", "100", "--daily", "100000")
	if out := run("key", "list", "--data", data); !strings.Contains(out, `"role":"lookup"`) || !strings.Contains(out, `"limits":{"rate":50,"burst":100,"daily":100000}`) {
		t.Fatalf("key list: %s", out)
	}
	var k vigil.Key
	if err := json.Unmarshal([]byte(run("key", "limits", "--data", data, "--daily", "10", "1")), &k); err != nil || k.Limits == nil || *k.Limits != (vigil.KeyLimits{Daily: 10}) {
		t.Fatalf("key limits: %+v %v", k.Limits, err)
	}
	var dk vigil.Key
	if err := json.Unmarshal([]byte(run("key", "limits", "--data", data, "--default", "1")), &dk); err != nil || dk.Limits != nil {
		t.Fatalf("key limits --default: %+v %v", dk.Limits, err)
	}
	for _, bad := range [][]string{
		{"key", "limits", "--data", data, "1"},                             // nothing to set
		{"key", "limits", "--data", data, "--default", "--rate", "1", "1"}, // both
		{"key", "create", "--data", data, "--role", "lookup", "--rate", "-1"},
		{"bank", "create", "--data", data, "--reveal", "entries", "b"},
		{"bank", "reveal", "--data", data, "b", "everything"},
	} {
		if _, _, err := runMain(t, "", bad...); err == nil {
			t.Errorf("vigil %s accepted", strings.Join(bad, " "))
		}
	}
	run("bank", "create", "--data", data, "--reveal", "source", "hosted")
	if out := run("bank", "list", "--data", data); !strings.Contains(out, `"reveal":"source"`) {
		t.Fatalf("bank list: %s", out)
	}
	if out := run("bank", "reveal", "--data", data, "hosted", "full"); !strings.Contains(out, `"reveal":"full"`) {
		t.Fatalf("bank reveal: %s", out)
	}
	audit := run("audit", "list", "--data", data)
	for _, want := range []string{`"action":"key.limits"`, `"action":"bank.update"`, `\"reveal\":\"full\"`, `\"limits\":{\"rate\":50,\"burst\":100,\"daily\":100000}`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %s:\n%s", want, audit)
		}
	}
}

// TestServeFeedSync runs vigil serve --feed-sync on a subscriber: a change
// cut at the publisher is matched at the subscriber without vigil feed
// sync, the loop's rounds show on /readyz, and a publisher that goes away
// shows there as a failing source.
func TestServeFeedSync(t *testing.T) {
	f := newFeedFixture(t)
	pub, sub, keyFile, must := f.pub, f.sub, f.keyFile, f.must
	must("", "feed", "subscribe", "--data", sub, "--key", f.vkey, "--bank", "mirror", f.srv.URL()+"/v1/feeds/list")

	s := startServe(t, "--data", sub, "--feed-sync", "200ms", "--refresh", "100ms")
	// A change at the publisher, cut; the subscriber's server applies it.
	const later = "0cc175b9c0f1b6a831c399e269772661"
	must(later+"\n", "bank", "import", "--data", pub, "--signal-type", "md5", "list", "-")
	must("", "feed", "cut", "--data", pub, "--key-file", keyFile, "list")
	lookup := `{"signals":[{"type":"md5","value":"` + later + `"}]}`
	waitFor(t, "the subscriber's server to match the new entry", func() bool {
		_, body := s.call("POST", "/v1/lookup", "application/json", strings.NewReader(lookup))
		return strings.Contains(string(body), `"bank":"mirror"`)
	})
	var ready struct {
		Status   string
		FeedSync struct {
			Rounds  int64
			Sources int
			Failing []string
		} `json:"feed_sync"`
	}
	_, body := s.call("GET", "/readyz", "", nil)
	if err := json.Unmarshal(body, &ready); err != nil || ready.FeedSync.Rounds < 1 || ready.FeedSync.Sources != 1 || len(ready.FeedSync.Failing) != 0 {
		t.Fatalf("readyz: %s", body)
	}
	_, metrics := s.call("GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics), `vigil_feed_loop_syncs_total{result="ok",source="subscription:1"}`) {
		t.Errorf("metrics lack the loop's syncs")
	}

	// The publisher goes away: the loop reports the source failing, the
	// server stays ready and keeps matching what it has.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.srv.Close(ctx)
	waitFor(t, "the failing source on /readyz", func() bool {
		_, body := s.call("GET", "/readyz", "", nil)
		json.Unmarshal(body, &ready)
		return len(ready.FeedSync.Failing) == 1 && ready.FeedSync.Failing[0] == "subscription:1"
	})
	_, body = s.call("GET", "/readyz", "", nil)
	if ready.Status != "ready" || strings.Contains(string(body), "127.0.0.1") || !strings.Contains(string(body), "subscription:1") {
		t.Errorf("readyz with a failing source: %s", body)
	}
	if _, body := s.call("POST", "/v1/lookup", "application/json", strings.NewReader(lookup)); !strings.Contains(string(body), `"bank":"mirror"`) {
		t.Errorf("lost the last good state: %s", body)
	}
}
