package http_test

import (
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestKeyNamesAndLastAdmin: key names are unique among unrevoked keys and
// visible, and the last admin key cannot be revoked, not even by itself.
func TestKeyNamesAndLastAdmin(t *testing.T) {
	ts := mustOpenServer(t)
	admin := vigil.RoleAdmin
	var e apiError
	if code := ts.do(t, admin, "POST", "/v1/keys", "", jsonBody(map[string]string{"name": "curator", "role": "admin"}), &e); code != 409 {
		t.Fatalf("duplicate name: %d %+v", code, e)
	}
	for _, name := range []string{"admin\u202e", "ad\u200bmin", "admin\x00", "admin\x1b[1m", " admin"} {
		if code := ts.do(t, admin, "POST", "/v1/keys", "", jsonBody(map[string]string{"name": name, "role": "matcher"}), &e); code != 400 {
			t.Fatalf("name %q: %d %+v", name, code, e)
		}
	}
	// Key 1 is the only admin key: it may not revoke itself.
	if code := ts.do(t, admin, "DELETE", "/v1/keys/1", "", nil, &e); code != 409 || e.Error.Code != vigil.ECONFLICT {
		t.Fatalf("last admin revokes itself: %d %+v", code, e)
	}
	var created struct{ Key *vigil.Key }
	if code := ts.do(t, admin, "POST", "/v1/keys", "", jsonBody(map[string]string{"name": "admin-2", "role": "admin"}), &created); code != 201 {
		t.Fatalf("second admin: %d", code)
	}
	var k vigil.Key
	if code := ts.do(t, admin, "DELETE", "/v1/keys/1", "", nil, &k); code != 200 || !k.Revoked() || k.RevokedBy != "key:1:admin" {
		t.Fatalf("revoke with another admin left: %d %+v", code, k)
	}
}
