package http

import (
	"net/http"

	"github.com/vigil-oss/vigil"
)

// Platform ids that a caller may attach to content or a conversation, as
// the query parameters user_id and content_id: they go into the cases and
// webhook events the rules make, so that the platform can act on them.
const maxPlatformIDLen = vigil.MaxEntryFieldLen

// platformIDs reads the optional user_id and content_id query parameters.
func platformIDs(r *http.Request) (vigil.ContentRef, error) {
	q := r.URL.Query()
	ref := vigil.ContentRef{UserID: q.Get("user_id"), ContentID: q.Get("content_id")}
	return ref, checkPlatformIDs(ref)
}

// checkPlatformIDs checks the platform's ids in ref, from the query or a
// JSON body.
func checkPlatformIDs(ref vigil.ContentRef) error {
	for _, v := range []string{ref.UserID, ref.ContentID} {
		if len(v) > maxPlatformIDLen || !printableID(v) {
			return badRequest("user_id and content_id must be at most %d printable characters", maxPlatformIDLen)
		}
	}
	return nil
}

func printableID(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == 0xfffd {
			return false
		}
	}
	return true
}

// contentSHA256 returns the SHA-256 among signals, if any.
func contentSHA256(sigs []vigil.Signal) string {
	for _, sg := range sigs {
		if sg.Type == vigil.SignalSHA256 {
			return sg.Value
		}
	}
	return ""
}
