package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWebhookFlags(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bigFile := filepath.Join(dir, "big")
	if err := os.WriteFile(bigFile, make([]byte, maxSecretFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		secret string // of the webhook "my-hook"
		err    string
	}{
		{"secret from env", []string{"--webhook", "my-hook=https://example.org/h"}, map[string]string{"VIGIL_WEBHOOK_SECRET_MY_HOOK": "from-the-env-0123456789"}, "from-the-env-0123456789", ""},
		{"secret from file", []string{"--webhook", "my-hook=https://example.org/h"}, map[string]string{"VIGIL_WEBHOOK_SECRET_MY_HOOK_FILE": secretFile}, "from-a-file-0123456789", ""},
		{"no secret", []string{"--webhook", "my-hook=https://example.org/h"}, nil, "", "has no secret"},
		{"both", []string{"--webhook", "my-hook=https://example.org/h"}, map[string]string{"VIGIL_WEBHOOK_SECRET_MY_HOOK": "x", "VIGIL_WEBHOOK_SECRET_MY_HOOK_FILE": secretFile}, "", "not both"},
		{"huge file", []string{"--webhook", "my-hook=https://example.org/h"}, map[string]string{"VIGIL_WEBHOOK_SECRET_MY_HOOK_FILE": bigFile}, "", "over"},
		{"missing file", []string{"--webhook", "my-hook=https://example.org/h"}, map[string]string{"VIGIL_WEBHOOK_SECRET_MY_HOOK_FILE": filepath.Join(dir, "none")}, "", "read secret"},
		{"no url", []string{"--webhook", "my-hook"}, nil, "", "NAME=URL"},
		{"twice", []string{"--webhook", "my-hook=https://a/", "--webhook", "my-hook=https://b/"}, nil, "", "twice"},
		{"bad name", []string{"--webhook", "My Hook=https://a/"}, map[string]string{"VIGIL_WEBHOOK_SECRET_MY HOOK": "x"}, "", "may hold only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			w := webhookFlag(fs)
			err := fs.Parse(tc.args)
			var got string
			if err == nil {
				hooks, rerr := w.resolve(func(k string) string { return tc.env[k] })
				err = rerr
				if err == nil {
					got = string(hooks["my-hook"].Secret)
				}
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.secret {
				t.Fatalf("secret %q, err %v; want %q", got, err, tc.secret)
			}
		})
	}
}
