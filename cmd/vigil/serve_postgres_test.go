package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/pgtest"
)

// TestServeReplicasPostgres runs two `vigil serve` replicas on one
// PostgreSQL database, each with its own index: an entry added through A
// is matched by B, and its retraction too, without B being told
// anything but the database's notification; the audit records both wrote
// verify as one chain.
func TestServeReplicasPostgres(t *testing.T) {
	url := pgtest.SchemaURL(t)
	// --refresh is long, so that only the notification can bring the
	// change to B in time.
	a := startServe(t, "--db", url, "--refresh", "1h")
	b := startServe(t, "--db", url, "--refresh", "1h")
	if a.key == "" || b.key != "" {
		t.Fatalf("bootstrap keys: A %q, B %q; want one, from the first start only", a.key, b.key)
	}
	b.key = a.key // one store, one set of keys

	const md5 = "0123456789abcdef0123456789abcdef"
	if code, body := a.call("POST", "/v1/banks", "application/json", strings.NewReader(`{"name":"shared","enabled":true}`)); code != 201 {
		t.Fatalf("create bank: %d %s", code, body)
	}
	matched := func(srv *served) bool {
		code, body := srv.call("POST", "/v1/lookup", "application/json",
			strings.NewReader(`{"signals":[{"type":"md5","value":"`+md5+`"}]}`))
		var res struct {
			Results []vigil.MatchResult `json:"results"`
		}
		if err := json.Unmarshal(body, &res); code != 200 || err != nil {
			t.Fatalf("lookup: %d %s", code, body)
		}
		return len(res.Results) == 1 && len(res.Results[0].Matches) == 1
	}
	start := time.Now()
	code, body := a.call("POST", "/v1/banks/shared/entries", "application/json",
		strings.NewReader(`{"entries":[{"signal_type":"md5","value":"`+md5+`"}]}`))
	if code != 201 {
		t.Fatalf("add entry: %d %s", code, body)
	}
	waitFor(t, "B to match the entry added through A", func() bool { return matched(b) })
	t.Logf("entry added through A matched by B %v after the request began", time.Since(start))

	var added struct {
		Entries []vigil.Entry `json:"entries"`
	}
	if err := json.Unmarshal(body, &added); err != nil || len(added.Entries) != 1 {
		t.Fatalf("added: %s", body)
	}
	start = time.Now()
	if code, body := a.call("POST", "/v1/entries/"+jsonInt(added.Entries[0].ID)+"/retract", "application/json",
		strings.NewReader(`{"reason":"test"}`)); code != 200 {
		t.Fatalf("retract: %d %s", code, body)
	}
	waitFor(t, "B to drop the retracted entry", func() bool { return !matched(b) })
	t.Logf("retraction through A seen by B %v after the request began", time.Since(start))

	out, _, err := runMain(t, "", "audit", "verify", "--db", url)
	if err != nil || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify: %s %v", out, err)
	}
	t.Log(strings.TrimSpace(out))
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
