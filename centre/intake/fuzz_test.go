package intake_test

import (
	"context"
	"testing"

	"github.com/vigil-oss/vigil/centre/intake"
)

func FuzzParseEU(f *testing.F) {
	f.Add(golden(f, "imagery.eu.json"))
	f.Add(golden(f, "grooming.eu.json"))
	f.Add([]byte(`{"template":"t","sections":[{"id":"content","fields":{"files":[{"sha256":"zz","matches":[{}]}]}}]}`))
	f.Add([]byte(`{"template":"t","sections":[{"id":"users","fields":{"reported_user":{"id":"\u202e"}}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := intake.ParseEU(body)
		if err != nil {
			return
		}
		for _, file := range p.Files {
			for _, s := range file.Signals() {
				if s.Value == "" {
					t.Fatalf("empty signal from %q", body)
				}
			}
		}
	})
}

func FuzzParseNCMEC(f *testing.F) {
	f.Add(golden(f, "imagery.report.xml"), true)
	f.Add(golden(f, "grooming.report.xml"), false)
	f.Add(golden(f, "imagery.file1.xml"), true)
	f.Add([]byte(`<report><personOrUserReported><espIdentifier>u</espIdentifier></personOrUserReported></report>`), false)
	f.Fuzz(func(t *testing.T, doc []byte, multi bool) {
		body, ct := doc, "application/xml"
		if multi {
			// The fuzzed document as the report and as a file of one.
			body, ct = multipartNCMEC(t, golden(t, "imagery.report.xml"), doc)
		}
		p, err := intake.ParseNCMEC(context.Background(), body, ct, nil)
		if err != nil {
			return
		}
		if len(p.Files) > 1 {
			t.Fatalf("%d files from one document", len(p.Files))
		}
	})
}
