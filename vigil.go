// Package vigil holds Vigil's domain types and the interfaces between its
// parts. Technology lives in sub-packages (pdq, hamming, grooming, sqlite,
// http, …); wiring lives in cmd/vigil.
package vigil

// SignalType names a kind of fingerprint of content.
type SignalType string

// Signal types known to Vigil.
const (
	SignalPDQ     SignalType = "pdq"
	SignalVPDQ    SignalType = "vpdq"
	SignalMD5     SignalType = "md5"
	SignalSHA1    SignalType = "sha1"
	SignalSHA256  SignalType = "sha256"
	SignalURL     SignalType = "url"
	SignalKeyword SignalType = "keyword"
	// SignalText is free text (a message, a post) looked up against the
	// URL and keyword entries of every bank; banks do not hold it.
	SignalText SignalType = "text"
)

// Version is the Vigil release, set at build time with
// -ldflags "-X github.com/vigil-oss/vigil.Version=…".
var Version = "0.1.0-dev"
