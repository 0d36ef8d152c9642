package vigil_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// keepRecorder is a SignalStore that records KeepSignals calls.
type keepRecorder struct {
	vigil.SignalStore // other methods are not called
	content           string
	sigs              []vigil.Signal
	retention         time.Duration
	err               error
}

func (k *keepRecorder) KeepSignals(_ context.Context, content string, sigs []vigil.Signal, retention time.Duration) error {
	k.content, k.sigs, k.retention = content, sigs, retention
	return k.err
}

func TestKeepSeen(t *testing.T) {
	sha := strings.Repeat("5a", 32)
	q, low := 90, 10
	pdq := vigil.Signal{Type: vigil.SignalPDQ, Value: strings.Repeat("ab", 32), Quality: &q, Dihedral: map[string]string{"rotate90": "x"}}
	lowPDQ := vigil.Signal{Type: vigil.SignalPDQ, Value: strings.Repeat("cd", 32), Quality: &low}
	digest := vigil.Signal{Type: vigil.SignalSHA256, Value: sha}
	text := vigil.Signal{Type: vigil.SignalText, Value: "hello"}
	for _, tc := range []struct {
		name      string
		sigs      []vigil.Signal
		retention time.Duration
		storeErr  error
		kept      int // signals stored; 0: no call
		wantErr   bool
	}{
		{"pdq and digest", []vigil.Signal{pdq, digest}, time.Hour, nil, 2, false},
		{"low-quality pdq dropped", []vigil.Signal{lowPDQ, digest}, time.Hour, nil, 1, false},
		{"no sha256: nothing to key by", []vigil.Signal{pdq}, time.Hour, nil, 0, false},
		{"text alone is not kept", []vigil.Signal{text}, time.Hour, nil, 0, false},
		{"no retention", []vigil.Signal{pdq, digest}, 0, nil, 0, false},
		{"store fails", []vigil.Signal{pdq, digest}, time.Hour, errors.New("disk full"), 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &keepRecorder{err: tc.storeErr}
			err := vigil.KeepSeen(context.Background(), k, tc.sigs, tc.retention)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			if len(k.sigs) != tc.kept {
				t.Fatalf("kept %+v, want %d signals", k.sigs, tc.kept)
			}
			if tc.kept > 0 && (k.content != sha || k.retention != tc.retention) {
				t.Fatalf("kept under %q for %v", k.content, k.retention)
			}
			for _, sg := range k.sigs {
				if sg.Dihedral != nil || sg.Quality != nil {
					t.Fatalf("kept with variants or quality: %+v", sg)
				}
			}
		})
	}
	if err := vigil.KeepSeen(context.Background(), nil, []vigil.Signal{pdq, digest}, time.Hour); err != nil {
		t.Fatalf("no store: %v", err)
	}
}
