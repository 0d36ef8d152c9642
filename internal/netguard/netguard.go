// Package netguard keeps requests that Vigil makes for someone else (a
// caller's ?url=, a feed URL a curator key configured) off private,
// loopback and link-local addresses: every connection is checked as it is
// dialled, so redirects and DNS answers are covered too, unless its host
// is one the operator allowed.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is the error of a connection to a refused address.
var ErrRefused = errors.New("address refused: private, loopback or link-local")

// Public reports whether a may be reached by a request made for someone
// else: not loopback, private, link-local, multicast, unspecified, nor the
// shared (CGNAT) range or an IPv4-mapped form of any of them.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	if a.Is4() && netip.MustParsePrefix("100.64.0.0/10").Contains(a) {
		return false
	}
	if a.Is4() && a.As4()[0] == 0 {
		return false
	}
	return true
}

// HostAllowed reports whether host is one of allowed or under one.
func HostAllowed(host string, allowed []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSuffix(a, "."))
		if a != "" && (host == a || strings.HasSuffix(host, "."+a)) {
			return true
		}
	}
	return false
}

// Reachable resolves host and reports whether a guarded client may reach
// it: allowed, or resolving to public addresses only. It is a check made
// ahead of time (when a URL is configured); Client checks each dial.
func Reachable(ctx context.Context, host string, allowed []string) bool {
	if HostAllowed(host, allowed) {
		return true
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !Public(a) {
			return false
		}
	}
	return true
}

// MaxRedirects bounds the redirects a guarded client follows.
const MaxRedirects = 5

// Client returns an HTTP client whose every dial must reach a public
// address unless its host is in allowed; it takes no proxy from the
// environment (the check must see the real peer), follows at most
// MaxRedirects redirects, to http and https only, and waits at most
// headerTimeout for response headers.
func Client(allowed []string, headerTimeout time.Duration) *http.Client {
	public := &net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !Public(ap.Addr()) {
			return ErrRefused
		}
		return nil
	}}
	open := &net.Dialer{}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if HostAllowed(host, allowed) {
				return open.DialContext(ctx, network, addr)
			}
			return public.DialContext(ctx, network, addr)
		},
		MaxIdleConns:          16,
		ResponseHeaderTimeout: headerTimeout,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= MaxRedirects {
			return fmt.Errorf("stopped after %d redirects", MaxRedirects)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return ErrRefused
		}
		return nil
	}}
}
