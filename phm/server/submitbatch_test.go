package server

import (
	"context"
	"sync/atomic"
	"testing"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
)

// countingStore counts the batches (store transactions) the service
// applies.
type countingStore struct {
	vigil.PHMService
	batches atomic.Int64
}

func (c *countingStore) ApplyPHMInbox(ctx context.Context, items []vigil.PHMInboxUpdate) ([]vigil.PHMInboxApplied, error) {
	c.batches.Add(1)
	return c.PHMService.ApplyPHMInbox(ctx, items)
}

// TestSubmitBatchOneTransactionPerBatch checks that SubmitBatch (what
// `vigil phm open` calls for its files) applies vouchers in batches of
// vigil.MaxPHMInboxBatch, one store transaction each, in order, with each
// voucher's own result: the one that opens counted, the others not, bytes
// that are no voucher dropped with EINVALID.
func TestSubmitBatchOneTransactionPerBatch(t *testing.T) {
	p := phm.DefaultParams
	hitData := pngBytes(t, picture(830, 96))
	f, s := newFixture(t, p, 0, sha256Key(t, hitData))
	cs := &countingStore{PHMService: s.Store}
	s.Store = cs
	hit := f.voucher(t, s, prepare(t, hitData))
	miss := f.voucher(t, s, prepare(t, pngBytes(t, picture(831, 96))))
	vouchers := [][]byte{miss, hit, []byte("not a voucher")}
	for len(vouchers) < vigil.MaxPHMInboxBatch+2 {
		vouchers = append(vouchers, miss)
	}
	ctx := context.Background()
	rs, errs, err := s.SubmitBatch(ctx, "cli-user", vouchers)
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.batches.Load(); got != 2 {
		t.Errorf("%d vouchers took %d store transactions, want 2", len(vouchers), got)
	}
	for i, res := range rs {
		switch i {
		case 1:
			if errs[i] != nil || res == nil || !res.Opened || res.Positives != 1 || res.Replay {
				t.Errorf("listed voucher: %+v, %v", res, errs[i])
			}
		case 2:
			if res != nil || vigil.ErrorCode(errs[i]) != vigil.EINVALID {
				t.Errorf("bytes that are no voucher: %+v, %v; want EINVALID", res, errs[i])
			}
		default:
			if errs[i] != nil || res == nil || res.Opened {
				t.Errorf("voucher %d (unlisted): %+v, %v", i, res, errs[i])
			}
		}
	}
	st, err := s.Store.PHMAccount(ctx, "cli-user", uint32(rs[1].Epoch))
	if err != nil || st.Positives != 1 {
		t.Fatalf("account after the batches: %+v, %v; want 1 positive", st, err)
	}
}
