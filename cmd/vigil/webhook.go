package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vigil-oss/vigil/jobs"
)

// maxSecretFile bounds a webhook secret file: a secret is a few dozen
// bytes, so anything large is the wrong file.
const maxSecretFile = 4 << 10

// webhookFlags collects repeated --webhook NAME=URL flags.
type webhookFlags map[string]string

func (w webhookFlags) String() string { return "" }

func (w webhookFlags) Set(v string) error {
	name, u, ok := strings.Cut(v, "=")
	if !ok || name == "" || u == "" {
		return fmt.Errorf("want NAME=URL, got %q", v)
	}
	if _, dup := w[name]; dup {
		return fmt.Errorf("webhook %q given twice", name)
	}
	w[name] = u
	return nil
}

// webhookFlag registers --webhook.
func webhookFlag(fs *flag.FlagSet) webhookFlags {
	w := webhookFlags{}
	fs.Var(w, "webhook", "a webhook as NAME=URL (repeatable); its secret comes from $VIGIL_WEBHOOK_SECRET_<NAME> or the file named by $VIGIL_WEBHOOK_SECRET_<NAME>_FILE (NAME upper-cased, - as _)")
	return w
}

// resolve returns the webhooks with their secrets, read through getenv.
// A webhook without a secret is refused: unsigned events could be forged.
func (w webhookFlags) resolve(getenv func(string) string) (map[string]jobs.Webhook, error) {
	out := make(map[string]jobs.Webhook, len(w))
	for name, u := range w {
		if err := jobs.ValidateWebhookName(name); err != nil {
			return nil, err
		}
		env := jobs.SecretEnv(name)
		secret := []byte(getenv(env))
		if path := getenv(env + "_FILE"); path != "" {
			if len(secret) > 0 {
				return nil, fmt.Errorf("webhook %q: set %s or %s_FILE, not both", name, env, env)
			}
			b, err := readSecretFile(path)
			if err != nil {
				return nil, fmt.Errorf("webhook %q: %w", name, err)
			}
			secret = b
		}
		if len(secret) == 0 {
			return nil, fmt.Errorf("webhook %q has no secret: set %s or %s_FILE", name, env, env)
		}
		out[name] = jobs.Webhook{URL: u, Secret: secret}
	}
	return out, nil
}

func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("secret file %s is over %d bytes", path, maxSecretFile)
	}
	// Editors end files with a newline that is not part of the secret.
	return bytes.TrimRight(b, "\r\n"), nil
}
