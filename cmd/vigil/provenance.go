package main

import (
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/vigil-oss/vigil/provenance"
)

// maxTrustFile bounds a trust-anchor file: the C2PA trust list is tens of
// kilobytes.
const maxTrustFile = 16 << 20

// provenanceReader returns the reader of C2PA and XMP provenance, trusting
// the PEM certificates in trustFile (none when it is empty: signatures are
// still verified, and signers reported as untrusted or self-signed) as
// the roots of both signers and time-stamping authorities: a deployment
// concatenates the C2PA trust list and its TSA list into the one file.
func provenanceReader(trustFile string) (*provenance.Reader, error) {
	opts := provenance.Options{Now: time.Now}
	if trustFile != "" {
		fi, err := os.Stat(trustFile)
		if err != nil {
			return nil, fmt.Errorf("c2pa trust anchors: %w", err)
		}
		if fi.Size() > maxTrustFile {
			return nil, fmt.Errorf("c2pa trust anchors: %s is larger than %d bytes", trustFile, maxTrustFile)
		}
		data, err := os.ReadFile(trustFile)
		if err != nil {
			return nil, fmt.Errorf("c2pa trust anchors: %w", err)
		}
		n := 0
		for {
			var b *pem.Block
			if b, data = pem.Decode(data); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := provenance.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("c2pa trust anchors: %s: certificate %d: %w", trustFile, n+1, err)
			}
			opts.Roots = append(opts.Roots, c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("c2pa trust anchors: %s holds no PEM certificate", trustFile)
		}
	}
	return provenance.NewReader(opts)
}
