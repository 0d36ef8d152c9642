package centre_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre/intake"
	"github.com/vigil-oss/vigil/report"
)

// TestParseNCMECSchema checks the documents against NCMEC's XSD, as the
// intake does: what the schema refuses is refused, naming the document.
func TestParseNCMECSchema(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint (libxml2-utils) not installed")
	}
	golden := func(t *testing.T, name string) []byte {
		b, err := os.ReadFile("../report/testdata/golden/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx := context.Background()
	v := &report.Validator{}
	defer v.Close()
	body, ct, err := intake.Multipart(golden(t, "imagery.report.xml"), golden(t, "imagery.file1.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := intake.ParseNCMEC(ctx, body, ct, v); err != nil {
		t.Fatalf("valid documents: %v", err)
	}
	bad := bytes.Replace(golden(t, "imagery.file1.xml"), []byte("<fileViewedByEsp>true"), []byte("<fileViewedByEsp>perhaps"), 1)
	if body, ct, err = intake.Multipart(golden(t, "imagery.report.xml"), bad); err != nil {
		t.Fatal(err)
	}
	_, err = intake.ParseNCMEC(ctx, body, ct, v)
	if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), "document 1") {
		t.Fatalf("schema-invalid file: %v, want EINVALID naming document 1", err)
	}
}
