package vigil

import "github.com/vigil-oss/vigil/internal/verror"

// Error codes. The HTTP layer maps them to statuses; callers never see
// internal detail for EINTERNAL.
const (
	ECONFLICT     = verror.ECONFLICT
	EINTERNAL     = verror.EINTERNAL
	EINVALID      = verror.EINVALID
	ENOTFOUND     = verror.ENOTFOUND
	EUNAUTHORIZED = verror.EUNAUTHORIZED
	EFORBIDDEN    = verror.EFORBIDDEN
	ETOOLARGE     = verror.ETOOLARGE
	EUNSUPPORTED  = verror.EUNSUPPORTED
	// EUNAVAILABLE is work refused for now, not for what it is: the
	// server is at a bound (memory for decoding, say); try again later.
	EUNAVAILABLE = verror.EUNAVAILABLE
)

// Error is an application error with a machine-readable code and a message
// that is safe to show to the caller. It is defined in internal/verror so
// that textmatch, which the root package calls to canonicalise text
// signals, can return it without an import cycle; it is the same type.
type Error = verror.Error

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error { return verror.Errorf(code, format, args...) }

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string { return verror.ErrorCode(err) }

// ErrorMessage returns the caller-safe message of err: the message of the
// first *Error in its chain, or "internal error".
func ErrorMessage(err error) string { return verror.ErrorMessage(err) }
