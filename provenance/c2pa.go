package provenance

import (
	"bytes"
	"crypto"
	_ "crypto/sha256" // hash algorithms claims name
	_ "crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// hashedURI is a claim's reference to an assertion: its JUMBF URI and the
// hash of its box.
type hashedURI struct {
	URL  string `cbor:"url"`
	Alg  string `cbor:"alg,omitempty"`
	Hash []byte `cbor:"hash"`
}

// claim holds the fields of a C2PA claim (v1 "c2pa.claim", v2
// "c2pa.claim.v2") this reader uses.
type claim struct {
	ClaimGenerator     string          `cbor:"claim_generator,omitempty"`
	ClaimGeneratorInfo cbor.RawMessage `cbor:"claim_generator_info,omitempty"`
	Signature          string          `cbor:"signature"`
	Assertions         []hashedURI     `cbor:"assertions,omitempty"`
	CreatedAssertions  []hashedURI     `cbor:"created_assertions,omitempty"`
	GatheredAssertions []hashedURI     `cbor:"gathered_assertions,omitempty"`
	Alg                string          `cbor:"alg,omitempty"`
}

// generatorInfo is one claim_generator_info entry.
type generatorInfo struct {
	Name    string `cbor:"name"`
	Version string `cbor:"version,omitempty"`
}

// dataHash is a c2pa.hash.data assertion: the hard binding of a JPEG or
// PNG.
type dataHash struct {
	Exclusions []struct {
		Start  uint64 `cbor:"start"`
		Length uint64 `cbor:"length"`
	} `cbor:"exclusions,omitempty"`
	Alg  string `cbor:"alg,omitempty"`
	Hash []byte `cbor:"hash"`
}

// actionsAssertion is a c2pa.actions (or .v2) assertion.
type actionsAssertion struct {
	Actions []struct {
		Action            string          `cbor:"action"`
		DigitalSourceType string          `cbor:"digitalSourceType,omitempty"`
		SoftwareAgent     cbor.RawMessage `cbor:"softwareAgent,omitempty"` // v1: text; v2: generator info
	} `cbor:"actions"`
}

// readManifestStore fills c from the manifest store in store, checking the
// active manifest's signature and its hard binding to file, a BMFF one
// when bmff is set.
func (r *Reader) readManifestStore(c *C2PA, store, file []byte, bmff bool) {
	p := &jumbfParser{maxDepth: r.limits.MaxBoxDepth, maxBoxes: r.limits.MaxBoxes}
	boxes, err := p.parseBoxes(store, 0)
	if err != nil {
		c.problem(err)
		return
	}
	if len(boxes) == 0 || boxes[0].typ != "jumb" || boxes[0].uuid != uuidManifestStore {
		c.problem(errors.New("c2pa: no manifest store"))
		return
	}
	var manifests []*box
	for _, m := range boxes[0].children {
		if m.typ == "jumb" && (m.uuid == uuidManifest || m.uuid == uuidUpdateManifest) {
			manifests = append(manifests, m)
		}
	}
	c.Manifests = len(manifests)
	if len(manifests) == 0 {
		c.problem(errNoManifest)
		return
	}
	// The active manifest is the last one in the store (C2PA §11.1.4.3);
	// the others are its ingredients', read newest first.
	c.BindingValid = r.readManifest(&c.Manifest, manifests[len(manifests)-1], file, bmff)
	for i := len(manifests) - 2; i >= 0 && len(c.Ingredients)+1 < r.limits.MaxManifests; i-- {
		var ing Manifest
		r.readManifest(&ing, manifests[i], nil, false)
		c.Ingredients = append(c.Ingredients, ing)
	}
}

// readManifest fills c from manifest m and, when file is not nil, checks
// m's hard binding to it (c2pa.hash.bmff for a BMFF file, else
// c2pa.hash.data), reporting whether it holds.
func (r *Reader) readManifest(c *Manifest, m *box, file []byte, bmff bool) (bindingValid bool) {
	c.Label = m.label
	cl, claimBytes, err := r.readClaim(m)
	if err != nil {
		c.problem(err)
		return false
	}
	c.ClaimGenerator = cl.generator(r.dec)
	r.checkSignature(c, m, cl, claimBytes)

	// Only assertions the signed claim lists, with their boxes' hashes
	// matching, count: anything else in the box was not signed.
	store2 := m.child("c2pa.assertions")
	bound := false       // a hard binding for this file's kind was checked
	var unchecked string // a hard binding of a kind this reader does not check
	// Each assertion is hashed once however often the claim lists it, so
	// that the work stays bounded by the manifest's size.
	seen := map[string]bool{}
	for _, ref := range slices.Concat(cl.Assertions, cl.CreatedAssertions, cl.GatheredAssertions) {
		label, ok := assertionLabel(ref.URL, m.label)
		if !ok || seen[label] {
			continue
		}
		seen[label] = true
		base := baseLabel(label)
		if base != "c2pa.hash.data" && base != "c2pa.actions" && base != "c2pa.actions.v2" &&
			base != "c2pa.hash.boxes" && base != "c2pa.hash.bmff" && base != "c2pa.hash.bmff.v2" && base != "c2pa.hash.bmff.v3" {
			continue
		}
		var a *box
		if store2 != nil {
			a = store2.child(label)
		}
		if a == nil {
			c.problem(fmt.Errorf("c2pa: assertion %s is missing", label))
			continue
		}
		if err := checkHash(firstNonEmpty(ref.Alg, cl.Alg), a.body, ref.Hash); err != nil {
			c.problem(fmt.Errorf("c2pa: assertion %s: %w", label, err))
			continue
		}
		content, ok := a.content("cbor")
		if !ok {
			c.problem(fmt.Errorf("c2pa: assertion %s has no CBOR content", label))
			continue
		}
		switch base {
		case "c2pa.hash.data":
			if bmff {
				unchecked = base // a BMFF file is bound by box
				continue
			}
			if bound || file == nil {
				continue
			}
			bound = true
			if err := r.checkDataHash(content, firstNonEmpty(cl.Alg), file); err != nil {
				c.problem(fmt.Errorf("c2pa: hard binding: %w", err))
			} else {
				bindingValid = true
			}
		case "c2pa.hash.bmff", "c2pa.hash.bmff.v2", "c2pa.hash.bmff.v3":
			if !bmff {
				unchecked = base
				continue
			}
			if bound || file == nil {
				continue
			}
			bound = true
			version := map[string]int{"c2pa.hash.bmff": 1, "c2pa.hash.bmff.v2": 2, "c2pa.hash.bmff.v3": 3}[base]
			if err := r.checkBMFFHash(content, cl.Alg, version, file); err != nil {
				c.problem(fmt.Errorf("c2pa: hard binding %s: %w", base, err))
			} else {
				bindingValid = true
			}
		case "c2pa.actions", "c2pa.actions.v2":
			var aa actionsAssertion
			if err := r.dec.Unmarshal(content, &aa); err != nil {
				c.problem(fmt.Errorf("c2pa: assertion %s: %w", label, err))
				continue
			}
			for _, act := range aa.Actions {
				c.Actions = append(c.Actions, Action{
					Action: act.Action, DigitalSourceType: sourceTypeCode(act.DigitalSourceType),
					SoftwareAgent: agentName(r.dec, act.SoftwareAgent),
				})
			}
		default:
			unchecked = base
		}
	}
	switch {
	case bound, file == nil:
	case unchecked != "":
		c.problem(fmt.Errorf("c2pa: hard binding %s is not checked by this reader", unchecked))
	default:
		c.problem(errors.New("c2pa: the claim has no hard binding"))
	}
	return bindingValid
}

// readClaim returns the active manifest's claim and its CBOR bytes, which
// are what the signature signs.
func (r *Reader) readClaim(m *box) (*claim, []byte, error) {
	b := m.child("c2pa.claim.v2")
	if b == nil {
		b = m.child("c2pa.claim")
	}
	if b == nil {
		return nil, nil, errors.New("c2pa: manifest has no claim")
	}
	data, ok := b.content("cbor")
	if !ok {
		return nil, nil, errors.New("c2pa: claim has no CBOR content")
	}
	var cl claim
	if err := r.dec.Unmarshal(data, &cl); err != nil {
		return nil, nil, fmt.Errorf("c2pa: claim: %w", err)
	}
	return &cl, data, nil
}

// generator names the claim's generator: v1's claim_generator, else the
// first claim_generator_info entry (an array in v1, a map in v2).
func (cl *claim) generator(dec cbor.DecMode) string {
	if cl.ClaimGenerator != "" {
		return cl.ClaimGenerator
	}
	if len(cl.ClaimGeneratorInfo) == 0 {
		return ""
	}
	var one generatorInfo
	if err := dec.Unmarshal(cl.ClaimGeneratorInfo, &one); err != nil {
		var list []generatorInfo
		if dec.Unmarshal(cl.ClaimGeneratorInfo, &list) != nil || len(list) == 0 {
			return ""
		}
		one = list[0]
	}
	return strings.TrimSpace(one.Name + " " + one.Version)
}

// agentName returns a softwareAgent's name: text in v1 actions, a
// generator-info map in v2.
func agentName(dec cbor.DecMode, raw cbor.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if dec.Unmarshal(raw, &s) == nil {
		return s
	}
	var gi generatorInfo
	if dec.Unmarshal(raw, &gi) == nil {
		return strings.TrimSpace(gi.Name + " " + gi.Version)
	}
	return ""
}

// checkSignature verifies the claim signature and evaluates its chain.
func (r *Reader) checkSignature(c *Manifest, m *box, cl *claim, claimBytes []byte) {
	label, ok := assertionLabel(cl.Signature, m.label)
	if !ok {
		label = "c2pa.signature"
	}
	sb := m.child(label)
	if sb == nil {
		c.problem(errors.New("c2pa: manifest has no claim signature"))
		return
	}
	data, ok := sb.content("cbor")
	if !ok {
		c.problem(errors.New("c2pa: claim signature has no CBOR content"))
		return
	}
	sig, err := r.decodeSignature(data)
	if err != nil {
		c.problem(err)
		return
	}
	leaf := sig.chain[0]
	c.Alg, c.Signer, c.Issuer = sig.alg, leaf.Subject.String(), leaf.Issuer.String()
	if err := sig.verify(claimBytes); err != nil {
		c.problem(fmt.Errorf("c2pa: claim signature: %w", err))
	} else {
		c.SignatureValid = true
	}
	// A valid time-stamp is when the claim was signed: the signer's chain
	// is judged then, so that it outlives the signer's certificate.
	c.Timestamp = r.checkTimestamp(sig, claimBytes)
	at, stamped := r.now(), false
	if ts := c.Timestamp; ts != nil && ts.Valid {
		if leaf.NotBefore.After(ts.Time) || leaf.NotAfter.Before(ts.Time) {
			ts.Valid, ts.Problem = false, fmt.Sprintf("the time-stamp's time %s is outside the signer certificate's validity (%s to %s)",
				ts.Time.Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
		} else {
			at, stamped = ts.Time, true
		}
	}
	if ts := c.Timestamp; ts != nil && !ts.Valid {
		c.problem(fmt.Errorf("c2pa: %s: %s", ts.Header, ts.Problem))
	}
	var problem error
	c.Trust, problem = r.trust(sig.chain, at, stamped)
	if problem != nil {
		c.problem(fmt.Errorf("c2pa: signer: %w", problem))
	}
	// A stapled OCSP response, checked at the same time: revoked before
	// then, the signer is not trusted whatever its chain.
	c.Revocation = r.checkRevocation(sig, at)
	if rv := c.Revocation; rv != nil && !rv.Valid {
		c.problem(errors.New(rv.Problem))
	}
	if rv := c.Revocation; rv != nil && rv.Valid && rv.Status == "revoked" && !rv.RevokedAt.After(at) {
		c.Trust = Revoked
		c.problem(fmt.Errorf("c2pa: signer: the certificate was revoked at %s, before the signing time", rv.RevokedAt.Format(time.RFC3339)))
	}
}

// trust says where a signer's chain leads at time at: to one of our
// anchors, to a root of its own, or nowhere sound. stamped says at is a
// valid time-stamp's, not the clock's.
func (r *Reader) trust(chain []*x509.Certificate, at time.Time, stamped bool) (string, error) {
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return InvalidChain, fmt.Errorf("certificate %d is not signed by the next: %w", i, err)
		}
	}
	leaf := chain[0]
	if r.roots != nil {
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: r.roots, Intermediates: inter, CurrentTime: at,
			// C2PA names its own extended key usages; which a signer
			// needs is the trust list's business, not this check's.
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			return Trusted, nil
		}
		var invalid x509.CertificateInvalidError
		if stamped && errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return Expired, fmt.Errorf("%w, at the time-stamp's time", err)
		}
		if !stamped && errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			// Real manifests outlive their signers' certificates; without
			// a valid time-stamp to say when it was signed: at the
			// signer's issue, did the chain hold?
			if _, again := leaf.Verify(x509.VerifyOptions{
				Roots: r.roots, Intermediates: inter, CurrentTime: leaf.NotBefore,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			}); again == nil {
				return Expired, fmt.Errorf("%w; no valid time-stamp shows it was signed in time", err)
			}
		}
		if len(chain) > 1 || !selfSigned(leaf) {
			return Untrusted, err
		}
	}
	if len(chain) == 1 && selfSigned(leaf) {
		return SelfSigned, nil
	}
	return Untrusted, nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// checkDataHash checks a c2pa.hash.data assertion against the file: the
// hash of its bytes less the excluded ranges.
func (r *Reader) checkDataHash(content []byte, claimAlg string, file []byte) error {
	var dh dataHash
	if err := r.dec.Unmarshal(content, &dh); err != nil {
		return err
	}
	if len(dh.Exclusions) > r.limits.MaxExclusions {
		return fmt.Errorf("%d exclusions, over the limit of %d", len(dh.Exclusions), r.limits.MaxExclusions)
	}
	h, err := hashAlg(firstNonEmpty(dh.Alg, claimAlg))
	if err != nil {
		return err
	}
	w := h.New()
	pos := uint64(0)
	size := uint64(len(file))
	for _, ex := range dh.Exclusions {
		// In order, not overlapping, inside the file.
		if ex.Start < pos || ex.Length > size || ex.Start > size-ex.Length {
			return fmt.Errorf("exclusion [%d, +%d) out of order or outside the file", ex.Start, ex.Length)
		}
		w.Write(file[pos:ex.Start])
		pos = ex.Start + ex.Length
	}
	w.Write(file[pos:])
	if !bytes.Equal(w.Sum(nil), dh.Hash) {
		return errors.New("the file's hash differs from the signed one: changed after signing")
	}
	return nil
}

// checkHash checks that data hashes to want under the named algorithm.
func checkHash(alg string, data, want []byte) error {
	h, err := hashAlg(alg)
	if err != nil {
		return err
	}
	if !bytes.Equal(digest(h, data), want) {
		return errors.New("hash differs from the claim's")
	}
	return nil
}

func hashAlg(name string) (crypto.Hash, error) {
	switch name {
	case "", "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("hash algorithm %q is not one C2PA allows", name)
}

// assertionLabel returns the label a claim's JUMBF URI names inside the
// manifest: "self#jumbf=c2pa.assertions/L" (relative) or
// "self#jumbf=/c2pa/MANIFEST/c2pa.assertions/L" (absolute, this manifest
// only) give L; "self#jumbf=c2pa.signature" gives c2pa.signature.
func assertionLabel(uri, manifest string) (string, bool) {
	p, ok := strings.CutPrefix(uri, "self#jumbf=")
	if !ok {
		return "", false
	}
	if abs, ok := strings.CutPrefix(p, "/c2pa/"); ok {
		if p, ok = strings.CutPrefix(abs, manifest+"/"); !ok {
			return "", false // another manifest's
		}
	}
	if l, ok := strings.CutPrefix(p, "c2pa.assertions/"); ok {
		return l, l != "" && !strings.Contains(l, "/")
	}
	return p, p != "" && !strings.Contains(p, "/")
}

// baseLabel drops an assertion label's instance suffix ("__2").
func baseLabel(l string) string {
	if i := strings.Index(l, "__"); i > 0 {
		return l[:i]
	}
	return l
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
