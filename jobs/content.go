package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/vpdq"
)

const kindContent = "vigil_content"

// spoolPrefix starts the name of every spooled upload.
const spoolPrefix = "upload-"

// contentArgs is a content job. File is the spooled upload's name inside
// the spool directory (never a path, so that a row cannot point a worker
// elsewhere on disk).
type contentArgs struct {
	File       string `json:"file"`
	SHA256     string `json:"sha256"`
	Bytes      int64  `json:"bytes"`
	Webhook    string `json:"webhook,omitempty"`
	Dihedral   bool   `json:"dihedral,omitempty"`
	MinQuality int    `json:"min_quality,omitempty"`
	KeyID      int64  `json:"key_id,omitempty"`
	ContentID  string `json:"content_id,omitempty"`
	UserID     string `json:"user_id,omitempty"`
}

func (contentArgs) Kind() string { return kindContent }

// ContentInfo describes hashed content.
type ContentInfo struct {
	Bytes  int64  `json:"bytes"`
	Format string `json:"format,omitempty"` // image decoder name, or "video:" and the codec
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// ContentResult is a content job's result: the same fields as the
// response of POST /v1/match.
type ContentResult struct {
	Content  ContentInfo         `json:"content"`
	Signals  []vigil.Signal      `json:"signals"`
	PDQError string              `json:"pdq_error,omitempty"`
	Matched  bool                `json:"matched"`
	Results  []vigil.MatchResult `json:"results"`
	// Actions says what the rules did with the matches (see OnContent);
	// absent without a hook.
	Actions *vigil.Outcome `json:"actions,omitempty"`

	// generativeAI is the upload's own declaration of a generative source,
	// for the cases the hook opens.
	generativeAI *vigil.GenerativeAI
	// frames are a video's scene frames kept while it was hashed (see
	// KeepVideoFrames), for the hook (VideoFrames).
	frames []vpdq.KeptFrame
}

// ContentHook acts on a content job's matches: ref holds the upload's
// digest and the platform's ids, media reads the spooled upload. What it
// returns goes into the job's result as actions.
type ContentHook func(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome

// OnContent sets fn to run when a content job has its matches, before its
// result is recorded: respond.Service.Match, as after POST /v1/match. The
// job completes only once fn has returned, so a process killed before
// then runs the job, and fn, again: fn must be idempotent. Call before
// Start.
func (c *Client) OnContent(fn ContentHook) { c.onContent = fn }

// KeepVideoFrames sets fn to say, for each content job, whether to keep
// the scene frames of a video as it is hashed (vpdq.Keeper) and how
// many: the hook then finds them with VideoFrames, to classify them
// without decoding the video again. Call before Start.
func (c *Client) KeepVideoFrames(fn func(ctx context.Context) (vpdq.KeepOptions, bool)) {
	c.keepFrames = fn
}

type framesKey struct{}

// VideoFrames returns the scene frames kept of a content job's video, in
// the context the ContentHook is given; nil for an image, or when none
// were asked for.
func VideoFrames(ctx context.Context) []vpdq.KeptFrame {
	f, _ := ctx.Value(framesKey{}).([]vpdq.KeptFrame)
	return f
}

// jobEvent is the data of an EventJobCompleted event.
type jobEvent struct {
	JobID         int64          `json:"job_id"`
	State         vigil.JobState `json:"state"`
	ContentSHA256 string         `json:"content_sha256"`
	Error         string         `json:"error,omitempty"`
	Result        *ContentResult `json:"result,omitempty"`
}

func (c *Client) maxBytes() int64 { return c.cfg.Hashing.Limits.WithDefaults().MaxBytes }

// SubmitContent implements vigil.JobService.
func (c *Client) SubmitContent(ctx context.Context, r io.Reader, opts vigil.ContentJobOptions) (*vigil.Job, error) {
	if c.cfg.SpoolDir == "" {
		return nil, vigil.Errorf(vigil.EUNSUPPORTED, "content jobs are not configured")
	}
	if opts.Webhook != "" {
		if _, ok := c.cfg.Webhooks[opts.Webhook]; !ok {
			return nil, vigil.Errorf(vigil.ENOTFOUND, "webhook %q is not configured", opts.Webhook)
		}
	}
	name, sum, n, err := c.spool(r)
	if err != nil {
		return nil, err
	}
	args := contentArgs{File: name, SHA256: sum, Bytes: n, Webhook: opts.Webhook,
		Dihedral: opts.Match.Dihedral, MinQuality: opts.Match.MinQuality, KeyID: opts.SubmittedBy,
		ContentID: opts.ContentID, UserID: opts.UserID}
	res, err := c.river.Insert(ctx, args, &river.InsertOpts{MaxAttempts: c.cfg.ContentMaxAttempts})
	if err != nil {
		os.Remove(filepath.Join(c.cfg.SpoolDir, name))
		return nil, fmt.Errorf("queue content job: %w", err)
	}
	return jobFromRow(res.Job), nil
}

// spool writes r to a new file in the spool directory (mode 0600) and
// returns its name, SHA-256 and size.
func (c *Client) spool(r io.Reader) (name, sum string, n int64, err error) {
	f, err := os.CreateTemp(c.cfg.SpoolDir, spoolPrefix+"*")
	if err != nil {
		return "", "", 0, fmt.Errorf("spool upload: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	limit := c.maxBytes()
	h := sha256.New()
	n, err = io.Copy(io.MultiWriter(f, h), io.LimitReader(r, limit+1))
	// A body over http.MaxBytesReader's bound is too large as well.
	var tooLarge *http.MaxBytesError
	if n > limit || errors.As(err, &tooLarge) {
		return "", "", 0, vigil.Errorf(vigil.ETOOLARGE, "upload is larger than the %d-byte limit", limit)
	}
	if err != nil {
		return "", "", 0, fmt.Errorf("spool upload: %w", err)
	}
	if n == 0 {
		return "", "", 0, vigil.Errorf(vigil.EINVALID, "upload is empty")
	}
	// The job row is committed after this: the file must be on disk first.
	if err = f.Sync(); err != nil {
		return "", "", 0, fmt.Errorf("spool upload: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", "", 0, fmt.Errorf("spool upload: %w", err)
	}
	return filepath.Base(f.Name()), hex.EncodeToString(h.Sum(nil)), n, nil
}

// contentWorker hashes and matches spooled uploads.
type contentWorker struct {
	river.WorkerDefaults[contentArgs]
	c *Client
}

func (w *contentWorker) Timeout(*river.Job[contentArgs]) time.Duration { return w.c.cfg.ContentTimeout }

func (w *contentWorker) Work(ctx context.Context, job *river.Job[contentArgs]) error {
	c := w.c
	a := job.Args
	if a.File != filepath.Base(a.File) || !strings.HasPrefix(a.File, spoolPrefix) {
		return river.JobCancel(fmt.Errorf("bad spool file name %q", a.File))
	}
	path := filepath.Join(c.cfg.SpoolDir, a.File)
	res, err := c.hashAndMatch(ctx, path, vigil.MatchOptions{Dihedral: a.Dihedral, MinQuality: a.MinQuality})
	if errors.Is(err, fs.ErrNotExist) {
		err = river.JobCancel(vigil.Errorf(vigil.ENOTFOUND, "spooled upload is gone"))
	}
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		// The process is stopping (River cancels running jobs when Stop's
		// grace runs out; a job's own timeout is a deadline instead), not
		// the job failing: run it again on the next start without
		// spending an attempt.
		c.logger.Info("content job interrupted by shutdown", "job", job.ID)
		return river.JobSnooze(0)
	}
	if err != nil {
		// Bad content (or a cancel above) fails the same way every time.
		var cancelled *river.JobCancelError
		permanent := errors.As(err, &cancelled) || vigil.ErrorCode(err) != vigil.EINTERNAL
		final := permanent || job.Attempt >= job.MaxAttempts
		c.logger.Error("content job", "job", job.ID, "attempt", job.Attempt, "final", final, "err", err)
		// The job's errors are shown through the API and in the webhook
		// event: internal detail stays in the log.
		err = errors.New(vigil.ErrorMessage(err))
		if final {
			// The last attempt: nothing will read the upload again.
			state := vigil.JobFailed
			if permanent {
				state = vigil.JobCancelled
			}
			// The job's own context may be what ran out.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			c.finishContent(fctx, job, path, nil, state, err)
			cancel()
		}
		if permanent {
			return river.JobCancel(err)
		}
		return err
	}
	if c.onContent != nil {
		// Before the result is recorded and the job completed, so that it
		// says what was done and a crash before the end acts again; the
		// hook is idempotent, so acting again opens no second case.
		ref := vigil.ContentRef{SHA256: a.SHA256, ContentID: a.ContentID, UserID: a.UserID, GenerativeAI: res.generativeAI,
			MediaType: hashing.MediaType(res.Content.Format)}
		hctx := ctx
		if res.frames != nil {
			hctx = context.WithValue(ctx, framesKey{}, res.frames)
		}
		res.Actions = c.onContent(hctx, ref, res.Results, func() ([]byte, error) { return os.ReadFile(path) })
	}
	if err := river.RecordOutput(ctx, res); err != nil {
		return fmt.Errorf("record result: %w", err)
	}
	// Notified before the upload is deleted: if queueing the event fails,
	// the retry can still hash the upload. The event id is the job's, so
	// a receiver drops the duplicate of a job that ran twice.
	return c.finishContent(ctx, job, path, res, vigil.JobCompleted, nil)
}

// finishContent notifies the job's webhook, if it has one, of its outcome
// and deletes the spooled upload.
func (c *Client) finishContent(ctx context.Context, job *river.Job[contentArgs], path string, res *ContentResult, state vigil.JobState, jobErr error) error {
	if wh := job.Args.Webhook; wh != "" {
		ev := jobEvent{JobID: job.ID, ContentSHA256: job.Args.SHA256, State: state, Result: res}
		if jobErr != nil {
			ev.Error = jobErr.Error()
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode job event: %w", err)
		}
		err = c.Notify(ctx, wh, vigil.Event{ID: fmt.Sprintf("job_%d_%s", job.ID, ev.State), Type: vigil.EventJobCompleted, Data: data})
		if err != nil {
			if jobErr != nil {
				c.logger.Error("notify job failure", "job", job.ID, "webhook", wh, "err", err)
			} else {
				return err
			}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.logger.Error("delete spooled upload", "job", job.ID, "err", err)
	}
	return nil
}

// hashAndMatch hashes the spooled upload (as an image, else as a video)
// and matches its signals with opts, as POST /v1/match does.
func (c *Client) hashAndMatch(ctx context.Context, path string, opts vigil.MatchOptions) (*ContentResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	h := hashing.NewHasher(c.cfg.Hashing)
	d, data, err := h.Read(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	// ffmpeg reads the spooled file itself, so MP4s with their index at
	// the end work too. ffmpeg missing or the job out of time is worth a
	// retry, so those come back as errors.
	var keep *vpdq.Keeper
	if c.keepFrames != nil && !c.cfg.NoVideo {
		if o, ok := c.keepFrames(ctx); ok {
			keep = vpdq.NewKeeper(o)
		}
	}
	hc, err := h.HashContent(ctx, d, data, hashing.ContentOptions{
		NoVideo: c.cfg.NoVideo, Path: path, Video: vpdq.Options{Timeout: c.cfg.ContentTimeout, Keep: keep}, Retryable: true})
	if err != nil {
		return nil, err
	}
	res := &ContentResult{Content: ContentInfo{Bytes: int64(len(data)), Format: hc.Format, Width: hc.Width, Height: hc.Height}, Signals: hc.Signals, PDQError: hc.PDQError,
		generativeAI: hc.Provenance.GenerativeAI()}
	if keep != nil && strings.HasPrefix(hc.Format, "video:") {
		res.frames = keep.Frames()
	}

	res.Results, err = c.cfg.Matcher.Lookup(ctx, res.Signals, opts)
	if err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	for _, r := range res.Results {
		res.Matched = res.Matched || len(r.Matches) > 0
	}
	if err := vigil.KeepSeen(ctx, c.cfg.Signals, res.Signals, c.cfg.KeepSignals); err != nil {
		return nil, err
	}
	return res, nil
}

// orphanAge is how old a spooled upload with no job must be before the
// sweep deletes it, so that an upload being queued right now is spared.
const orphanAge = 10 * time.Minute

// sweepSpool deletes spooled uploads that no unfinished content job refers
// to: left by a crash between spooling an upload and queueing its job, or
// between a job's end and the deletion of its upload.
func (c *Client) sweepSpool(ctx context.Context) error {
	des, err := os.ReadDir(c.cfg.SpoolDir)
	if err != nil || len(des) == 0 {
		return err
	}
	live := map[string]bool{}
	const page = 1000
	params := river.NewJobListParams().Kinds(kindContent).First(page).States(
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled)
	for {
		res, err := c.river.JobList(ctx, params)
		if err != nil {
			return err
		}
		for _, row := range res.Jobs {
			var a contentArgs
			if json.Unmarshal(row.EncodedArgs, &a) == nil {
				live[a.File] = true
			}
		}
		if len(res.Jobs) < page {
			break
		}
		params = params.After(res.LastCursor)
	}
	for _, de := range des {
		name := de.Name()
		if !strings.HasPrefix(name, spoolPrefix) || live[name] {
			continue
		}
		if info, err := de.Info(); err != nil || c.cfg.Now().Sub(info.ModTime()) < orphanAge {
			continue
		}
		if err := os.Remove(filepath.Join(c.cfg.SpoolDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		c.logger.Info("deleted orphaned spooled upload", "file", name)
	}
	return nil
}
