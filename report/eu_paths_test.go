package report

import (
	"os"
	"strings"
	"testing"
)

// The documentation lists every path a template may use, and the
// embedded template uses only those.
func TestEUSourcePathsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/reporting-eu.md")
	if err != nil {
		t.Fatal(err)
	}
	for p := range euSourcePaths() {
		if !strings.Contains(string(doc), "`"+p+"`") {
			t.Errorf("docs/reporting-eu.md does not list the source path %s", p)
		}
	}
	if DefaultEUTemplate().Template != "eu-centre-report" {
		t.Error("embedded template")
	}
}
