package report

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vigil-oss/vigil"
)

// ncmecSchema is NCMEC's CyberTipline schema as of November 2025 (see
// testdata/ncmec/README.md for its provenance). It lives under testdata
// because the tests validate against the same file the binary embeds.
//
//go:embed testdata/ncmec/cyber_tipline.xsd
var ncmecSchema []byte

// MaxDocumentSize bounds a rendering handed to the validator: a report
// with every field at its limit is far smaller.
const MaxDocumentSize = 8 << 20

// Validator checks renderings against NCMEC's XML schema with xmllint
// (Debian's libxml2-utils): Go has no XSD validator, and a report the
// schema refuses is refused by NCMEC too (code 4100), so nothing is sent
// without passing it. Without xmllint it refuses every document.
type Validator struct {
	// SchemaPath is the schema to validate against; empty: the embedded
	// copy. A deployment points it at the live schema it downloaded.
	SchemaPath string
	// XMLLint is the xmllint program; empty: "xmllint" on PATH.
	XMLLint string

	once    sync.Once
	tmp     string // the embedded schema written out, when SchemaPath is empty
	onceErr error
}

// ErrNoValidator is returned when xmllint cannot be found: a document that
// cannot be checked is not sent.
var ErrNoValidator = vigil.Errorf(vigil.EUNSUPPORTED,
	"xmllint (Debian package libxml2-utils) is not installed: reports cannot be checked against the NCMEC schema, so none is sent")

// schema returns the path of the schema file.
func (v *Validator) schema() (string, error) {
	if v.SchemaPath != "" {
		return v.SchemaPath, nil
	}
	v.once.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-xsd-")
		if err != nil {
			v.onceErr = fmt.Errorf("write ncmec schema: %w", err)
			return
		}
		p := filepath.Join(dir, "cyber_tipline.xsd")
		if err := os.WriteFile(p, ncmecSchema, 0o600); err != nil {
			v.onceErr = fmt.Errorf("write ncmec schema: %w", err)
			return
		}
		v.tmp = p
	})
	return v.tmp, v.onceErr
}

// Close removes the schema file the validator wrote, if any.
func (v *Validator) Close() error {
	if v.tmp == "" {
		return nil
	}
	return os.RemoveAll(filepath.Dir(v.tmp))
}

// Validate checks doc against the schema. EINVALID, naming what the schema
// refuses (the element, as NCMEC's 4100 would), if it does not validate;
// ErrNoValidator without xmllint.
func (v *Validator) Validate(ctx context.Context, doc []byte) error {
	if len(doc) > MaxDocumentSize {
		return vigil.Errorf(vigil.ETOOLARGE, "document larger than %d bytes", MaxDocumentSize)
	}
	prog := v.XMLLint
	if prog == "" {
		prog = "xmllint"
	}
	path, err := exec.LookPath(prog)
	if err != nil {
		return ErrNoValidator
	}
	schema, err := v.schema()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, "--noout", "--nonet", "--schema", schema, "-")
	cmd.Stdin = bytes.NewReader(doc)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &exit) && (exit.ExitCode() == 1 || exit.ExitCode() == 3 || exit.ExitCode() == 4):
		// 1: not well-formed XML; 3 and 4: does not validate. Others (5:
		// the schema does not compile) are the deployment's fault.
		return vigil.Errorf(vigil.EINVALID, "not valid against the NCMEC schema: %s", lintProblems(stderr.String()))
	default:
		return fmt.Errorf("run xmllint: %w: %s", err, lintProblems(stderr.String()))
	}
}

// lintProblems keeps xmllint's error lines, without the "-:LINE:" noise
// of standard input, at most a few of them.
func lintProblems(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasSuffix(l, "fails to validate") {
			continue
		}
		if i := strings.Index(l, "Schemas validity error : "); i >= 0 {
			l = l[i+len("Schemas validity error : "):]
		}
		keep = append(keep, l)
		if len(keep) == 5 {
			break
		}
	}
	if len(keep) == 0 {
		return "xmllint gave no reason"
	}
	return strings.Join(keep, "; ")
}
