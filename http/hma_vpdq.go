package http

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/vpdq"
)

// HMA's video signal type, python-threatexchange's VPDQSignal ("vpdq"):
// its value is a JSON list of "hash,quality,timestamp" strings, the
// timestamp written with Python's format(t, ".3") (three significant
// digits, "1.23e+02" past 99.9), dumped with json.dumps' ", " separator.
// Vigil stores vPDQ as "frame,quality,hash,timestamp" frames separated by
// ";" (vigil.CanonicalValue); these convert between the two.

// hmaVPDQJSON is stored vPDQ value v in HMA's form.
func hmaVPDQJSON(v string) string {
	frames, err := vpdq.ParseValue(v)
	if err != nil {
		return "[]" // stored values are canonical, so this is not reached
	}
	return hmaVPDQFrames(frames)
}

// hmaVPDQFrames is frames in HMA's form.
func hmaVPDQFrames(frames []vpdq.Frame) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, f := range frames {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"%s,%d,%s"`, f.Hash, f.Quality, pyFormat3(f.Timestamp))
	}
	b.WriteByte(']')
	return b.String()
}

// hmaVPDQValue parses HMA's form into Vigil's canonical value, checking it
// as VpdqCompactFeature.from_str does (three fields, a 64-digit hash,
// quality 0 to 100, a timestamp not negative).
func hmaVPDQValue(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		s = "[]"
	}
	var feats []string
	if err := json.Unmarshal([]byte(s), &feats); err != nil {
		return "", fmt.Errorf("not a JSON list of strings")
	}
	if len(feats) > vigil.MaxVPDQFrames {
		return "", fmt.Errorf("more than %d frames", vigil.MaxVPDQFrames)
	}
	for i, f := range feats {
		if strings.Count(f, ",") != 2 {
			return "", fmt.Errorf("feature %d: want hash,quality,timestamp", i+1)
		}
	}
	frames, err := vpdq.ReadFrames(strings.NewReader(strings.Join(feats, "\n")), vpdq.Limits{})
	if err != nil {
		return "", fmt.Errorf("%s", vigil.ErrorMessage(err))
	}
	var b strings.Builder
	if err := vpdq.WriteFrames(&b, frames); err != nil {
		return "", err
	}
	v, err := vigil.CanonicalValue(vigil.SignalVPDQ, b.String())
	if err != nil {
		return "", fmt.Errorf("%s", vigil.ErrorMessage(err))
	}
	return v, nil
}

// pyFormat3 is Python's format(x, ".3") for x ≥ 0: 'g' with three
// significant digits, except that scientific notation starts at an
// exponent of 2 (not 3) and fixed notation keeps a digit after the point.
func pyFormat3(x float64) string {
	if x == 0 {
		return "0.0"
	}
	e := strconv.FormatFloat(x, 'e', 2, 64) // d.dde±XX, rounded as Python rounds
	mant, exp, _ := strings.Cut(e, "e")
	n, _ := strconv.Atoi(exp)
	if n < -4 || n >= 2 {
		mant = strings.TrimSuffix(strings.TrimRight(mant, "0"), ".")
		sign := "+"
		if n < 0 {
			sign, n = "-", -n
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, n)
	}
	f := strconv.FormatFloat(x, 'f', 2-n, 64)
	if strings.Contains(f, ".") {
		f = strings.TrimRight(f, "0")
	}
	if strings.HasSuffix(f, ".") || !strings.Contains(f, ".") {
		f = strings.TrimSuffix(f, ".") + ".0"
	}
	return f
}

// hmaVPDQCompare is VPDQSignal.compare_hash for /m/compare: python-
// threatexchange's brute-force match at its defaults, as
// [match, {"query_match_percent", "compared_match_percent"}].
func hmaVPDQCompare(a, b string) ([]any, error) {
	av, err := hmaVPDQValue(a)
	if err != nil {
		return nil, err
	}
	bv, err := hmaVPDQValue(b)
	if err != nil {
		return nil, err
	}
	read := func(v string) []vpdq.Frame {
		f, _ := vpdq.ParseValue(v) // canonical: hmaVPDQValue made it
		return f
	}
	c := vpdq.Compare(read(av), read(bv), vpdq.CompareOptions{})
	return []any{c.Match, map[string]float64{"query_match_percent": c.QueryPercent, "compared_match_percent": c.TargetPercent}}, nil
}
