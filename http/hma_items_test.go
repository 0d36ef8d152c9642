package http_test

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// Expectations written from HMA's code: curation.py's bank_add_content,
// _bank_add_signals, bank_get_content, bank_update_content and bank_update,
// matching.py's raw_lookup and lookup, the postgres store's
// bank_add_content (one BankContent row per add, no uniqueness on the
// signal) and python-threatexchange's BankContentConfig.enabled.

// hmaAddSignal adds a PDQ through /c/bank/NAME/signal and returns its id.
func hmaAddSignal(t *testing.T, ts *testServer, bank, pdq string) int64 {
	t.Helper()
	r := ts.hma(t, vigil.RoleCurator, "POST", "/c/bank/"+bank+"/signal", "application/json", strings.NewReader(`{"pdq":"`+pdq+`"}`))
	if r.code != 200 {
		t.Fatalf("add signal to %s: %d %q", bank, r.code, r.body)
	}
	var added struct {
		ID int64 `json:"id"`
	}
	r.json(t, &added)
	return added.ID
}

// Every HMA content add is an item of its own: the same hash twice in one
// bank gives two ids, and lookups report both. /v1 adds stay
// de-duplicated.
func TestHMAContentItemsAreNeverMerged(t *testing.T) {
	ts := mustOpenHMA(t)
	cur, mat := vigil.RoleCurator, vigil.RoleMatcher
	if r := ts.hma(t, cur, "POST", "/c/banks", "application/json", strings.NewReader(`{"name":"DUP"}`)); r.code != 201 {
		t.Fatalf("create: %d %q", r.code, r.body)
	}
	a, b := hmaAddSignal(t, ts, "DUP", imagePDQ), hmaAddSignal(t, ts, "DUP", imagePDQ)
	if a == b {
		t.Fatalf("the same hash added twice got one id (%d): HMA gives each add its own", a)
	}
	ct, body := hmaUpload(t, "photo", testImage(t), nil)
	r := ts.hma(t, cur, "POST", "/c/bank/DUP/content", ct, body)
	var up struct{ ID int64 }
	r.json(t, &up)
	if up.ID == a || up.ID == b || up.ID == 0 {
		t.Fatalf("upload of the same image: id %d, have %d and %d", up.ID, a, b)
	}
	ids := itoa(a) + "," + itoa(b) + "," + itoa(up.ID)
	raw := "/m/raw_lookup?signal_type=pdq&signal=" + imagePDQ
	if r := ts.hma(t, mat, "GET", raw, "", nil); string(r.body) != `{"matches":[`+ids+`]}` {
		t.Fatalf("raw_lookup: %q, want the three items", r.body)
	}
	var got map[string][]map[string]any
	ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&signal="+imagePDQ, "", nil).json(t, &got)
	if len(got["DUP"]) != 3 || got["DUP"][0]["bank_content_id"] != float64(a) || got["DUP"][1]["bank_content_id"] != float64(b) {
		t.Fatalf("lookup: %v", got)
	}
	for _, id := range []int64{a, b, up.ID} {
		if r := ts.hma(t, cur, "GET", "/c/bank/DUP/content/"+itoa(id), "", nil); r.code != 200 {
			t.Errorf("content %d: %d", id, r.code)
		}
	}
	// Deleting one leaves the others.
	if r := ts.hma(t, cur, "DELETE", "/c/bank/DUP/content/"+itoa(a), "", nil); string(r.body) != `{"deleted":1}` {
		t.Fatalf("delete: %q", r.body)
	}
	if r := ts.hma(t, mat, "GET", raw, "", nil); string(r.body) != `{"matches":[`+itoa(b)+","+itoa(up.ID)+`]}` {
		t.Fatalf("raw_lookup after delete: %q", r.body)
	}
	// /v1 adds of the same hash are idempotent, as before.
	add := jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "pdq", "value": imagePDQ}}})
	var res struct{ Result vigil.ImportResult }
	if code := ts.do(t, cur, "POST", "/v1/banks/dup/entries", "", add, &res); code != 201 || res.Result.Added != 1 {
		t.Fatalf("/v1 add: %d %+v", code, res.Result)
	}
	add = jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "pdq", "value": imagePDQ}}})
	if code := ts.do(t, cur, "POST", "/v1/banks/dup/entries", "", add, &res); code != 201 || res.Result.Added != 0 || res.Result.Duplicates != 1 {
		t.Fatalf("/v1 add again: %d %+v", code, res.Result)
	}
}

// disable_until_ts, note and metadata are kept and returned as HMA does,
// and /m/lookup honours disable_until_ts while /m/raw_lookup does not.
func TestHMAContentDisableNoteMetadata(t *testing.T) {
	ts := mustOpenHMA(t)
	cur, mat := vigil.RoleCurator, vigil.RoleMatcher
	ts.hma(t, cur, "POST", "/c/banks", "application/json", strings.NewReader(`{"name":"KEPT"}`))
	ct, body := hmaUpload(t, "photo", testImage(t), map[string]string{"note": "seen in a report",
		"metadata": `{"content_id":"c-1","content_uri":"https://example.org/c-1","json":{"a":[1,2]},"collab":{"X":["1"]}}`})
	r := ts.hma(t, cur, "POST", "/c/bank/KEPT/content", ct, body)
	var added struct{ ID int64 }
	r.json(t, &added)
	cpath := "/c/bank/KEPT/content/" + itoa(added.ID)

	var c map[string]json.RawMessage
	ts.hma(t, cur, "GET", cpath, "", nil).json(t, &c)
	if string(c["note"]) != `"seen in a report"` || string(c["disable_until_ts"]) != "1" ||
		string(c["metadata"]) != `{"content_id":"c-1","content_uri":"https://example.org/c-1","json":{"a":[1,2]},"collab":null}` {
		t.Fatalf("content: %s", r.body)
	}
	if _, ok := c["signals"]; ok {
		t.Errorf("signals without include_signals")
	}
	c = nil
	ts.hma(t, cur, "GET", cpath+"?include_metadata=false", "", nil).json(t, &c)
	if _, ok := c["metadata"]; ok {
		t.Errorf("metadata with include_metadata=false")
	}

	for _, tc := range []struct{ meta, msg string }{
		{`{"other":1}`, "Invalid metadata: other: Extra inputs are not permitted"},
		{`[1]`, "metadata should be a json object"},
		{`not json`, "metadata form field must be valid JSON"},
		{`{"content_id":7}`, "Invalid metadata: content_id: Input should be a valid string"},
	} {
		ct, body := hmaUpload(t, "photo", testImage(t), map[string]string{"metadata": tc.meta})
		if r := ts.hma(t, cur, "POST", "/c/bank/KEPT/content", ct, body); r.code != 400 || r.message(t) != tc.msg {
			t.Errorf("metadata %s: %d %q", tc.meta, r.code, r.body)
		}
	}
	// A note on /signal; a falsy note is none.
	id := hmaAddSignal(t, ts, "KEPT", strings.Repeat("ab", 32))
	c = nil
	ts.hma(t, cur, "GET", "/c/bank/KEPT/content/"+itoa(id), "", nil).json(t, &c)
	if _, ok := c["note"]; ok {
		t.Errorf("note on content added without one: %s", c["note"])
	}
	if r := ts.hma(t, cur, "POST", "/c/bank/KEPT/signal", "application/json", strings.NewReader(`{"pdq":"`+imagePDQ+`","note":5}`)); r.code != 400 || r.message(t) != "note should be a string" {
		t.Errorf("numeric note: %d %q", r.code, r.body)
	}

	lookup := "/m/lookup?signal_type=pdq&signal=" + imagePDQ
	raw := "/m/raw_lookup?signal_type=pdq&signal=" + imagePDQ
	put := func(body string) hmaResp {
		t.Helper()
		return ts.hma(t, cur, "PUT", cpath, "application/json", strings.NewReader(body))
	}
	// Disabled until an hour from now: no match in /m/lookup, one in raw.
	until := time.Now().Add(time.Hour).Unix()
	r = put(`{"disable_until_ts":` + itoa(until) + `}`)
	var cfg map[string]json.RawMessage
	r.json(t, &cfg)
	if r.code != 200 || string(cfg["disable_until_ts"]) != itoa(until) || string(cfg["note"]) != `"seen in a report"` ||
		string(cfg["collab_metadata"]) != "{}" || string(cfg["user_metadata"]) != `{"content_id":"c-1","content_uri":"https://example.org/c-1","json":{"a":[1,2]}}` {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	if r := ts.hma(t, mat, "GET", lookup, "", nil); string(r.body) != "{}" {
		t.Errorf("lookup of content disabled for an hour: %q", r.body)
	}
	if r := ts.hma(t, mat, "GET", raw, "", nil); string(r.body) != `{"matches":[`+itoa(added.ID)+`]}` {
		t.Errorf("raw_lookup of disabled content: %q", r.body)
	}
	c = nil
	ts.hma(t, cur, "GET", cpath, "", nil).json(t, &c)
	if string(c["disable_until_ts"]) != itoa(until) {
		t.Errorf("disable_until_ts read back %s", c["disable_until_ts"])
	}
	// 0 is disabled for good; a time passed is enabled; "1" as a string
	// is HMA's int("1").
	for _, tc := range []struct {
		body  string
		match bool
	}{{`{"disable_until_ts":0}`, false}, {`{"disable_until_ts":1000}`, true}, {`{"disable_until_ts":0}`, false}, {`{"disable_until_ts":"1"}`, true}} {
		if r := put(tc.body); r.code != 200 {
			t.Fatalf("%s: %d %q", tc.body, r.code, r.body)
		}
		r := ts.hma(t, mat, "GET", lookup, "", nil)
		if got := string(r.body) != "{}"; got != tc.match {
			t.Errorf("after %s: lookup %q", tc.body, r.body)
		}
	}
	for _, tc := range []struct{ body, msg string }{
		{`{"disable_until_ts":` + itoa(time.Now().Add(6*365*24*time.Hour).Unix()) + `}`, "disable_until_ts must be less than 5 years in the future"},
		{`{"disable_until_ts":"soon"}`, "Invalid int: 'soon'"},
		{`{"disable_until_ts":-5}`, "disable_until_ts must be a non-negative integer"},
	} {
		if r := put(tc.body); r.code != 400 || r.message(t) != tc.msg {
			t.Errorf("%s: %d %q", tc.body, r.code, r.body)
		}
	}
	// An empty note clears it.
	if r := put(`{"note":""}`); r.code != 200 || !strings.Contains(string(r.body), `"note":null`) {
		t.Errorf("clear note: %d %q", r.code, r.body)
	}

	// Entries that came in through /v1 are content too, without a place
	// for disable_until_ts other than 1.
	var v1 struct{ Entries []vigil.Entry }
	ts.do(t, cur, "POST", "/v1/banks/kept/entries", "", jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "pdq", "value": strings.Repeat("cd", 32)}}}), &v1)
	opath := "/c/bank/KEPT/content/" + itoa(v1.Entries[0].ID)
	if r := ts.hma(t, cur, "PUT", opath, "application/json", strings.NewReader(`{"disable_until_ts":1}`)); r.code != 200 {
		t.Errorf("enable a /v1 entry: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "PUT", opath, "application/json", strings.NewReader(`{"disable_until_ts":0}`)); r.code != 400 {
		t.Errorf("disable a /v1 entry: %d %q", r.code, r.body)
	}
}

// A bank's enabled_ratio between 0 and 1 samples /m/lookup with HMA's coin
// flip: random.Random(seed).random(), the bank taking part when its ratio
// is at least the flip. For seed "a" the flip is 0.272…, for
// "content-123" 0.952… (see TestHMACoinFlipIsPythons).
func TestHMACoinFlipSamplesBanks(t *testing.T) {
	ts := mustOpenHMA(t)
	cur, mat := vigil.RoleCurator, vigil.RoleMatcher
	r := ts.hma(t, cur, "POST", "/c/banks", "application/json", strings.NewReader(`{"name":"HALF","enabled_ratio":0.5}`))
	var bank map[string]any
	r.json(t, &bank)
	if r.code != 201 || bank["matching_enabled_ratio"] != 0.5 {
		t.Fatalf("create: %d %q", r.code, r.body)
	}
	ct, body := hmaUpload(t, "photo", testImage(t), nil)
	ts.hma(t, cur, "POST", "/c/bank/HALF/content", ct, body)

	get := func(query string) string {
		t.Helper()
		return string(ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&signal="+imagePDQ+query, "", nil).body)
	}
	post := func(query string) string {
		t.Helper()
		ct, body := hmaUpload(t, "photo", testImage(t), nil)
		return string(ts.hma(t, mat, "POST", "/m/lookup?"+query, ct, body).body)
	}
	if got := get("&seed=a"); !strings.Contains(got, `"HALF"`) {
		t.Errorf("seed a (flip 0.27 ≤ 0.5): %q, want a match", got)
	}
	if got := get("&seed=content-123"); got != "{}" {
		t.Errorf("seed content-123 (flip 0.95 > 0.5): %q, want none", got)
	}
	// GET never passes bypass_coinflip on; POST does, for "true" only.
	if got := get("&seed=content-123&bypass_coinflip=true"); got != "{}" {
		t.Errorf("GET with bypass_coinflip: %q, want none", got)
	}
	if got := post("seed=content-123"); got != `{"pdq":{}}` {
		t.Errorf("POST seed content-123: %q", got)
	}
	if got := post("seed=content-123&bypass_coinflip=true"); !strings.Contains(got, `"HALF"`) {
		t.Errorf("POST bypassed: %q, want a match", got)
	}
	if got := post("seed=content-123&bypass_coinflip=1"); got != `{"pdq":{}}` {
		t.Errorf("POST bypass_coinflip=1 (not \"true\"): %q", got)
	}

	// A disabled bank (ratio 0): never in a flipped lookup, in a bypassed
	// one (0 ≥ 0), and in raw_lookup, which ignores enablement.
	if r := ts.hma(t, cur, "PUT", "/c/bank/HALF", "application/json", strings.NewReader(`{"enabled":false}`)); r.code != 200 || !strings.Contains(string(r.body), `"matching_enabled_ratio":0`) {
		t.Fatalf("disable: %d %q", r.code, r.body)
	}
	if got := get("&seed=a"); got != "{}" {
		t.Errorf("disabled bank, seed a: %q", got)
	}
	if got := post("seed=a&bypass_coinflip=true"); !strings.Contains(got, `"HALF"`) {
		t.Errorf("disabled bank, bypassed: %q, want a match", got)
	}
	if got := string(ts.hma(t, mat, "GET", "/m/raw_lookup?signal_type=pdq&signal="+imagePDQ, "", nil).body); got == `{"matches":[]}` {
		t.Errorf("raw_lookup of a disabled bank: %q, want its match", got)
	}
	// Matches of a disabled bank open no case, bypass or not.
	var cases struct{ Cases []vigil.Case }
	ts.do(t, vigil.RoleReviewer, "GET", "/v1/cases", "", nil, &cases)
	before := len(cases.Cases)
	post("bypass_coinflip=true")
	ts.do(t, vigil.RoleReviewer, "GET", "/v1/cases", "", nil, &cases)
	if len(cases.Cases) != before {
		t.Errorf("a bypassed lookup of a disabled bank opened a case")
	}
	// The ratio is kept through disable and enable by ratio.
	if r := ts.hma(t, cur, "PUT", "/c/bank/HALF", "application/json", strings.NewReader(`{"enabled_ratio":"0.25"}`)); !strings.Contains(string(r.body), `"matching_enabled_ratio":0.25`) {
		t.Errorf("ratio 0.25: %q", r.body)
	}
	if got := get("&seed=a"); got != "{}" {
		t.Errorf("ratio 0.25, seed a (flip 0.27): %q, want none", got)
	}
}

// PUT /c/bank/NAME {"name": NEW} renames the bank, as HMA's bank_update
// does; a wrong method on an HMA route is werkzeug's HTML 405.
func TestHMABankRenameAnd405(t *testing.T) {
	ts := mustOpenHMA(t)
	cur, mat := vigil.RoleCurator, vigil.RoleMatcher
	for _, n := range []string{"OLD_NAME", "TAKEN"} {
		ts.hma(t, cur, "POST", "/c/banks", "application/json", strings.NewReader(`{"name":"`+n+`"}`))
	}
	id := hmaAddSignal(t, ts, "OLD_NAME", imagePDQ)
	r := ts.hma(t, cur, "PUT", "/c/bank/OLD_NAME", "application/json", strings.NewReader(`{"name":"NEW_NAME"}`))
	var bank map[string]any
	r.json(t, &bank)
	if r.code != 200 || bank["name"] != "NEW_NAME" || bank["matching_enabled_ratio"] != float64(1) {
		t.Fatalf("rename: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "GET", "/c/bank/OLD_NAME", "", nil); r.code != 404 {
		t.Errorf("old name: %d", r.code)
	}
	if r := ts.hma(t, cur, "GET", "/c/bank/NEW_NAME/content/"+itoa(id), "", nil); r.code != 200 {
		t.Errorf("content under the new name: %d %q", r.code, r.body)
	}
	var got map[string][]map[string]any
	ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&signal="+imagePDQ, "", nil).json(t, &got)
	if len(got["NEW_NAME"]) != 1 {
		t.Errorf("lookup after rename: %v", got)
	}
	var vb vigil.Bank
	if code := ts.do(t, cur, "GET", "/v1/banks/new_name", "", nil, &vb); code != 200 {
		t.Errorf("/v1 under the new name: %d", code)
	}
	// The same rename through /v1, and back; a taken name is 409 there.
	if code := ts.do(t, cur, "PATCH", "/v1/banks/new_name", "", jsonBody(map[string]any{"name": "via_v1"}), &vb); code != 200 || vb.Name != "via_v1" {
		t.Errorf("/v1 rename: %d %+v", code, vb)
	}
	if code := ts.do(t, cur, "PATCH", "/v1/banks/via_v1", "", jsonBody(map[string]any{"name": "taken"}), nil); code != 409 {
		t.Errorf("/v1 rename to a taken name: %d", code)
	}
	if code := ts.do(t, cur, "PATCH", "/v1/banks/via_v1", "", jsonBody(map[string]any{"name": "new_name"}), nil); code != 200 {
		t.Errorf("/v1 rename back: %d", code)
	}
	for _, tc := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"name":"TAKEN"}`, 403, "Bank name already exists"},
		{`{"name":"lower"}`, 400, "Bank names must be UPPER_WITH_UNDERSCORE"},
	} {
		if r := ts.hma(t, cur, "PUT", "/c/bank/NEW_NAME", "application/json", strings.NewReader(tc.body)); r.code != tc.code || r.message(t) != tc.msg {
			t.Errorf("rename %s: %d %q", tc.body, r.code, r.body)
		}
	}

	const page405 = "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>"
	for _, tc := range []struct{ method, path string }{
		{"POST", "/c/bank/NEW_NAME"}, {"PATCH", "/c/banks"}, {"DELETE", "/m/lookup"}, {"PUT", "/h/hash"}, {"POST", "/status"},
	} {
		r := ts.hma(t, cur, tc.method, tc.path, "", nil)
		if r.code != 405 || string(r.body) != page405 || !strings.HasPrefix(r.ct, "text/html") {
			t.Errorf("%s %s: %d %q %q", tc.method, tc.path, r.code, r.ct, r.body)
		}
	}
	// Vigil's own routes keep their JSON 405.
	if r := ts.hma(t, cur, "PATCH", "/v1/banks", "", nil); r.code != 405 || !strings.Contains(r.ct, "json") {
		t.Errorf("/v1 405: %d %q", r.code, r.ct)
	}
}

// Video content is hashed as HMA's video signal types do: video_md5 and
// python-threatexchange's vpdq (a JSON list of "hash,quality,timestamp"),
// matched with VPDQSimilarityInfo's distance, "Q%[C%]".
func TestHMAVideoVPDQ(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	ts := mustOpenHMA(t)
	cur, mat := vigil.RoleCurator, vigil.RoleMatcher
	video, err := os.ReadFile("../vpdq/testdata/sample-videos/pattern-sd-with-small-logo-bar.mp4")
	if err != nil {
		t.Fatal(err)
	}
	ct, body := hmaUpload(t, "video", video, nil)
	r := ts.hma(t, mat, "POST", "/h/hash", ct, body)
	var hashes map[string]string
	r.json(t, &hashes)
	var feats []string
	if r.code != 200 || len(hashes["video_md5"]) != 32 || json.Unmarshal([]byte(hashes["vpdq"]), &feats) != nil || len(feats) == 0 {
		t.Fatalf("hash video: %d %.300s", r.code, r.body)
	}
	if parts := strings.Split(feats[0], ","); len(parts) != 3 || len(parts[0]) != 64 || !strings.HasPrefix(hashes["vpdq"], `["`) || !strings.Contains(hashes["vpdq"], `", "`) {
		t.Fatalf("vpdq feature %q of %.200s", feats[0], hashes["vpdq"])
	}

	ts.hma(t, cur, "POST", "/c/banks", "application/json", strings.NewReader(`{"name":"VIDEOS"}`))
	ct, body = hmaUpload(t, "video", video, map[string]string{"note": "sample"})
	r = ts.hma(t, cur, "POST", "/c/bank/VIDEOS/content", ct, body)
	var added struct {
		ID      int64
		Signals map[string]string
	}
	r.json(t, &added)
	if r.code != 200 || added.Signals["vpdq"] != hashes["vpdq"] || added.Signals["video_md5"] != hashes["video_md5"] {
		t.Fatalf("add video: %d %.300s", r.code, r.body)
	}
	var c map[string]any
	ts.hma(t, cur, "GET", "/c/bank/VIDEOS/content/"+itoa(added.ID)+"?include_signals=true", "", nil).json(t, &c)
	if sig := c["signals"].(map[string]any); sig["vpdq"] != hashes["vpdq"] || sig["video_md5"] != hashes["video_md5"] {
		t.Fatalf("content signals %v", sig)
	}

	ct, body = hmaUpload(t, "video", video, nil)
	var got map[string]map[string][]map[string]any
	ts.hma(t, mat, "POST", "/m/lookup", ct, body).json(t, &got)
	if m := got["vpdq"]["VIDEOS"]; len(m) != 1 || m[0]["bank_content_id"] != float64(added.ID) || m[0]["distance"] != "100%[100%]" {
		t.Fatalf("vpdq lookup %v", got)
	}
	if m := got["video_md5"]["VIDEOS"]; len(m) != 1 || m[0]["distance"] != "-" {
		t.Fatalf("video_md5 lookup %v", got)
	}
	// By signal, and compared.
	var raw struct{ Matches []int64 }
	ts.hma(t, mat, "GET", "/m/raw_lookup?signal_type=vpdq&signal="+url.QueryEscape(hashes["vpdq"]), "", nil).json(t, &raw)
	if len(raw.Matches) != 1 || raw.Matches[0] != added.ID {
		t.Fatalf("raw_lookup vpdq %v", raw)
	}
	var cmp map[string][]any
	ts.hma(t, mat, "POST", "/m/compare", "application/json", jsonBody(map[string]any{"vpdq": []string{hashes["vpdq"], hashes["vpdq"]}})).json(t, &cmp)
	if len(cmp["vpdq"]) != 2 || cmp["vpdq"][0] != true || cmp["vpdq"][1].(map[string]any)["query_match_percent"] != float64(100) {
		t.Fatalf("compare %v", cmp)
	}
	if r := ts.hma(t, mat, "GET", "/m/raw_lookup?signal_type=vpdq&signal=nonsense", "", nil); r.code != 400 || !strings.HasPrefix(r.message(t), "invalid signal: ") {
		t.Errorf("bad vpdq: %d %q", r.code, r.body)
	}
}
