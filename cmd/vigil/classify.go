package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/vigil-oss/vigil/provenance"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/vpdq"
)

// classifierFlags collects repeated --classifier NAME=KIND:URL flags and
// the --classifiers file, for vigil serve and vigil classify.
type classifierFlags struct {
	flags []classify.Config
	file  *string
}

func (c *classifierFlags) String() string { return "" }

func (c *classifierFlags) Set(v string) error {
	cfg, err := classify.ParseFlag(v)
	if err != nil {
		return err
	}
	c.flags = append(c.flags, cfg)
	return nil
}

// addClassifierFlags registers --classifier and --classifiers.
func addClassifierFlags(fs *flag.FlagSet) *classifierFlags {
	c := &classifierFlags{}
	fs.Var(c, "classifier", "a classifier as NAME=KIND:URL, KIND http (the uniform label/score contract of ROOST's Pigeon), google (Content Safety API; empty URL for Google's) or process (NAME=process:COMMAND); repeatable. Its secret comes from $VIGIL_CLASSIFIER_SECRET_<NAME> or the file named by $VIGIL_CLASSIFIER_SECRET_<NAME>_FILE (NAME upper-cased, - as _). It is sent images only, from every source; use --classifiers for other policies")
	c.file = fs.String("classifiers", "", "YAML file of classifiers with their policy, timeout, retries, breaker, concurrency and precision floor (see README \"Classifiers\")")
	return c
}

// configs returns the classifiers of the flags, then the file's.
func (c *classifierFlags) configs() ([]classify.Config, error) {
	out := append([]classify.Config(nil), c.flags...)
	if *c.file != "" {
		fromFile, err := classify.ReadConfigFile(*c.file)
		if err != nil {
			return nil, err
		}
		out = append(out, fromFile...)
	}
	return out, nil
}

// names returns the configured classifiers' names.
func (c *classifierFlags) names() ([]string, error) {
	cfgs, err := c.configs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, cfg := range cfgs {
		out = append(out, cfg.Name)
	}
	return out, nil
}

// build makes the classifiers, their metrics on m (nil: none) and their
// access-log lines on logger.
func (c *classifierFlags) build(m *classify.Metrics, logger *slog.Logger) (*classify.Set, error) {
	cfgs, err := c.configs()
	if err != nil {
		return nil, err
	}
	return classify.Build(cfgs, classify.Deps{Metrics: m, Logger: logger})
}

// classifyJob returns the scores of a content job's content from the
// classifiers the policy allows for source "job", when a rule would act
// on them; nil otherwise, or when the content cannot be read (the job's
// matches still act). A video's scene frames, kept as the job hashed it
// (jobs.VideoFrames), go to the classifiers that take video frames.
func classifyJob(ctx context.Context, flow *respond.Service, set *classify.Set, ref vigil.ContentRef, media func() ([]byte, error)) []vigil.ClassifierScore {
	if set.Len() == 0 || media == nil || !flow.Classifies(ctx) {
		return nil
	}
	if frames := jobs.VideoFrames(ctx); len(frames) > 0 {
		return classify.Scores(set.ClassifyFrames(ctx, classify.Frames(frames), "job", ref.SHA256))
	}
	data, err := media()
	if err != nil {
		return nil
	}
	return classify.Scores(set.ClassifyData(ctx, data, false, "job", ref.SHA256))
}

// ClassifyCommand runs the configured classifiers on files:
// `vigil classify [flags] PATH...`.
type ClassifyCommand struct{ *Main }

// classifyLine is one JSON line of `vigil classify` output.
type classifyLine struct {
	Path        string             `json:"path"`
	SHA256      string             `json:"sha256,omitempty"`
	MediaType   string             `json:"media_type,omitempty"`
	Classifiers []classify.Outcome `json:"classifiers,omitempty"`
	// Provenance holds what the provenance readers (C2PA manifests,
	// IPTC/XMP digital source type) found, by reader; see annotators.
	Provenance map[string]any `json:"provenance,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// annotator adds to a file's line what it reads from the file's bytes,
// without further I/O; an error is the file's failure.
type annotator func(ctx context.Context, data []byte, line *classifyLine) error

// annotators are the readers that run on every file after the
// classifiers. The provenance readers (C2PA, IPTC/XMP) plug in here,
// each setting line.Provenance[its name].
func (c *ClassifyCommand) annotators(prov *provenance.Reader) []annotator {
	if prov == nil {
		return nil
	}
	return []annotator{func(_ context.Context, data []byte, line *classifyLine) error {
		res := prov.Read(data)
		if res == nil {
			return nil
		}
		if line.Provenance == nil {
			line.Provenance = map[string]any{}
		}
		if res.C2PA != nil {
			line.Provenance["c2pa"] = res.C2PA
		}
		if res.XMP != nil {
			line.Provenance["xmp"] = res.XMP
		}
		if g := res.GenerativeAI(); g != nil {
			line.Provenance["generative_ai"] = g
		}
		return nil
	}}
}

// Run reads each file (bounded by --max-bytes), asks every classifier the
// policy allows for source "cli", and prints one JSON line per file in
// input order. Exits 1 if any file could not be read or every classifier
// failed on it.
func (c *ClassifyCommand) Run(ctx context.Context, args []string) error {
	fset := c.newFlagSet("vigil classify", "Usage: vigil classify [flags] PATH...\n\nRuns the configured classifiers on files and prints one JSON line per file: each classifier's scores\n(label, score, model version) or why it gave none. Classifiers rank content for review; they decide nothing.\nDirectories are walked recursively; - reads standard input. Exits 1 if any input failed.")
	classifiers := addClassifierFlags(fset.FlagSet)
	maxBytes := fset.Int64("max-bytes", hashing.DefaultLimits.MaxBytes, "largest file read, in bytes")
	workers := fset.Int("workers", 4, "files classified in parallel")
	c2paTrust := fset.String("c2pa-trust", "", "PEM file of the certificates trusted as C2PA signers' and time-stamping authorities' roots (none: signatures are checked, signers reported untrusted)")
	for _, name := range []string{"max-bytes", "workers"} {
		fset.limit(name, positive())
	}
	if err := fset.parse(args); err != nil {
		return err
	}
	if fset.NArg() == 0 {
		return fset.usageErrorf("classify takes at least one PATH")
	}
	set, err := classifiers.build(nil, c.Logger)
	if err != nil {
		return err
	}
	if set.Len() == 0 {
		return fset.usageErrorf("no classifier configured: give --classifier NAME=KIND:URL or --classifiers FILE")
	}
	paths, walkErrs, _ := expandPaths(fset.Args())
	failed := len(walkErrs) > 0
	for _, e := range walkErrs {
		c.printLine(classifyLine{Path: e.path, Error: e.err.Error()})
	}
	prov, err := provenanceReader(*c2paTrust)
	if err != nil {
		return err
	}
	annotate := c.annotators(prov)
	lines := mapOrdered(ctx, paths, *workers, func() func(string) classifyLine {
		return func(path string) classifyLine {
			return c.classifyFile(ctx, set, annotate, path, *maxBytes)
		}
	})
	for line := range lines {
		if line.Error != "" {
			failed = true
		}
		c.printLine(line)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed {
		return errSilent
	}
	return nil
}

func (c *ClassifyCommand) classifyFile(ctx context.Context, set *classify.Set, annotate []annotator, path string, maxBytes int64) classifyLine {
	line := classifyLine{Path: path}
	r, closeInput, err := openInput(path, c.Stdin)
	if err != nil {
		line.Error = err.Error()
		return line
	}
	defer closeInput()
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	switch {
	case err != nil:
		line.Error = fmt.Sprintf("%s: %v", path, err)
		return line
	case int64(len(data)) > maxBytes:
		line.Error = fmt.Sprintf("%s: larger than --max-bytes %d", path, maxBytes)
		return line
	}
	sum := sha256.Sum256(data)
	line.SHA256, line.MediaType = hex.EncodeToString(sum[:]), http.DetectContentType(data)
	content := classify.Content{Data: data, MediaType: line.MediaType, Source: "cli", SHA256: line.SHA256}
	line.Classifiers = set.Classify(ctx, content)
	if len(line.Classifiers) == 0 && !strings.HasPrefix(line.MediaType, "image/") && hashing.MayBeVideo(data) {
		if o, ok := set.KeepOptions("cli"); ok {
			outs, err := classifyVideo(ctx, set, data, path, o, line.SHA256)
			if err != nil {
				line.Error = fmt.Sprintf("%s: as video: %s", path, vigil.ErrorMessage(err))
				return line
			}
			line.Classifiers = outs
		}
	}
	if len(line.Classifiers) == 0 {
		line.Error = "no classifier's policy allows " + line.MediaType + " from source cli"
	} else {
		ok := false
		for _, o := range line.Classifiers {
			ok = ok || o.Error == ""
		}
		if !ok {
			line.Error = "every classifier failed"
		}
	}
	for _, a := range annotate {
		if err := a(ctx, data, &line); err != nil && line.Error == "" {
			line.Error = err.Error()
		}
	}
	return line
}

func (c *ClassifyCommand) printLine(l classifyLine) {
	b, _ := json.Marshal(l)
	fmt.Fprintf(c.Stdout, "%s\n", b)
}

// classifyVideo decodes data (or the file at path, which ffmpeg can seek
// in) as vPDQ hashing does, keeping its scene frames, and asks the
// classifiers that take video frames from source cli about them.
func classifyVideo(ctx context.Context, set *classify.Set, data []byte, path string, o vpdq.KeepOptions, sha string) ([]classify.Outcome, error) {
	k := vpdq.NewKeeper(o)
	if path == "-" {
		path = ""
	}
	if _, _, err := hashing.HashVideo(ctx, data, path, vpdq.Options{Keep: k}); err != nil {
		return nil, err
	}
	return set.ClassifyFrames(ctx, classify.Frames(k.Frames()), "cli", sha), nil
}
