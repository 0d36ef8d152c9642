package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestKeyService tests a vigil.KeyService.
func TestKeyService(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("CreateAndFind", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		n, err := s.Keys.CountKeys(ctx)
		must(t, err)
		if n != 0 {
			t.Fatalf("fresh store has %d keys", n)
		}

		k := &vigil.Key{Name: "bootstrap", Role: vigil.RoleAdmin, CreatedBy: "vigil"}
		secret, err := s.Keys.CreateKey(ctx, k)
		must(t, err)
		if !strings.HasPrefix(secret, vigil.KeySecretPrefix) || k.ID == 0 || !k.CreatedAt.Equal(clock.Now()) ||
			k.Hint == "" || !strings.HasPrefix(secret, k.Hint) || k.LastUsedAt != nil {
			t.Fatalf("created key %+v with secret %q", k, secret)
		}

		clock.Advance(time.Hour)
		got, err := s.Keys.FindKeyBySecret(ctx, secret)
		must(t, err)
		if got.ID != k.ID || got.Role != vigil.RoleAdmin || got.Name != "bootstrap" || got.CreatedBy != "vigil" ||
			got.LastUsedAt == nil || !got.LastUsedAt.Equal(clock.Now()) {
			t.Errorf("found key %+v", got)
		}

		// Use is recorded about once a minute, not on every call.
		used := clock.Now()
		clock.Advance(10 * time.Second)
		_, err = s.Keys.FindKeyBySecret(ctx, secret)
		must(t, err)
		byID, err := s.Keys.FindKeyByID(ctx, k.ID)
		must(t, err)
		if byID.LastUsedAt == nil || !byID.LastUsedAt.Equal(used) {
			t.Errorf("last used %v, want %v", byID.LastUsedAt, used)
		}
		clock.Advance(2 * time.Minute)
		_, err = s.Keys.FindKeyBySecret(ctx, secret)
		must(t, err)
		byID, err = s.Keys.FindKeyByID(ctx, k.ID)
		must(t, err)
		if byID.LastUsedAt == nil || !byID.LastUsedAt.Equal(clock.Now()) {
			t.Errorf("last used %v, want %v", byID.LastUsedAt, clock.Now())
		}

		for _, bad := range []string{"", "vgl_nope", secret + "x", strings.ToUpper(secret)} {
			_, err = s.Keys.FindKeyBySecret(ctx, bad)
			wantCode(t, err, vigil.EUNAUTHORIZED)
		}
		_, err = s.Keys.FindKeyByID(ctx, 12345)
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		_, err := s.Keys.CreateKey(ctx, &vigil.Key{Name: "x", Role: "root"})
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Keys.CreateKey(ctx, &vigil.Key{Role: vigil.RoleMatcher})
		wantCode(t, err, vigil.EINVALID)
		n, err := s.Keys.CountKeys(ctx)
		must(t, err)
		if n != 0 {
			t.Errorf("invalid keys stored: %d", n)
		}
	})

	t.Run("ListRevokeCount", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		secrets := map[vigil.Role]string{}
		var keys []*vigil.Key
		for _, role := range []vigil.Role{vigil.RoleAdmin, vigil.RoleCurator, vigil.RoleMatcher, vigil.RoleReviewer} {
			k := &vigil.Key{Name: string(role) + " key", Role: role}
			secret, err := s.Keys.CreateKey(ctx, k)
			must(t, err)
			secrets[role] = secret
			keys = append(keys, k)
		}
		if len(map[string]bool{secrets["admin"]: true, secrets["curator"]: true, secrets["matcher"]: true, secrets["reviewer"]: true}) != 4 {
			t.Fatal("secrets repeat")
		}

		clock.Advance(time.Minute)
		revoked, err := s.Keys.RevokeKey(ctx, keys[2].ID, "admin key")
		must(t, err)
		if !revoked.Revoked() || !revoked.RevokedAt.Equal(clock.Now()) || revoked.RevokedBy != "admin key" {
			t.Errorf("revoked key %+v", revoked)
		}
		_, err = s.Keys.FindKeyBySecret(ctx, secrets[vigil.RoleMatcher])
		wantCode(t, err, vigil.EUNAUTHORIZED)
		_, err = s.Keys.RevokeKey(ctx, keys[2].ID, "admin key")
		wantCode(t, err, vigil.ECONFLICT)
		_, err = s.Keys.RevokeKey(ctx, 12345, "admin key")
		wantCode(t, err, vigil.ENOTFOUND)

		list, err := s.Keys.ListKeys(ctx)
		must(t, err)
		if len(list) != 4 {
			t.Fatalf("ListKeys: %d keys, want 4", len(list))
		}
		for i, k := range list {
			if k.ID != keys[i].ID || k.Role != keys[i].Role || k.Revoked() != (i == 2) {
				t.Errorf("key %d: %+v", i, k)
			}
		}
		// Revoked keys still count: the store is not starting for the
		// first time.
		n, err := s.Keys.CountKeys(ctx)
		must(t, err)
		if n != 4 {
			t.Errorf("CountKeys = %d, want 4", n)
		}
		if _, err := s.Keys.FindKeyBySecret(ctx, secrets[vigil.RoleCurator]); err != nil {
			t.Errorf("unrevoked key: %v", err)
		}
	})

	t.Run("DuplicateNames", func(t *testing.T) {
		s := open(t)
		a := &vigil.Key{Name: "matcher-2", Role: vigil.RoleMatcher}
		_, err := s.Keys.CreateKey(ctx, a)
		must(t, err)
		// Not even with another role: a name must say which key it is.
		_, err = s.Keys.CreateKey(ctx, &vigil.Key{Name: "matcher-2", Role: vigil.RoleAdmin})
		wantCode(t, err, vigil.ECONFLICT)
		if n, err := s.Keys.CountKeys(ctx); err != nil || n != 1 {
			t.Fatalf("%d keys after a refused duplicate, %v", n, err)
		}
		// A revoked key's name may be used again; the id tells them apart.
		_, err = s.Keys.RevokeKey(ctx, a.ID, "test")
		must(t, err)
		b := &vigil.Key{Name: "matcher-2", Role: vigil.RoleMatcher}
		_, err = s.Keys.CreateKey(ctx, b)
		must(t, err)
		if a.Actor() == b.Actor() || b.Actor() != fmt.Sprintf("key:%d:matcher-2", b.ID) {
			t.Errorf("actors %q and %q", a.Actor(), b.Actor())
		}
	})

	t.Run("LastAdmin", func(t *testing.T) {
		s := open(t)
		a := &vigil.Key{Name: "first", Role: vigil.RoleAdmin}
		_, err := s.Keys.CreateKey(ctx, a)
		must(t, err)
		m := &vigil.Key{Name: "matcher", Role: vigil.RoleMatcher}
		_, err = s.Keys.CreateKey(ctx, m)
		must(t, err)
		// The last admin key cannot go, by its own hand or another's: no
		// one could manage keys after it.
		_, err = s.Keys.RevokeKey(ctx, a.ID, a.Actor())
		wantCode(t, err, vigil.ECONFLICT)
		if got, err := s.Keys.FindKeyByID(ctx, a.ID); err != nil || got.Revoked() {
			t.Fatalf("last admin key %+v, %v", got, err)
		}
		b := &vigil.Key{Name: "second", Role: vigil.RoleAdmin}
		_, err = s.Keys.CreateKey(ctx, b)
		must(t, err)
		_, err = s.Keys.RevokeKey(ctx, a.ID, a.Actor())
		must(t, err)
		_, err = s.Keys.RevokeKey(ctx, b.ID, "cli")
		wantCode(t, err, vigil.ECONFLICT)
		_, err = s.Keys.RevokeKey(ctx, m.ID, b.Actor())
		must(t, err)
	})
}
