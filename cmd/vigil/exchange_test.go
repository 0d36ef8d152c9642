package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestServeExchange runs a StopNCII sync inside vigil serve's feed loop:
// the bank is created, the hash lands in it and is matched, a failing
// round shows on /readyz by the source's name without its error's secret.
func TestServeExchange(t *testing.T) {
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() || r.URL.Path != "/v1/FetchHashes" || r.Header.Get("x-functions-key") != "fk" || r.Header.Get("Ocp-Apim-Subscription-Key") != "sk" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, `{"count":1,"nextPageToken":"","nextSetTimestamp":1700000000,"hasMoreRecords":false,
			"hashRecords":[{"lastModtimestamp":1,"signalType":"VideoMD5","hashValue":"d41d8cd98f00b204e9800998ecf8427e","hashStatus":"Active","caseNumbers":{}}]}`)
	}))
	defer srv.Close()
	t.Setenv("VIGIL_STOPNCII_SUBSCRIPTION_KEY", "sk")
	t.Setenv("VIGIL_STOPNCII_FETCH_KEY", "fk")
	t.Setenv("VIGIL_STOPNCII_BASE_URL", srv.URL+"/v1")
	s := startServe(t, "--feed-sync", "200ms", "--exchange", "stopncii:ncii")
	waitFor(t, "the exchange's hash in its bank", func() bool {
		code, body := s.call("POST", "/v1/lookup", "application/json", strings.NewReader(`{"signals":[{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"}]}`))
		return code == http.StatusOK && strings.Contains(string(body), `"bank":"ncii"`)
	})
	fail.Store(true)
	waitFor(t, "the failing round on /readyz", func() bool {
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var ready struct {
			FeedSync struct {
				Failing []string `json:"failing"`
			} `json:"feed_sync"`
		}
		json.NewDecoder(resp.Body).Decode(&ready)
		return len(ready.FeedSync.Failing) == 1 && ready.FeedSync.Failing[0] == "stopncii:ncii"
	})
}

func TestParseExchange(t *testing.T) {
	for _, ok := range []string{"stopncii:a", "ncmec:b", "threatexchange:c:12345"} {
		if _, err := parseExchange(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"stopncii", "stopncii:", "ncmec:a:b", "threatexchange:c", "threatexchange:c:x", "other:a"} {
		if _, err := parseExchange(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if res := runExec(t, "", "serve", "--exchange", "stopncii:a"); res.code != 2 || !strings.Contains(res.stderr, "--feed-sync") {
		t.Errorf("--exchange without --feed-sync: exit %d: %s", res.code, res.stderr)
	}
}
