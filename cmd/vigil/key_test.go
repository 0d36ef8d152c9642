package main

import (
	"strings"
	"testing"
)

// TestKeyRevokeLastAdmin: the command line may not revoke the last admin
// key either, and says why.
func TestKeyRevokeLastAdmin(t *testing.T) {
	data := newDataDir(t)
	runMain(t, "", "key", "create", "--data", data, "--role", "admin")
	_, _, err := runMain(t, "", "key", "revoke", "--data", data, "1")
	if err == nil || !strings.Contains(err.Error(), "last admin key") {
		t.Fatalf("revoke last admin: %v", err)
	}
	runMain(t, "", "key", "create", "--data", data, "--role", "admin", "--name", "admin-2")
	if _, _, err := runMain(t, "", "key", "revoke", "--data", data, "1"); err != nil {
		t.Fatal(err)
	}
	out, _, _ := runMain(t, "", "audit", "list", "--data", data)
	if !strings.Contains(out, `"action":"key.revoke","target":"key:1:admin"`) {
		t.Fatalf("audit: %s", out)
	}
}
