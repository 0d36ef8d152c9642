// Package secret reads the credentials Vigil is given from outside: from
// an environment variable, or from a file named by VAR_FILE, so that a
// secret need never appear on a command line or in a log.
package secret

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/vigil-oss/vigil"
)

// ReadFile reads the secret in path: at most max bytes (EINVALID over
// it), without the trailing newline an editor leaves.
func ReadFile(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if len(b) > max {
		return nil, vigil.Errorf(vigil.EINVALID, "secret file %s is over %d bytes", path, max)
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

// FromEnv reads the secret named env through getenv: the value of env, or
// the file named by env_FILE (at most max bytes). Setting both is an
// error (EINVALID); setting neither gives an empty secret.
func FromEnv(getenv func(string) string, env string, max int) ([]byte, error) {
	v := getenv(env)
	path := getenv(env + "_FILE")
	if path == "" {
		return []byte(v), nil
	}
	if v != "" {
		return nil, vigil.Errorf(vigil.EINVALID, "set %s or %s_FILE, not both", env, env)
	}
	return ReadFile(path, max)
}
