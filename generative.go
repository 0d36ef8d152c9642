package vigil

// Sources of a GenerativeAI indication.
const (
	GenerativeAIC2PA = "c2pa" // a C2PA manifest's c2pa.actions
	GenerativeAIXMP  = "xmp"  // the XMP packet's IPTC DigitalSourceType, unsigned
)

// GenerativeAI says that content declares, in its own embedded
// provenance, that a generative or algorithmic process made it or part of
// it. It is shown to reviewers and carried into the incident (NCMEC's
// generativeAi file annotation); it decides nothing. A C2PA declaration
// says how far it holds: whether its signature verifies, whether the file
// is still the one signed (the hard binding) and where the signer's
// certificate leads; an XMP one is plain metadata anyone can write.
type GenerativeAI struct {
	Source string `json:"source"` // GenerativeAIC2PA or GenerativeAIXMP
	// DigitalSourceType is the IPTC code declared, e.g.
	// trainedAlgorithmicMedia, compositeWithTrainedAlgorithmicMedia.
	DigitalSourceType string `json:"digital_source_type"`
	// Generator and Signer are the C2PA claim generator and the signing
	// certificate's subject.
	Generator      string `json:"generator,omitempty"`
	Signer         string `json:"signer,omitempty"`
	SignatureValid bool   `json:"signature_valid,omitempty"`
	BindingValid   bool   `json:"binding_valid,omitempty"`
	// Ingredient says the declaration is an ingredient's manifest's (the
	// picture this one was edited from, or a part placed in it), not the
	// file's own; BindingValid is then false, the binding being to the
	// ingredient's file.
	Ingredient bool `json:"ingredient,omitempty"`
	// Trust is trusted, expired (trusted once, a certificate expired
	// since, and no valid RFC 3161 time-stamp shows the claim was signed
	// while it was valid), revoked (an OCSP response stapled to the
	// signature says so, before the signing time), untrusted, self_signed
	// or invalid_chain. A valid time-stamp makes the chain judged at its
	// time.
	Trust string `json:"trust,omitempty"`
	// Timestamped says the signer's chain was judged at the time of a
	// valid RFC 3161 time-stamp on the signature (when it signed), not
	// now: a certificate expired since is still trusted.
	Timestamped bool `json:"timestamped,omitempty"`
}

// Validate returns an EINVALID error if g cannot be stored with a case:
// a known source and short, printable fields (a certificate's subject is
// outside input).
func (g *GenerativeAI) Validate() error {
	if g.Source != GenerativeAIC2PA && g.Source != GenerativeAIXMP {
		return Errorf(EINVALID, "generative_ai source must be %q or %q", GenerativeAIC2PA, GenerativeAIXMP)
	}
	switch g.Trust {
	case "", "trusted", "expired", "revoked", "untrusted", "self_signed", "invalid_chain":
	default:
		return Errorf(EINVALID, "generative_ai trust %q is not one of trusted, expired, revoked, untrusted, self_signed, invalid_chain", g.Trust)
	}
	for _, f := range []struct{ name, v string }{
		{"digital_source_type", g.DigitalSourceType}, {"generator", g.Generator}, {"signer", g.Signer},
	} {
		if len(f.v) > MaxEntryFieldLen || !Printable(f.v) {
			return Errorf(EINVALID, "generative_ai %s must be at most %d printable bytes", f.name, MaxEntryFieldLen)
		}
	}
	return nil
}

// Verified reports whether a C2PA declaration holds end to end: its
// signature verifies, the file is the one signed, and the signer chains
// to a trust anchor.
func (g *GenerativeAI) Verified() bool {
	return g.Source == GenerativeAIC2PA && g.SignatureValid && g.BindingValid && g.Trust == "trusted"
}
