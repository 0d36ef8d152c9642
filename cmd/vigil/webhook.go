package main

import (
	"flag"
	"fmt"
	"github.com/vigil-oss/vigil/internal/secret"
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
		key, err := secret.FromEnv(getenv, env, maxSecretFile)
		if err != nil {
			return nil, fmt.Errorf("webhook %q: %w", name, err)
		}
		if len(key) == 0 {
			return nil, fmt.Errorf("webhook %q has no secret: set %s or %s_FILE", name, env, env)
		}
		out[name] = jobs.Webhook{URL: u, Secret: key}
	}
	return out, nil
}
