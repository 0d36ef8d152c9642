package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	dir := t.TempDir()
	file, big := filepath.Join(dir, "tok"), filepath.Join(dir, "big")
	os.WriteFile(file, []byte("from-file\r\n"), 0o600)
	os.WriteFile(big, []byte(strings.Repeat("x", 65)), 0o600)
	for _, tc := range []struct {
		name, want, err string
		env             map[string]string
	}{
		{"value", "v", "", map[string]string{"S": "v"}},
		{"file, newline trimmed", "from-file", "", map[string]string{"S_FILE": file}},
		{"neither", "", "", nil},
		{"both", "", "not both", map[string]string{"S": "v", "S_FILE": file}},
		{"missing file", "", "read secret", map[string]string{"S_FILE": filepath.Join(dir, "none")}},
		{"over the limit", "", "over 64 bytes", map[string]string{"S_FILE": big}},
	} {
		got, err := FromEnv(func(k string) string { return tc.env[k] }, "S", 64)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
