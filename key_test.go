package vigil_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestNewKeySecret(t *testing.T) {
	a, err := vigil.NewKeySecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := vigil.NewKeySecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two secrets are equal")
	}
	if !strings.HasPrefix(a, vigil.KeySecretPrefix) || len(a) != len(vigil.KeySecretPrefix)+52 {
		t.Errorf("secret %q has the wrong shape", a)
	}
	if h := vigil.KeySecretHint(a); h != a[:8] {
		t.Errorf("hint %q", h)
	}
	if vigil.HashKeySecret(a) == vigil.HashKeySecret(b) || len(vigil.HashKeySecret(a)) != 64 {
		t.Error("bad hashes")
	}
	if _, err := vigil.NewKeySecret(bytes.NewReader(make([]byte, 3))); err == nil {
		t.Error("short randomness: no error")
	}
}

func TestKeyValidate(t *testing.T) {
	k := &vigil.Key{Name: "ci", Role: vigil.RoleMatcher}
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []vigil.Key{{Name: "", Role: vigil.RoleAdmin}, {Name: "x", Role: "root"}} {
		if code := vigil.ErrorCode(bad.Validate()); code != vigil.EINVALID {
			t.Errorf("Validate(%+v) code %q", bad, code)
		}
	}
}
