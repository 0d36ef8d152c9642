package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil/feed"
	"github.com/vigil-oss/vigil/phm/translog"
	"github.com/vigil-oss/vigil/phm/witness"
)

// minWitnessToken is the shortest operator token accepted: a guessable
// one would let anyone make the witness check their requests.
const minWitnessToken = 16

// witnessServe runs `vigil phm witness serve`.
func (c *PHMTableCommand) witnessServe(ctx context.Context, fs *flagSet, args []string) error {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	} else if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return fs.usageErrorf("phm witness takes the subcommand serve")
	}
	keyFile := fs.String("key-file", "", "the witness's signer key file (from phm table-keys)")
	logKey := fs.String("log-key", "", "the log's note verifier key")
	origin := fs.String("origin", "", "the log's origin (default: the log key's name)")
	stateFile := fs.String("state", "", "file keeping the last checkpoint this witness cosigned (created; updated on every cosignature)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token the log operator sends (at least 16 characters)")
	listen := fs.String("listen", "127.0.0.1:8091", "address to listen on")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	if *keyFile == "" || *logKey == "" || *stateFile == "" || *tokenFile == "" {
		return fs.usageErrorf("phm witness serve needs --key-file, --log-key, --state and --token-file")
	}
	srv, err := c.witnessServer(*keyFile, *logKey, *origin, *stateFile, *tokenFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	fmt.Fprintf(c.Stderr, "vigil: witness %s of %s at size %d, listening on http://%s\n", srv.Witness.Signer.Name(), srv.Witness.Origin, srv.Witness.Last.N, ln.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	err = hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// witnessServer builds the witness from its files: the key, the log's
// verifier key, the state (the last checkpoint cosigned, loaded now and
// saved on every cosignature) and the operator's token.
func (c *PHMTableCommand) witnessServer(keyFile, logKey, origin, stateFile, tokenFile string) (*witness.Server, error) {
	lv, err := note.NewVerifier(logKey)
	if err != nil {
		return nil, fmt.Errorf("--log-key: %v", err)
	}
	kb, err := readSmall(keyFile, feed.MaxKeyFileBytes)
	if err != nil {
		return nil, err
	}
	signer, err := translog.ParseCosignerKey(string(kb), time.Now)
	if err != nil {
		return nil, fmt.Errorf("key file %s: not a witness key", keyFile) // never the key itself
	}
	tb, err := readSmall(tokenFile, 4096)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(string(tb))
	if len(token) < minWitnessToken {
		return nil, fmt.Errorf("token file %s: the token must be at least %d characters", tokenFile, minWitnessToken)
	}
	w := &translog.Witness{Signer: signer, Origin: cmpOr(origin, lv.Name()), Log: lv}
	st, err := readPHMState(stateFile, w.Origin)
	if err != nil {
		return nil, err
	}
	w.Last = st.Checkpoint
	return &witness.Server{Witness: w, Token: token, Logger: c.Logger,
		Save: func(cp translog.Checkpoint) error {
			return writePHMState(stateFile, translog.State{Checkpoint: cp, Version: st.Version, Root: st.Root})
		}}, nil
}
