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

func golden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../report/testdata/golden/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multipartNCMEC packs CyberTipline documents as the intake takes them.
func multipartNCMEC(t testing.TB, docs ...[]byte) ([]byte, string) {
	t.Helper()
	body, ct, err := intake.Multipart(docs...)
	if err != nil {
		t.Fatal(err)
	}
	return body, ct
}

// TestParseNCMECSchema checks the documents against NCMEC's XSD, as the
// intake does: what the schema refuses is refused, naming the document.
func TestParseNCMECSchema(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint (libxml2-utils) not installed")
	}
	ctx := context.Background()
	v := &report.Validator{}
	defer v.Close()
	body, ct := multipartNCMEC(t, golden(t, "imagery.report.xml"), golden(t, "imagery.file1.xml"))
	if _, err := intake.ParseNCMEC(ctx, body, ct, v); err != nil {
		t.Fatalf("valid documents: %v", err)
	}
	bad := bytes.Replace(golden(t, "imagery.file1.xml"), []byte("<fileViewedByEsp>true"), []byte("<fileViewedByEsp>perhaps"), 1)
	body, ct = multipartNCMEC(t, golden(t, "imagery.report.xml"), bad)
	_, err := intake.ParseNCMEC(ctx, body, ct, v)
	if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), "document 1") {
		t.Fatalf("schema-invalid file: %v, want EINVALID naming document 1", err)
	}
}
