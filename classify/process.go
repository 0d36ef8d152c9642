package classify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// Process is the adapter for a local command: it runs Command with the
// content on standard input and VIGIL_MEDIA_TYPE in an otherwise empty
// environment, and reads the uniform contract's reply (ParseReply) from
// standard output. Output past MaxReplyBytes, a non-zero exit and a
// command still running when the context ends (it is killed) are
// failures; standard error is dropped.
type Process struct {
	Command []string // program and arguments
}

// processWaitDelay is how long a killed command's pipes may stay open
// (held by a child it started) before they are closed on it.
const processWaitDelay = time.Second

// Classify runs the command once.
func (p *Process) Classify(ctx context.Context, c Content) (Result, error) {
	if len(p.Command) == 0 {
		return Result{}, errors.New("no command")
	}
	cmd := exec.CommandContext(ctx, p.Command[0], p.Command[1:]...)
	cmd.Env = []string{"VIGIL_MEDIA_TYPE=" + c.MediaType}
	cmd.Stdin = bytes.NewReader(c.Data)
	cmd.WaitDelay = processWaitDelay
	out := &cappedBuffer{max: MaxReplyBytes}
	cmd.Stdout = out
	cmd.Stderr = io.Discard
	err := cmd.Run()
	switch {
	case out.over:
		return Result{}, badReply("output larger than %d bytes", MaxReplyBytes)
	case ctx.Err() != nil:
		return Result{}, passing(fmt.Errorf("command killed: %w", ctx.Err()))
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return Result{}, passing(fmt.Errorf("command exited %d", ee.ExitCode()))
		}
		return Result{}, fmt.Errorf("run command: %w", err)
	}
	return ParseReply(out.buf.Bytes())
}

// cappedBuffer keeps at most max bytes; past that, writes fail, which
// ends the command with a broken pipe rather than letting it fill memory.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		b.over = true
		return 0, errors.New("output limit reached")
	}
	return b.buf.Write(p)
}
