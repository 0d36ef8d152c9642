package classify

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/vigil-oss/vigil/internal/secret"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-oss/vigil"
)

// Kinds of classifier.
const (
	KindHTTP    = "http"    // the uniform contract (HTTP)
	KindGoogle  = "google"  // Google's Content Safety API (Google)
	KindProcess = "process" // a local command (Process)
)

// Limits on classifier configuration.
const (
	MaxConfigBytes  = 1 << 20
	MaxClassifiers  = 64
	maxSecretBytes  = 64 << 10
	MaxTimeout      = time.Minute
	MaxRetries      = 5
	MaxConcurrency  = 1024
	maxBreakerCount = 1000
)

// Config configures one classifier. Secrets are never in it: Secret
// names where to read one (an environment variable or a file), so that no
// flag, config file or log line holds it.
type Config struct {
	Name    string   `yaml:"name"`
	Kind    string   `yaml:"kind"`
	URL     string   `yaml:"url"`     // http, google (optional)
	Command []string `yaml:"command"` // process: program and arguments
	Model   string   `yaml:"model"`   // http: the model the gateway is asked for (default: the name)
	Secret  Secret   `yaml:"secret"`

	Timeout     time.Duration        `yaml:"timeout"`
	Retries     int                  `yaml:"retries"`
	Concurrency int                  `yaml:"concurrency"`
	Breaker     Breaker              `yaml:"breaker"`
	Policy      Policy               `yaml:"policy"`
	Floor       vigil.PrecisionFloor `yaml:"precision_floor"`
}

// Breaker configures a classifier's circuit breaker: Failures consecutive
// failures open it for Cooldown. Zero fields take the defaults.
type Breaker struct {
	Failures int           `yaml:"failures"`
	Cooldown time.Duration `yaml:"cooldown"`
}

// Secret says where a classifier's secret (a bearer token, an API key)
// is read from: an environment variable or a file. At most one.
type Secret struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// SecretEnv is the environment variable a classifier configured by flag
// reads its secret from, as webhooks do: VIGIL_CLASSIFIER_SECRET_<NAME>,
// the name in upper case with - as _, or the file that
// VIGIL_CLASSIFIER_SECRET_<NAME>_FILE names.
func SecretEnv(name string) string {
	return "VIGIL_CLASSIFIER_SECRET_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// ParseFlag reads NAME=KIND:TARGET, the form of vigil serve --classifier:
// TARGET is the URL (http, google; empty for Google's own) or the
// command's path (process). Its secret, if any, is read from SecretEnv.
func ParseFlag(s string) (Config, error) {
	name, rest, ok := strings.Cut(s, "=")
	kind, target, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return Config{}, vigil.Errorf(vigil.EINVALID, "classifier %q: want NAME=KIND:URL (or NAME=process:COMMAND)", s)
	}
	c := Config{Name: name, Kind: kind}
	if kind == KindProcess {
		c.Command = []string{target}
	} else {
		c.URL, c.Secret.Env = target, SecretEnv(name)
	}
	return c, c.Validate()
}

// ParseConfig reads a classifiers file of at most MaxConfigBytes:
//
//	classifiers:
//	  - name: pigeon-csam
//	    kind: http
//	    url: https://pigeon.internal/v1/classify
//	    model: some-model
//	    secret: {env: PIGEON_TOKEN}
//	    timeout: 2s
//	    policy: {media_types: [image/*], sources: [match]}
//	    precision_floor: {min_score: 0.5, min_decisions: 20, min_precision: 0.5}
//
// Unknown fields and a second document are errors.
func ParseConfig(r io.Reader) ([]Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxConfigBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "classifiers file is larger than %d bytes", MaxConfigBytes)
	}
	var f struct {
		Classifiers []Config `yaml:"classifiers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, vigil.Errorf(vigil.EINVALID, "classifiers file is empty")
		}
		return nil, vigil.Errorf(vigil.EINVALID, "classifiers file: %v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, vigil.Errorf(vigil.EINVALID, "classifiers file holds more than one YAML document")
	}
	if len(f.Classifiers) > MaxClassifiers {
		return nil, vigil.Errorf(vigil.EINVALID, "classifiers file holds %d classifiers, at most %d", len(f.Classifiers), MaxClassifiers)
	}
	for _, c := range f.Classifiers {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	return f.Classifiers, nil
}

// ReadConfigFile reads a classifiers file.
func ReadConfigFile(path string) ([]Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read classifiers: %w", err)
	}
	defer f.Close()
	return ParseConfig(f)
}

// Validate returns an EINVALID error naming the classifier if c cannot be
// built.
func (c *Config) Validate() error {
	if err := vigil.ValidateBankName(c.Name); err != nil {
		return vigil.Errorf(vigil.EINVALID, "classifier name must be 1 to %d characters of a-z, 0-9, _ and -, got %q", vigil.MaxBankNameLen, c.Name)
	}
	bad := func(format string, args ...any) error {
		return vigil.Errorf(vigil.EINVALID, "classifier %s: %s", c.Name, fmt.Sprintf(format, args...))
	}
	switch c.Kind {
	case KindHTTP, KindGoogle:
		if c.Kind == KindHTTP && c.URL == "" {
			return bad("an http classifier needs a url")
		}
		if c.URL != "" {
			u, err := url.Parse(c.URL)
			if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
				return bad("url must be http or https")
			}
			if u.User != nil || u.RawQuery != "" {
				// Secrets belong in Secret, where no log shows them.
				return bad("url must hold no credentials or query; give the secret with secret.env or secret.file")
			}
		}
		if len(c.Command) > 0 {
			return bad("command is for process classifiers")
		}
	case KindProcess:
		if len(c.Command) == 0 || c.Command[0] == "" {
			return bad("a process classifier needs a command")
		}
		if c.URL != "" || c.Secret != (Secret{}) {
			return bad("a process classifier takes a command, no url or secret")
		}
	default:
		return bad("kind must be %s, %s or %s, got %q", KindHTTP, KindGoogle, KindProcess, c.Kind)
	}
	if c.Secret.Env != "" && c.Secret.File != "" {
		return bad("secret: env or file, not both")
	}
	switch {
	case c.Timeout < 0 || c.Timeout > MaxTimeout:
		return bad("timeout must be 0 (default %s) to %s", DefaultTimeout, MaxTimeout)
	case c.Retries < 0 || c.Retries > MaxRetries:
		return bad("retries must be 0 to %d", MaxRetries)
	case c.Concurrency < 0 || c.Concurrency > MaxConcurrency:
		return bad("concurrency must be 0 (default %d) to %d", DefaultConcurrency, MaxConcurrency)
	case c.Breaker.Failures < 0 || c.Breaker.Failures > maxBreakerCount:
		return bad("breaker.failures must be 0 (default %d) to %d", DefaultBreakerFailures, maxBreakerCount)
	case c.Breaker.Cooldown < 0 || c.Breaker.Cooldown > time.Hour:
		return bad("breaker.cooldown must be 0 (default %s) to 1h", DefaultBreakerCooldown)
	}
	for _, t := range c.Policy.MediaTypes {
		if i := strings.IndexByte(t, '/'); i <= 0 || i == len(t)-1 || !vigil.Printable(t) {
			return bad("policy media type %q is not type/subtype or type/*", t)
		}
	}
	v := c.Policy.Video
	switch {
	case v.Frames < 0 || v.Frames > MaxVideoFrames:
		return bad("policy.video.frames must be 0 (videos not classified) to %d", MaxVideoFrames)
	case v.MaxBytes < 0 || v.MaxBytes > MaxVideoBytes:
		return bad("policy.video.max_bytes must be 0 (default %d) to %d", DefaultVideoBytes, MaxVideoBytes)
	case v.MaxBytes > 0 && v.Frames == 0:
		return bad("policy.video.max_bytes without policy.video.frames sends nothing")
	}
	if v.Frames > 0 {
		for _, t := range c.Policy.MediaTypes {
			if strings.HasPrefix(t, "video/") {
				// Both would send a video twice: whole, and as frames.
				return bad("policy media type %s sends whole videos and policy.video.frames their frames: choose one", t)
			}
		}
	}
	if err := c.Floor.Validate(); err != nil {
		return bad("%s", vigil.ErrorMessage(err))
	}
	return nil
}

// Deps are what Build gives every guard.
type Deps struct {
	Client  *http.Client // nil: a client of its own per classifier
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// Getenv reads environment variables; nil: os.Getenv.
	Getenv func(string) string
}

// Build makes the guards of configs, reading their secrets. A secret named
// but not found is an error, except the implicit SecretEnv of a classifier
// configured by flag.
func Build(configs []Config, d Deps) (*Set, error) {
	getenv := d.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	seen := map[string]bool{}
	var guards []*Guard
	for _, c := range configs {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if seen[c.Name] {
			return nil, vigil.Errorf(vigil.EINVALID, "classifier %s configured twice", c.Name)
		}
		seen[c.Name] = true
		secret, err := readSecret(c, getenv)
		if err != nil {
			return nil, err
		}
		client := d.Client
		if client == nil {
			// Its own connections, as many kept idle as calls may run at
			// once: the default two would make every call past the second
			// dial anew.
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = c.Concurrency
			if tr.MaxIdleConnsPerHost <= 0 {
				tr.MaxIdleConnsPerHost = DefaultConcurrency
			}
			client = &http.Client{Transport: tr}
		}
		var cl Classifier
		endpoint := c.URL
		switch c.Kind {
		case KindHTTP:
			model := c.Model
			if model == "" {
				model = c.Name
			}
			cl = &HTTP{URL: c.URL, Model: model, Token: secret, Client: client}
		case KindGoogle:
			if endpoint == "" {
				endpoint = GoogleURL
			}
			if secret == "" {
				return nil, vigil.Errorf(vigil.EINVALID, "classifier %s: the content safety api needs a key (%s or secret.env/secret.file)", c.Name, SecretEnv(c.Name))
			}
			cl = &Google{URL: c.URL, Key: secret, Client: client}
		case KindProcess:
			cl, endpoint = &Process{Command: c.Command}, c.Command[0]
		}
		guards = append(guards, NewGuard(c.Name, c.Kind, endpoint, cl, GuardOptions{
			Policy: c.Policy, Timeout: c.Timeout, Retries: c.Retries, Concurrency: c.Concurrency,
			BreakerFailures: c.Breaker.Failures, BreakerCooldown: c.Breaker.Cooldown, Floor: c.Floor,
			Metrics: d.Metrics, Logger: d.Logger, Now: d.Now,
		}))
	}
	return NewSet(guards...), nil
}

func readSecret(c Config, getenv func(string) string) (string, error) {
	switch {
	case c.Secret.File != "":
		b, err := secret.ReadFile(c.Secret.File, maxSecretBytes)
		if err != nil {
			return "", fmt.Errorf("classifier %s: %w", c.Name, err)
		}
		return string(b), nil
	case c.Secret.Env == SecretEnv(c.Name):
		b, err := secret.FromEnv(getenv, c.Secret.Env, maxSecretBytes)
		if err != nil {
			return "", fmt.Errorf("classifier %s: %w", c.Name, err)
		}
		return string(b), nil
	case c.Secret.Env != "":
		v := getenv(c.Secret.Env)
		if v == "" {
			return "", vigil.Errorf(vigil.EINVALID, "classifier %s: environment variable %s is not set", c.Name, c.Secret.Env)
		}
		return v, nil
	}
	return "", nil
}
