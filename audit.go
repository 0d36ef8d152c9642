package vigil

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Audit actions. Every reveal of content, decision, bank change, export,
// key change and use of an admin endpoint is recorded.
const (
	AuditBankCreate      = "bank.create"
	AuditBankUpdate      = "bank.update"
	AuditBankDisable     = "bank.disable"
	AuditEntriesAdd      = "entries.add"
	AuditEntriesImport   = "entries.import"
	AuditEntryRetract    = "entry.retract"
	AuditBankExport      = "bank.export"
	AuditKeyCreate       = "key.create"
	AuditKeyRevoke       = "key.revoke"
	AuditKeyLimits       = "key.limits" // a key's lookup limits changed
	AuditAdminRequest    = "admin.request"
	AuditContentReveal   = "content.reveal" // a reviewer un-blurred or downloaded case media
	AuditCaseDecide      = "case.decide"
	AuditCaseAssign      = "case.assign"
	AuditCaseWriteBack   = "case.writeback" // a curator added a confirmed case's hashes to a bank
	AuditRuleChange      = "rule.change"
	AuditEntryQuarantine = "entry.quarantine"
	AuditEntryRelease    = "entry.release" // a curator put a quarantined entry back into matching
	AuditLogin           = "session.login"
	AuditItemUpdate      = "item.update"      // HMA content: disable_until_ts or note changed
	AuditClassifierState = "classifier.state" // a curator paused or resumed a classifier
)

// AuditRecord is one entry of the append-only, hash-chained audit log. Hash
// covers every other field, PrevHash included, so changing, inserting or
// removing a record breaks the chain from there on.
type AuditRecord struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`  // who: "key:ID:NAME" (see KeyActor), "cli", …
	Action   string    `json:"action"` // what: one of the Audit* constants
	Target   string    `json:"target"` // on what: "bank:NAME", "entry:ID", …
	Detail   string    `json:"detail,omitempty"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`

	// Complete, if set, is called when the record is stored, inside the
	// transaction of the change it records and after that change, to fill
	// in what only the change decides (a new key's id, say). An error from
	// it fails the change.
	Complete func(r *AuditRecord) error `json:"-"`
}

// Limits on audit record fields, so one record cannot bloat the log.
const (
	MaxAuditFieldLen  = 1024    // Actor, Action, Target
	MaxAuditDetailLen = 1 << 20 // Detail
)

// SetDetail sets Detail to the JSON encoding of v (nothing for nil).
func (r *AuditRecord) SetDetail(v any) error {
	if v == nil {
		r.Detail = ""
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("audit detail: %w", err)
	}
	r.Detail = string(b)
	return nil
}

// Seal makes r record number seq, written at t after the record whose hash
// is prev: it runs Complete, checks the record and sets Seq, Time, PrevHash
// and Hash. Every store calls it, inside the transaction that stores r.
func (r *AuditRecord) Seal(seq int64, t time.Time, prev string) error {
	if r.Complete != nil {
		if err := r.Complete(r); err != nil {
			return fmt.Errorf("complete audit record: %w", err)
		}
	}
	for _, f := range []string{r.Actor, r.Action, r.Target} {
		if f == "" || len(f) > MaxAuditFieldLen || !utf8.ValidString(f) {
			// Not EINVALID: a bad record is the server's fault, not the caller's.
			return fmt.Errorf("audit record needs actor, action and target of 1 to %d bytes of UTF-8", MaxAuditFieldLen)
		}
	}
	if len(r.Detail) > MaxAuditDetailLen || !utf8.ValidString(r.Detail) {
		return fmt.Errorf("audit detail must be at most %d bytes of UTF-8", MaxAuditDetailLen)
	}
	r.Seq, r.Time, r.PrevHash = seq, t, prev
	r.Hash = r.ComputeHash()
	return nil
}

// Unseal undoes Seal after the transaction that was to store r failed, so
// that r counts as not written (see PendingAudit).
func (r *AuditRecord) Unseal() {
	r.Seq, r.Time, r.PrevHash, r.Hash = 0, time.Time{}, "", ""
}

type auditContextKey struct{}

// WithAudit returns a context carrying rec, the audit record of the change
// about to be made with that context. The store writes rec in the same
// transaction as the change, the first write made with the context: the
// change and its record are kept together or not at all, so a record
// cannot be lost after its change is made, whatever the client does.
// A store method whose result belongs in the record reports it with
// AuditResult.
func WithAudit(ctx context.Context, rec *AuditRecord) context.Context {
	return context.WithValue(ctx, auditContextKey{}, rec)
}

// PendingAudit returns the record WithAudit attached to ctx if it has not
// been written yet, or nil.
func PendingAudit(ctx context.Context) *AuditRecord {
	if r, _ := ctx.Value(auditContextKey{}).(*AuditRecord); r != nil && r.Seq == 0 {
		return r
	}
	return nil
}

// AuditResult sets the detail of the record pending on ctx, if any, to v:
// a store calls it inside its write for a result only the write knows (an
// import's counts), before the record is written.
func AuditResult(ctx context.Context, v any) error {
	if r := PendingAudit(ctx); r != nil {
		return r.SetDetail(v)
	}
	return nil
}

// ComputeHash returns the record's chain hash: SHA-256 over the
// length-prefixed fields, so no two different records encode alike.
func (r *AuditRecord) ComputeHash() string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(r.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(r.Time.UTC().UnixNano()))
	h.Write(n[:])
	for _, s := range []string{r.Actor, r.Action, r.Target, r.Detail, r.PrevHash} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditBreak says where a verification found the chain broken.
type AuditBreak struct {
	Seq    int64  `json:"seq"`    // the first record that does not verify
	Reason string `json:"reason"` // what is wrong with it
}

// AuditService is the audit log.
type AuditService interface {
	// AppendAudit sets r's Seq, Time, PrevHash and Hash (Seal) and stores
	// it. Records of changes are not appended alone but attached to the
	// change's write (WithAudit); AppendAudit is for what changes nothing
	// in the store (an export, a login).
	AppendAudit(ctx context.Context, r *AuditRecord) error
	// ListAudit returns up to limit records after seq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]*AuditRecord, error)
	// VerifyAudit walks the whole chain and returns how many records it
	// checked and the first break, or nil if the chain is intact.
	VerifyAudit(ctx context.Context) (int64, *AuditBreak, error)
}
