package main

import (
	"strings"
	"testing"
)

// TestCentreProvider: a provider registered from the command line gets a
// key shown once, is listed, and its registration is audited.
func TestCentreProvider(t *testing.T) {
	data := newDataDir(t)
	out, _, err := runMain(t, "", "centre", "provider", "add", "--data", data, "example-chat")
	if err != nil || !strings.Contains(out, "vgl_") || !strings.Contains(out, `provider 1 "example-chat"`) {
		t.Fatalf("add: %q %v", out, err)
	}
	if _, _, err := runMain(t, "", "centre", "provider", "add", "--data", data, "example-chat"); err == nil {
		t.Fatal("a second provider of one name was registered")
	}
	out, _, err = runMain(t, "", "centre", "provider", "list", "--data", data)
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"name":"example-chat"`) || strings.Contains(out, "vgl_") && !strings.Contains(out, `"hint":"vgl_`) {
		t.Fatalf("list: %q %v", out, err)
	}
	out, _, _ = runMain(t, "", "audit", "list", "--data", data)
	if !strings.Contains(out, `"action":"centre.provider.add","target":"provider:1:example-chat"`) {
		t.Fatalf("audit: %s", out)
	}

	// Revoked from the command line: refused at once, audited; then
	// reinstated with a new key.
	out, _, err = runMain(t, "", "centre", "provider", "revoke", "--data", data, "example-chat")
	if err != nil || !strings.Contains(out, `Revoked provider 1 "example-chat"`) {
		t.Fatalf("revoke: %q %v", out, err)
	}
	if _, _, err := runMain(t, "", "centre", "provider", "revoke", "--data", data, "example-chat"); err == nil || !strings.Contains(err.Error(), "was revoked") {
		t.Errorf("revoke twice: %v", err)
	}
	if _, _, err := runMain(t, "", "centre", "provider", "revoke", "--data", data, "nobody"); err == nil || !strings.Contains(err.Error(), `no provider named "nobody"`) {
		t.Errorf("revoke an unknown provider: %v", err)
	}
	out, _, err = runMain(t, "", "centre", "provider", "list", "--data", data)
	if err != nil || !strings.Contains(out, `"revoked_at":`) {
		t.Fatalf("list after revoke: %q %v", out, err)
	}
	out, _, err = runMain(t, "", "centre", "provider", "reinstate", "--data", data, "example-chat")
	if err != nil || !strings.Contains(out, "vgl_") || !strings.Contains(out, `Reinstated provider 1 "example-chat"`) {
		t.Fatalf("reinstate: %q %v", out, err)
	}
	out, _, _ = runMain(t, "", "audit", "list", "--data", data)
	for _, a := range []string{"centre.provider.revoke", "centre.provider.reinstate"} {
		if !strings.Contains(out, `"actor":"cli","action":"`+a+`","target":"provider:1:example-chat"`) {
			t.Errorf("audit lacks %s: %s", a, out)
		}
	}
	if _, _, err := runMain(t, "", "centre", "provider", "remove", "--data", data, "x"); err == nil {
		t.Error("unknown provider subcommand accepted")
	}
	t.Setenv(envCentreKey, "")
	if _, _, err := runMain(t, "", "centre", "status", "--data", data, "--centre-url", "http://127.0.0.1:9"); err == nil || !strings.Contains(err.Error(), envCentreKey) {
		t.Errorf("status without a key: %v", err)
	}
	t.Setenv(envCentreKey, "vgl_example")
	if out, _, err := runMain(t, "", "centre", "status", "--data", data, "--centre-url", "http://127.0.0.1:9"); err != nil || out != "" {
		t.Errorf("status with nothing sent: %q %v", out, err)
	}
}

func TestServeCentreFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--centre-forward", "police"},
		{"--centre", "--centre-forward", "police"},
		{"--centre-url", "http://127.0.0.1:9"},
	} {
		_, _, err := runMain(t, "", append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "centre") {
			t.Errorf("serve %v: %v, want a refusal naming the centre flag", args, err)
		}
	}
}
