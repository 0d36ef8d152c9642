package vigil

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
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
	AuditAdminRequest    = "admin.request"
	AuditContentReveal   = "content.reveal" // a reviewer un-blurred or downloaded case media
	AuditCaseDecide      = "case.decide"
	AuditCaseAssign      = "case.assign"
	AuditRuleChange      = "rule.change"
	AuditEntryQuarantine = "entry.quarantine"
	AuditEntryRelease    = "entry.release" // a curator put a quarantined entry back into matching
	AuditLogin           = "session.login"
)

// AuditRecord is one entry of the append-only, hash-chained audit log. Hash
// covers every other field, PrevHash included, so changing, inserting or
// removing a record breaks the chain from there on.
type AuditRecord struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`  // who: "key:NAME", "cli", …
	Action   string    `json:"action"` // what: one of the Audit* constants
	Target   string    `json:"target"` // on what: "bank:NAME", "entry:ID", …
	Detail   string    `json:"detail,omitempty"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
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
	// AppendAudit sets r's Seq, Time, PrevHash and Hash and stores it.
	AppendAudit(ctx context.Context, r *AuditRecord) error
	// ListAudit returns up to limit records after seq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]*AuditRecord, error)
	// VerifyAudit walks the whole chain and returns how many records it
	// checked and the first break, or nil if the chain is intact.
	VerifyAudit(ctx context.Context) (int64, *AuditBreak, error)
}
