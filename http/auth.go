package http

import (
	"context"
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-oss/vigil"
)

type keyContextKey struct{}

// keyFrom returns the authenticated key of a request.
func keyFrom(ctx context.Context) *vigil.Key {
	k, _ := ctx.Value(keyContextKey{}).(*vigil.Key)
	return k
}

// actor names the caller in stored records (added by, retracted by, audit
// log, case history): vigil.Key.Actor.
func actor(r *http.Request) string {
	if k := keyFrom(r.Context()); k != nil {
		return k.Actor()
	}
	if p := providerFrom(r.Context()); p != nil {
		return p.Actor() // a centre's registered provider (providerRoute)
	}
	return "unknown"
}

// keyCacheTTL bounds how long a revoked key can keep working on another
// replica; revocation through this server takes effect at once.
const keyCacheTTL = 10 * time.Second

// keyCache remembers recent key lookups so that a busy matcher does not read
// the store on every request. It is keyed by the secret's SHA-256, never the
// secret. clear (a revocation or a change of limits through this server)
// takes effect on the very next request: a lookup that read the store
// before a clear and finishes after it does not put what it read back
// (gen).
type keyCache struct {
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]cachedKey
	gen uint64 // raised by every clear
}

type cachedKey struct {
	key     *vigil.Key
	expires time.Time
}

// get returns the cached key of h, if any and not expired, and the
// generation to pass to put after reading the store.
func (c *keyCache) get(h *[sha256.Size]byte, now time.Time) (*vigil.Key, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e, ok := c.m[*h]; ok && now.Before(e.expires) {
		return e.key, c.gen
	}
	return nil, c.gen
}

// put caches k, read from the store since get returned gen, unless the
// cache was cleared in between.
func (c *keyCache) put(h *[sha256.Size]byte, k *vigil.Key, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[[sha256.Size]byte]cachedKey{}
	}
	c.m[*h] = cachedKey{k, now.Add(keyCacheTTL)}
}

func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
	c.gen++
}

// authenticate requires a valid API key (401 otherwise) whose role is
// admin or one of roles (403 otherwise; any role when roles is empty).
func (s *Server) authenticate(roles []vigil.Role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			writeError(w, r, vigil.Errorf(vigil.EUNAUTHORIZED, "missing API key: send Authorization: Bearer <key>"))
			return
		}
		k, err := s.keyBySecret(r.Context(), secret)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.key = k
		}
		if !roleAllowed(k.Role, roles) {
			writeError(w, r, vigil.Errorf(vigil.EFORBIDDEN, "role %s may not call %s %s", k.Role, r.Method, r.URL.Path))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), keyContextKey{}, k)))
	}
}

// roleAllowed reports whether a key of role may use a route, page or HMA
// route registered for roles: admin always; a lookup key only where its
// role is named, so that a route open to every key (none named) stays
// closed to keys of other platforms; any other role where named, or
// anywhere when none are.
func roleAllowed(role vigil.Role, roles []vigil.Role) bool {
	switch {
	case role == vigil.RoleAdmin:
		return true
	case role == vigil.RoleLookup || len(roles) > 0:
		return slices.Contains(roles, role)
	}
	return true
}

// keyBySecret returns the key of a secret, through the cache.
func (s *Server) keyBySecret(ctx context.Context, secret string) (*vigil.Key, error) {
	now := time.Now()
	h := sha256.Sum256([]byte(secret))
	k, gen := s.keys.get(&h, now)
	if k != nil {
		return k, nil
	}
	k, err := s.Keys.FindKeyBySecret(ctx, secret)
	if err != nil {
		return nil, err
	}
	s.keys.put(&h, k, now, gen)
	return k, nil
}

// bearerToken returns the token of an Authorization header of the Bearer
// scheme. The scheme name is case-insensitive and may be followed by more
// than one space (RFC 7235 §2.1, RFC 6750 §2.1).
func bearerToken(auth string) (string, bool) {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}
