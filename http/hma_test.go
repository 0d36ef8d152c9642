package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
)

// The expectations below are HMA 1.1.x's answers, written from reading
// its blueprints (OpenMediaMatch/blueprints/{hashing,matching,curation}.py),
// its app's /status, and python-threatexchange's signal types.

// hmaResp is one HMA response: status, content type and raw body.
type hmaResp struct {
	code int
	ct   string
	body []byte
}

func (r hmaResp) json(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("status %d body %q: %v", r.code, r.body, err)
	}
}

// message returns an HMA error's message.
func (r hmaResp) message(tb testing.TB) string {
	tb.Helper()
	var e map[string]string
	r.json(tb, &e)
	return e["message"]
}

func mustOpenHMA(tb testing.TB, allowed ...string) *testServer {
	return mustOpenServer(tb, func(s *vhttp.Server) { s.HMA = &vhttp.HMAOptions{AllowedHosts: allowed} })
}

// hma sends an HMA request as role with its key as Bearer ("" for none).
func (ts *testServer) hma(tb testing.TB, role vigil.Role, method, path, contentType string, body io.Reader) hmaResp {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL()+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+ts.keys[role])
	}
	return doHMA(tb, req)
}

func doHMA(tb testing.TB, req *http.Request) hmaResp {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return hmaResp{resp.StatusCode, resp.Header.Get("Content-Type"), bytes.TrimSpace(data)}
}

// hmaUpload is a multipart body with one file in field (HMA's "photo" or
// "video") and the given text fields.
func hmaUpload(tb testing.TB, field string, data []byte, fields map[string]string) (string, io.Reader) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile(field, "upload.png")
	if err != nil {
		tb.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func testImage(tb testing.TB) []byte {
	tb.Helper()
	img, err := os.ReadFile("testdata/smooth-129x300.png")
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// flatImage is a one-colour image: its PDQ quality is 0.
func flatImage(tb testing.TB) []byte {
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestHMAOffByDefault(t *testing.T) {
	ts := mustOpenServer(t)
	if r := ts.hma(t, vigil.RoleMatcher, "GET", "/m/raw_lookup?signal_type=pdq&signal="+imagePDQ, "", nil); r.code != 404 {
		t.Fatalf("HMA route served without --hma-compat: %d", r.code)
	}
}

func TestHMAStatusAndAuth(t *testing.T) {
	ts := mustOpenHMA(t)
	for _, p := range []string{"/status", "/status/live"} {
		r := ts.hma(t, "", "GET", p, "", nil)
		if r.code != 200 || string(r.body) != "I-AM-ALIVE" {
			t.Errorf("%s: %d %q", p, r.code, r.body)
		}
	}
	path := "/m/raw_lookup?signal_type=pdq&signal=" + imagePDQ
	r := ts.hma(t, "", "GET", path, "", nil)
	if r.code != 401 || r.message(t) == "" || !strings.Contains(r.ct, "json") {
		t.Fatalf("no key: %d %q", r.code, r.body)
	}
	// The key as the password of HTTP Basic, as a client given only
	// https://user:KEY@host/ sends it.
	req, _ := http.NewRequest("GET", ts.URL()+path, nil)
	req.SetBasicAuth("anything", ts.keys[vigil.RoleMatcher])
	if r := doHMA(t, req); r.code != 200 || string(r.body) != `{"matches":[]}` {
		t.Fatalf("basic auth: %d %q", r.code, r.body)
	}
	req.SetBasicAuth("anything", "not-a-key")
	if r := doHMA(t, req); r.code != 401 {
		t.Fatalf("bad basic password: %d", r.code)
	}
	// Hasher and matcher routes take matcher keys, curator routes curator keys.
	if r := ts.hma(t, vigil.RoleMatcher, "GET", "/c/banks", "", nil); r.code != 403 || r.message(t) == "" {
		t.Fatalf("matcher on curator route: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, vigil.RoleReviewer, "GET", path, "", nil); r.code != 403 {
		t.Fatalf("reviewer on matcher route: %d", r.code)
	}
	var routes []string
	ts.hma(t, vigil.RoleMatcher, "GET", "/site-map", "", nil).json(t, &routes)
	if len(routes) == 0 || routes[0] != "/c/bank/<bank_name>" {
		t.Fatalf("site-map %v", routes)
	}
}

// notLoaded is a matcher whose indexes have not loaded yet.
type notLoaded struct{ vigil.MatchService }

func (notLoaded) Status() vigil.IndexStatus         { return vigil.IndexStatus{} }
func (notLoaded) Refresh(ctx context.Context) error { return nil }

func TestHMAIndexNotLoaded(t *testing.T) {
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		s.HMA = &vhttp.HMAOptions{}
		s.Matcher = notLoaded{s.Matcher}
	})
	if r := ts.hma(t, "", "GET", "/status", "", nil); r.code != 503 || string(r.body) != "INDEX-NOT-LOADED" {
		t.Fatalf("/status: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, "", "GET", "/status/live", "", nil); r.code != 200 {
		t.Fatalf("/status/live: %d", r.code)
	}
	r := ts.hma(t, vigil.RoleMatcher, "GET", "/m/raw_lookup?signal_type=pdq&signal="+imagePDQ, "", nil)
	if r.code != 503 || r.message(t) != "index not yet ready" {
		t.Fatalf("raw_lookup: %d %q", r.code, r.body)
	}
	var st map[string]map[string]any
	ts.hma(t, vigil.RoleMatcher, "GET", "/m/index/status", "", nil).json(t, &st)
	if st["pdq"]["present"] != false || st["pdq"]["built_to"] != float64(-1) || st["pdq"]["size"] != float64(0) {
		t.Fatalf("index status %v", st)
	}
}

// TestHMAConformance drives every served route with HMA's request forms
// and checks statuses, JSON types and texts.
func TestHMAConformance(t *testing.T) {
	ts := mustOpenHMA(t)
	cur, mat := vigil.RoleCurator, vigil.RoleMatcher
	img := testImage(t)

	// Banks.
	r := ts.hma(t, cur, "POST", "/c/banks", "application/json", strings.NewReader(`{"name":"TEST_BANK"}`))
	if r.code != 201 {
		t.Fatalf("create: %d %q", r.code, r.body)
	}
	var bank map[string]any
	r.json(t, &bank)
	if bank["name"] != "TEST_BANK" || bank["matching_enabled_ratio"] != float64(1) {
		t.Fatalf("bank %v", bank)
	}
	for _, c := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"name":"TEST_BANK"}`, 403, "Bank already exists"},
		{`{"name":"lower"}`, 400, "Bank names must be UPPER_WITH_UNDERSCORE"},
		{`{"name":"OVER","enabled_ratio":1.5}`, 400, "enabled_ratio must be between 0 and 1"},
	} {
		if r := ts.hma(t, cur, "POST", "/c/banks", "application/json", strings.NewReader(c.body)); r.code != c.code || r.message(t) != c.msg {
			t.Errorf("create %s: %d %q", c.body, r.code, r.body)
		}
	}
	if r := ts.hma(t, cur, "POST", "/c/banks", "application/json", strings.NewReader(`{}`)); r.code != 422 {
		t.Errorf("create without name: %d", r.code)
	}
	if r := ts.hma(t, cur, "GET", "/c/bank/NOPE", "", nil); r.code != 404 || r.message(t) != "bank 'NOPE' not found" {
		t.Errorf("get unknown: %d %q", r.code, r.body)
	}

	// Content: the upload's PDQ, under a new id, 200 (not 201).
	ct, body := hmaUpload(t, "photo", img, map[string]string{"note": "from a test", "metadata": `{"content_id":"c1"}`})
	r = ts.hma(t, cur, "POST", "/c/bank/TEST_BANK/content", ct, body)
	if r.code != 200 {
		t.Fatalf("add content: %d %q", r.code, r.body)
	}
	var added struct {
		ID      int64             `json:"id"`
		Signals map[string]string `json:"signals"`
	}
	r.json(t, &added)
	if added.ID == 0 || added.Signals["pdq"] != imagePDQ {
		t.Fatalf("added %+v", added)
	}
	if r := ts.hma(t, cur, "POST", "/c/bank/TEST_BANK/content", "application/json", strings.NewReader(`{}`)); r.code != 400 || r.message(t) != "Neither `url` nor multipart file upload was received" {
		t.Errorf("add nothing: %d %q", r.code, r.body)
	}

	// Content by id.
	cpath := "/c/bank/TEST_BANK/content/" + itoa(added.ID)
	var content map[string]any
	r = ts.hma(t, cur, "GET", cpath+"?include_signals=true", "", nil)
	r.json(t, &content)
	if r.code != 200 || content["id"] != float64(added.ID) || content["disable_until_ts"] != float64(1) ||
		content["signals"].(map[string]any)["pdq"] != imagePDQ || content["bank"].(map[string]any)["name"] != "TEST_BANK" {
		t.Fatalf("get content: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "GET", "/c/bank/TEST_BANK/content/999999", "", nil); r.code != 404 || r.message(t) != "content '999999' not found" {
		t.Errorf("get unknown content: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "PUT", cpath, "application/json", strings.NewReader(`{"disable_until_ts":1,"note":"ok"}`)); r.code != 200 {
		t.Errorf("update content: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "PUT", cpath, "application/json", strings.NewReader(`{"disable_until_ts":-1}`)); r.code != 400 || r.message(t) != "disable_until_ts must be a non-negative integer" {
		t.Errorf("update content, negative: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "PUT", cpath, "application/json", strings.NewReader(`{"note":"`+strings.Repeat("n", 256)+`"}`)); r.code != 400 || r.message(t) != "note must be at most 255 characters" {
		t.Errorf("update content, long note: %d %q", r.code, r.body)
	}
	// Deleting retracts; the entry stops matching.
	r = ts.hma(t, cur, "POST", "/c/bank/TEST_BANK/signal", "application/json", strings.NewReader(`{"pdq":"`+strings.Repeat("ab", 32)+`"}`))
	var extra struct{ ID int64 }
	r.json(t, &extra)
	if r := ts.hma(t, cur, "DELETE", "/c/bank/TEST_BANK/content/"+itoa(extra.ID), "", nil); r.code != 200 || string(r.body) != `{"deleted":1}` {
		t.Fatalf("delete content: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "DELETE", "/c/bank/TEST_BANK/content/"+itoa(extra.ID), "", nil); string(r.body) != `{"deleted":0}` {
		t.Fatalf("delete again: %q", r.body)
	}
	if r := ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&signal="+strings.Repeat("ab", 32), "", nil); string(r.body) != "{}" {
		t.Fatalf("deleted content matches: %q", r.body)
	}

	// One store: the bank is a Vigil bank, with the entry.
	var vb vigil.Bank
	if code := ts.do(t, cur, "GET", "/v1/banks/test_bank", "", nil, &vb); code != 200 || vb.ActiveEntries != 1 {
		t.Fatalf("/v1 view: %d %+v", code, vb)
	}

	// Raw lookup: ids, or ids and distances as strings.
	raw := "/m/raw_lookup?signal_type=pdq&signal=" + imagePDQ
	if r := ts.hma(t, mat, "GET", raw, "", nil); r.code != 200 || string(r.body) != `{"matches":[`+itoa(added.ID)+`]}` {
		t.Fatalf("raw_lookup: %d %q", r.code, r.body)
	}
	var withDist struct {
		Matches []map[string]any `json:"matches"`
	}
	ts.hma(t, mat, "GET", raw+"&include_distance=true", "", nil).json(t, &withDist)
	if len(withDist.Matches) != 1 || withDist.Matches[0]["bank_content_id"] != float64(added.ID) || withDist.Matches[0]["distance"] != "0" {
		t.Fatalf("raw_lookup with distance: %v", withDist)
	}
	if r := ts.hma(t, mat, "GET", raw+"&banks=OTHER", "", nil); string(r.body) != `{"matches":[]}` {
		t.Fatalf("raw_lookup other bank: %q", r.body)
	}
	// A near hash: distance as a string.
	near := []byte(imagePDQ)
	near[0] = '5' // d (1101) → 5 (0101): one bit
	var nearRes map[string][]map[string]any
	ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&signal="+string(near), "", nil).json(t, &nearRes)
	if got := nearRes["TEST_BANK"]; len(got) != 1 || got[0]["distance"] != "1" {
		t.Fatalf("near lookup %v", nearRes)
	}

	for _, c := range []struct {
		path string
		code int
		msg  string
	}{
		{"/m/raw_lookup?signal_type=pdq&signal=" + strings.ToUpper(imagePDQ), 400, "invalid signal: invalid PDQ hash"},
		{"/m/raw_lookup?signal_type=tmk&signal=abc", 400, "No such SignalType 'tmk'"},
		{"/m/lookup", 400, "Either url or both signal and signal_type are required"},
		{"/m/lookup?signal_type=pdq&signal=xyz", 400, "invalid signal: invalid PDQ hash"},
		{"/m/index/status?signal_type=tmk", 400, "No such signal type 'tmk'"},
	} {
		if r := ts.hma(t, mat, "GET", c.path, "", nil); r.code != c.code || r.message(t) != c.msg {
			t.Errorf("%s: %d %q", c.path, r.code, r.body)
		}
	}
	if r := ts.hma(t, mat, "GET", "/m/raw_lookup?signal_type=pdq", "", nil); r.code != 422 {
		t.Errorf("raw_lookup without signal: %d", r.code)
	}
	if r := ts.hma(t, mat, "GET", raw+"&include_distance=maybe", "", nil); r.code != 422 {
		t.Errorf("include_distance=maybe: %d", r.code)
	}

	// Lookup by signal: keyed by bank; {} for no match.
	var byBank map[string][]map[string]any
	ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&signal="+imagePDQ, "", nil).json(t, &byBank)
	if got := byBank["TEST_BANK"]; len(got) != 1 || got[0]["bank_content_id"] != float64(added.ID) || got[0]["distance"] != "0" {
		t.Fatalf("lookup %v", byBank)
	}
	if r := ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&signal="+strings.Repeat("0", 64), "", nil); r.code != 200 || string(r.body) != "{}" {
		t.Fatalf("no match: %d %q", r.code, r.body)
	}

	// Lookup of an upload: keyed by signal type, then bank.
	ct, body = hmaUpload(t, "photo", img, nil)
	var byType map[string]map[string][]map[string]any
	r = ts.hma(t, mat, "POST", "/m/lookup", ct, body)
	r.json(t, &byType)
	if got := byType["pdq"]["TEST_BANK"]; r.code != 200 || len(got) != 1 || got[0]["distance"] != "0" {
		t.Fatalf("POST lookup: %d %q", r.code, r.body)
	}

	// Hashing: PDQ as lower-case hex, "" below quality 50; one file only.
	ct, body = hmaUpload(t, "photo", img, nil)
	if r := ts.hma(t, mat, "POST", "/h/hash", ct, body); r.code != 200 || string(r.body) != `{"pdq":"`+imagePDQ+`"}` {
		t.Fatalf("hash: %d %q", r.code, r.body)
	}
	ct, body = hmaUpload(t, "photo", flatImage(t), nil)
	if r := ts.hma(t, mat, "POST", "/h/hash", ct, body); r.code != 200 || string(r.body) != `{"pdq":""}` {
		t.Fatalf("low quality hash: %d %q", r.code, r.body)
	}
	ct, body = hmaUpload(t, "audio", img, nil)
	if r := ts.hma(t, mat, "POST", "/h/hash", ct, body); r.code != 400 || r.message(t) != "no such content_type: 'audio'" {
		t.Fatalf("unknown content type: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, mat, "POST", "/h/hash", "application/json", strings.NewReader("{}")); r.code != 400 || r.message(t) != "Missing multipart/form-data file upload" {
		t.Fatalf("no file: %d %q", r.code, r.body)
	}
	var two bytes.Buffer
	mw := multipart.NewWriter(&two)
	for range 2 {
		fw, _ := mw.CreateFormFile("photo", "a.png")
		fw.Write(img)
	}
	mw.Close()
	if r := ts.hma(t, mat, "POST", "/h/hash", mw.FormDataContentType(), &two); r.code != 400 || r.message(t) != "Only one file allowed per request" {
		t.Fatalf("two files: %d %q", r.code, r.body)
	}
	// Bytes that are no video: vpdq cannot hash them (400), video_md5
	// alone can.
	ct, body = hmaUpload(t, "video", []byte("not really a video"), nil)
	if r := ts.hma(t, mat, "POST", "/h/hash", ct, body); r.code != 400 || !strings.HasPrefix(r.message(t), "cannot hash video: ") {
		t.Fatalf("vpdq of no video: %d %q", r.code, r.body)
	}
	ct, body = hmaUpload(t, "video", []byte("not really a video"), nil)
	var vh map[string]string
	ts.hma(t, mat, "POST", "/h/hash?types=video_md5", ct, body).json(t, &vh)
	if len(vh["video_md5"]) != 32 || len(vh) != 1 {
		t.Fatalf("video hash %v", vh)
	}

	// Exact types: added by signal, distance "-".
	r = ts.hma(t, cur, "POST", "/c/bank/TEST_BANK/signal", "application/json", strings.NewReader(`{"video_md5":"`+strings.ToUpper(vh["video_md5"])+`"}`))
	if r.code != 200 {
		t.Fatalf("add signal: %d %q", r.code, r.body)
	}
	ts.hma(t, mat, "GET", "/m/lookup?signal_type=video_md5&signal="+vh["video_md5"], "", nil).json(t, &byBank)
	if got := byBank["TEST_BANK"]; len(got) != 1 || got[0]["distance"] != "-" {
		t.Fatalf("md5 lookup %v", byBank)
	}

	// Index status and compare.
	var st map[string]map[string]any
	ts.hma(t, mat, "GET", "/m/index/status", "", nil).json(t, &st)
	if st["pdq"]["present"] != true || st["pdq"]["size"] != float64(1) || st["video_md5"]["size"] == nil {
		t.Fatalf("index status %v", st)
	}
	r = ts.hma(t, mat, "POST", "/m/compare", "application/json", strings.NewReader(`{"pdq":["`+imagePDQ+`","`+string(near)+`"]}`))
	if r.code != 200 || string(r.body) != `{"pdq":[true,{"distance":1}]}` {
		t.Fatalf("compare: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, mat, "POST", "/m/compare", "application/json", strings.NewReader(`{"pdq":["a"]}`)); r.code != 400 || r.message(t) != "Comparison hash list length must be exactly 2" {
		t.Fatalf("compare one: %d %q", r.code, r.body)
	}

	// Configuration lists.
	var types []map[string]any
	ts.hma(t, cur, "GET", "/c/signal_type", "", nil).json(t, &types)
	if len(types) != 3 || types[0]["name"] != "pdq" || types[2]["name"] != "vpdq" {
		t.Fatalf("signal types %v", types)
	}

	var idx map[string]map[string]any
	ts.hma(t, cur, "GET", "/c/signal_type/index?signal_type=pdq", "", nil).json(t, &idx)
	if len(idx) != 1 || idx["pdq"]["index_size"] != float64(1) || idx["pdq"]["index_out_of_date"] != false {
		t.Fatalf("signal type index %v", idx)
	}
	if r := ts.hma(t, cur, "PUT", "/c/signal_type/pdq", "application/json", strings.NewReader(`{"enabled_ratio":"1"}`)); r.code != 204 {
		t.Fatalf("signal type update: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "PUT", "/c/signal_type/pdq", "application/json", strings.NewReader(`{}`)); r.code != 400 || r.message(t) != "enabled_ratio is required" {
		t.Fatalf("signal type update without ratio: %d %q", r.code, r.body)
	}

	// Vigil banks whose names fit HMA's pattern appear to HMA clients,
	// the others do not.
	for _, name := range []string{"from_v1", "has-dash"} {
		if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": name}), nil); code != 201 {
			t.Fatalf("create %s", name)
		}
	}
	var banks []map[string]any
	ts.hma(t, cur, "GET", "/c/banks", "", nil).json(t, &banks)
	var names []string
	for _, b := range banks {
		names = append(names, b["name"].(string))
	}
	if strings.Join(names, ",") != "FROM_V1,TEST_BANK" {
		t.Fatalf("banks %v", names)
	}

	// Update and delete: disable, shown as ratio 0; delete of an unknown
	// bank is "Done" too, as in HMA.
	r = ts.hma(t, cur, "PUT", "/c/bank/FROM_V1", "application/json", strings.NewReader(`{"enabled":false}`))
	r.json(t, &bank)
	if r.code != 200 || bank["matching_enabled_ratio"] != float64(0) {
		t.Fatalf("update: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "PUT", "/c/bank/NOPE", "application/json", strings.NewReader(`{}`)); r.code != 404 || r.message(t) != "Bank not found" {
		t.Fatalf("update unknown: %d %q", r.code, r.body)
	}
	for _, name := range []string{"TEST_BANK", "NOPE"} {
		if r := ts.hma(t, cur, "DELETE", "/c/bank/"+name, "", nil); r.code != 200 || r.message(t) != "Done" {
			t.Fatalf("delete %s: %d %q", name, r.code, r.body)
		}
	}
	if r := ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&signal="+imagePDQ, "", nil); string(r.body) != "{}" {
		t.Fatalf("lookup after delete: %q", r.body)
	}
}

// TestHMALookupOpensCases checks that a match through /m/lookup runs the
// rules, as /v1/match does.
func TestHMALookupOpensCases(t *testing.T) {
	ts := mustOpenHMA(t)
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	rule := map[string]any{"name": "any-match", "when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "case", "queue": "default", "priority": 50}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	ts.hma(t, vigil.RoleCurator, "POST", "/c/banks", "application/json", strings.NewReader(`{"name":"HOTLINE"}`))
	ts.hma(t, vigil.RoleCurator, "POST", "/c/bank/HOTLINE/signal", "application/json", strings.NewReader(`{"pdq":"`+imagePDQ+`"}`))
	ct, body := hmaUpload(t, "photo", testImage(t), nil)
	if r := ts.hma(t, vigil.RoleMatcher, "POST", "/m/lookup?seed=post-42", ct, body); r.code != 200 {
		t.Fatalf("lookup %d %q", r.code, r.body)
	}
	cases, err := ts.Cases.ListCases(context.Background(), vigil.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || cases[0].Content.SHA256 == "" {
		t.Fatalf("cases %+v", cases)
	}
	// raw_lookup is the bare index query: no rules.
	ts.hma(t, vigil.RoleMatcher, "GET", "/m/raw_lookup?signal_type=pdq&signal="+imagePDQ, "", nil)
	if cases, _ = ts.Cases.ListCases(context.Background(), vigil.CaseFilter{}); len(cases) != 1 {
		t.Fatalf("raw_lookup opened a case: %d", len(cases))
	}
}

// TestHMAURLFetch checks ?url=: an allowed loopback server is fetched;
// one not allowed is refused, also as a redirect target.
func TestHMAURLFetch(t *testing.T) {
	img := testImage(t)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/img.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
		case "/redirect":
			http.Redirect(w, r, strings.Replace(r.URL.Query().Get("to"), "localhost", "127.0.0.1", 1), http.StatusFound)
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("hello"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer src.Close()
	u, _ := url.Parse(src.URL)
	local := "http://localhost:" + u.Port()

	ts := mustOpenHMA(t, "localhost")
	mat := vigil.RoleMatcher
	if r := ts.hma(t, mat, "GET", "/h/hash?url="+url.QueryEscape(local+"/img.png"), "", nil); r.code != 200 || string(r.body) != `{"pdq":"`+imagePDQ+`"}` {
		t.Fatalf("hash url: %d %q", r.code, r.body)
	}
	for _, c := range []struct {
		url, msg string
		code     int
	}{
		{src.URL + "/img.png", "Failed to fetch URL: address refused: private, loopback or link-local", 400},
		{local + "/redirect?to=" + url.QueryEscape(local+"/img.png"), "Failed to fetch URL: address refused: private, loopback or link-local", 400},
		{"ftp://localhost/x", "Invalid or unsafe URL provided", 400},
		{local + "/missing", "Failed to fetch URL: 404 Not Found", 400},
		{local + "/text", "unsupported url ContentType: 'text/plain', if you know the expected type, provide it with the content_type query param", 400},
	} {
		if r := ts.hma(t, mat, "GET", "/h/hash?url="+url.QueryEscape(c.url), "", nil); r.code != c.code || r.message(t) != c.msg {
			t.Errorf("%s: %d %q", c.url, r.code, r.body)
		}
	}

	ts.hma(t, vigil.RoleCurator, "POST", "/c/banks", "application/json", strings.NewReader(`{"name":"URL_BANK"}`))
	r := ts.hma(t, vigil.RoleCurator, "POST", "/c/bank/URL_BANK/content?url="+url.QueryEscape(local+"/img.png"), "", nil)
	if r.code != 200 {
		t.Fatalf("add by url: %d %q", r.code, r.body)
	}
	var byType map[string]map[string][]map[string]any
	ts.hma(t, mat, "GET", "/m/lookup?url="+url.QueryEscape(local+"/img.png"), "", nil).json(t, &byType)
	if len(byType["pdq"]["URL_BANK"]) != 1 {
		t.Fatalf("lookup by url %v", byType)
	}
	var byBank map[string][]map[string]any
	ts.hma(t, mat, "GET", "/m/lookup?signal_type=pdq&url="+url.QueryEscape(local+"/img.png"), "", nil).json(t, &byBank)
	if len(byBank["URL_BANK"]) != 1 {
		t.Fatalf("lookup by url, one type %v", byBank)
	}
}

// TestHMACoopClient drives the routes the way ROOST Coop's HMA service
// (server/services/hmaService/index.ts) does: banks named
// COOP_<ORG>_<NAME> created with enabled_ratio as a string, renamed by
// creating the new bank and deleting the old, ratio updates by PUT,
// content added by upload (field named by content type, metadata as form
// fields) or by URL, hashing by URL, and lookups by signal.
func TestHMACoopClient(t *testing.T) {
	img := testImage(t)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	defer src.Close()
	u, _ := url.Parse(src.URL)
	imgURL := "http://localhost:" + u.Port() + "/a.png"
	// 127.0.0.1: the feed publisher below.
	ts := mustOpenHMA(t, "localhost", "127.0.0.1")
	cur, mat := vigil.RoleCurator, vigil.RoleMatcher
	jsonReq := func(method, path, body string) hmaResp {
		return ts.hma(t, cur, method, path, "application/json", strings.NewReader(body))
	}

	if r := jsonReq("POST", "/c/banks", `{"name":"COOP_ORG1_SCAMS","enabled_ratio":"1"}`); r.code != 201 {
		t.Fatalf("create: %d %q", r.code, r.body)
	}
	// Rename: create the new name, delete the old.
	if r := jsonReq("POST", "/c/banks", `{"name":"COOP_ORG1_FRAUD","enabled_ratio":"1"}`); r.code != 201 {
		t.Fatalf("create renamed: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "DELETE", "/c/bank/COOP_ORG1_SCAMS", "", nil); r.code != 200 {
		t.Fatalf("delete old: %d %q", r.code, r.body)
	}
	if r := jsonReq("PUT", "/c/bank/COOP_ORG1_FRAUD", `{"enabled_ratio":1}`); r.code != 200 {
		t.Fatalf("update ratio: %d %q", r.code, r.body)
	}
	var bank map[string]any
	ts.hma(t, cur, "GET", "/c/bank/COOP_ORG1_FRAUD", "", nil).json(t, &bank)
	if bank["name"] != "COOP_ORG1_FRAUD" || bank["matching_enabled_ratio"] != float64(1) {
		t.Fatalf("bank %v", bank)
	}

	var hashes map[string]string
	if r := ts.hma(t, mat, "GET", "/h/hash?url="+url.QueryEscape(imgURL), "", nil); r.code != 200 {
		t.Fatalf("hash url: %d %q", r.code, r.body)
	} else {
		r.json(t, &hashes)
	}

	// Coop sends metadata.json as the metadata field; HMA's schema takes
	// only content_id, content_uri and json in it (extra="forbid").
	ct, body := hmaUpload(t, "photo", img, map[string]string{"content_id": "post-1", "metadata": `{"content_id":"post-1"}`})
	var byFile struct {
		ID      int64             `json:"id"`
		Signals map[string]string `json:"signals"`
	}
	if r := ts.hma(t, cur, "POST", "/c/bank/COOP_ORG1_FRAUD/content", ct, body); r.code != 200 {
		t.Fatalf("add file: %d %q", r.code, r.body)
	} else {
		r.json(t, &byFile)
	}
	// By URL, metadata and note in a JSON body.
	q := url.Values{"url": {imgURL}}
	if r := ts.hma(t, cur, "POST", "/c/bank/COOP_ORG1_FRAUD/content?"+q.Encode(), "application/json",
		strings.NewReader(`{"metadata":{"content_id":"post-2","json":{"k":"v"}},"note":"reported twice"}`)); r.code != 200 {
		t.Fatalf("add url: %d %q", r.code, r.body)
	}
	if byFile.Signals["pdq"] != hashes["pdq"] {
		t.Fatalf("upload and URL hash differ: %v %v", byFile.Signals, hashes)
	}

	// checkImageMatchWithDetails: lookup by signal, banks are the keys.
	var matches map[string][]map[string]any
	ts.hma(t, mat, "GET", "/m/lookup?"+url.Values{"signal_type": {"pdq"}, "signal": {hashes["pdq"]}}.Encode(), "", nil).json(t, &matches)
	if len(matches["COOP_ORG1_FRAUD"]) == 0 || len(matches) != 1 {
		t.Fatalf("lookup %v", matches)
	}
	// lookupContent by URL with a content type.
	var byType map[string]map[string][]map[string]any
	ts.hma(t, mat, "GET", "/m/lookup?"+url.Values{"url": {imgURL}, "content_type": {"photo"}}.Encode(), "", nil).json(t, &byType)
	if len(byType["pdq"]["COOP_ORG1_FRAUD"]) == 0 {
		t.Fatalf("lookup by url %v", byType)
	}

	// createBank with an exchange: the schema, then POST /c/exchanges
	// (which makes the bank too), then the exchange's status.
	p := newFeedPublisher(t, 2)
	if r := ts.hma(t, cur, "GET", "/c/exchanges/api/vigil_feed/schema", "", nil); r.code != 200 {
		t.Fatalf("schema: %d %q", r.code, r.body)
	}
	if r := jsonReq("POST", "/c/exchanges", p.createBody("COOP_ORG1_SHARED")); r.code != 201 {
		t.Fatalf("create exchange: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "GET", "/c/exchange/COOP_ORG1_SHARED/status", "", nil); r.code != 200 {
		t.Fatalf("exchange status: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "GET", "/c/bank/COOP_ORG1_SHARED", "", nil); r.code != 200 {
		t.Fatalf("exchange bank: %d %q", r.code, r.body)
	}
}

// TestHMAExchanges checks the exchange routes' refusals: unknown API
// types and exchanges answer as HMA does.
func TestHMAExchanges(t *testing.T) {
	ts := mustOpenHMA(t)
	cur := vigil.RoleCurator
	if r := ts.hma(t, cur, "GET", "/c/exchanges", "", nil); r.code != 200 || string(r.body) != "[]" {
		t.Errorf("/c/exchanges: %d %q", r.code, r.body)
	}
	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/c/exchanges/api/fb_threatexchange", "", 400, "no such Exchange API 'fb_threatexchange'"},
		{"GET", "/c/exchanges/api/ncmec/schema", "", 404, "Exchange API 'ncmec' not found"},
		{"POST", "/c/exchanges", `{"api":"ncmec","api_json":{}}`, 400, "bank is required"},
		{"POST", "/c/exchanges", `{"bank":"lower","api":"ncmec"}`, 400, "Field `bank` must match /^[A-Z0-9_]+$/"},
		{"POST", "/c/exchanges", `{"bank":"COOP_X","api":"ncmec","api_json":[]}`, 400, "Field `api_json` must be object"},
		{"POST", "/c/exchanges", `{"bank":"COOP_X","api_json":{}}`, 400, "Field `api_type` is required"},
		{"POST", "/c/exchanges", `{"bank":"COOP_X","api":"ncmec","api_json":{}}`, 400, "No such exchange type 'ncmec'"},
		{"GET", "/c/exchange/COOP_X/status", "", 404, "Exchange 'COOP_X' not found"},
		{"DELETE", "/c/exchange/COOP_X", "", 200, "Exchange deleted"},
	} {
		r := ts.hma(t, cur, c.method, c.path, "application/json", strings.NewReader(c.body))
		if r.code != c.code || r.message(t) != c.msg {
			t.Errorf("%s %s %s: %d %q", c.method, c.path, c.body, r.code, r.body)
		}
	}
}
