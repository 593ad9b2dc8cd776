package core

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// passUnsafe runs the chain for a request that is neither GET nor HEAD.
// An unsafe request (POST, PUT, PATCH, DELETE, and, as RFC 9111 §4.4 asks,
// any method not known to be safe) answered 2xx or 3xx invalidates its
// path and, on the same host, those of its Location and Content-Location.
// The safe OPTIONS and TRACE, CONNECT (a tunnel, not a write), error
// statuses and handler errors invalidate nothing.
func (m *Cache) passUnsafe(c Ctx) error {
	m.observe(EventBypass, ReasonMethod)
	if err := c.Next(); err != nil {
		return err
	}
	switch c.Method() {
	case fasthttp.MethodOptions, fasthttp.MethodTrace, fasthttp.MethodConnect:
		return nil
	}
	if s := c.Response().StatusCode(); s < 200 || s >= 400 {
		return nil
	}
	a := m.appInfo(m.fw.App(c))
	host := m.fw.Host(c)
	self := pathMaterial(host, c.Path(), a)
	m.invalidatePaths(c, self)
	done := [][]byte{self}
	var base *reqBase
	for _, v := range locations(&c.Response().Header) {
		if len(v) == 0 {
			continue
		}
		if base == nil {
			b := requestBase(m.fw, c)
			base = &b
		}
		_, refHost, path, err := base.resolve(string(v))
		if err != nil || !strings.EqualFold(refHost, base.host) {
			continue // another host's responses are not ours to drop
		}
		done = m.invalidateClientPaths(c, host, path, a, done)
	}
	return nil
}

// locations returns every Location and Content-Location line of h, in
// any spelling, that is not empty.
func locations(h *fasthttp.ResponseHeader) []string {
	var out []string
	h.VisitAll(func(k, v []byte) {
		if len(v) > 0 && (rfc.EqualFold(k, "location") || rfc.EqualFold(k, "content-location")) {
			out = append(out, string(v))
		}
	})
	return out
}

// pathMaterial is the key material of a path record: the same bytes
// buildKeys writes for a request to host and path.
func pathMaterial(host, path string, a *appInfo) []byte {
	b := append(make([]byte, 0, len(keyVersion)+len(host)+len(path)+2), keyVersion...)
	b = append(b, 0)
	b = appendLower(b, host)
	b = append(b, 0)
	return appendRoutedPath(b, path, a)
}

// invalidatePaths invalidates the path (nil: every path, the epoch) in
// every cache of the process, one call per storage. An invalidation that
// cannot reach its storage now is kept and retried until it lands, and
// meanwhile the path is not served from that cache here: it is never
// lost, so it returns no error for it.
func (m *Cache) invalidatePaths(c Ctx, path []byte) {
	for _, x := range everyCache(m) {
		x.invalidateOwn(path)
	}
	m.observe(EventInvalidation, ReasonNone)
	if m.log.enabled(slog.LevelDebug) {
		what := "every path (epoch)"
		if path != nil {
			what = describePath(path)
		}
		attrs := []slog.Attr{slog.String("dropped", what)}
		if c != nil {
			attrs = m.requestAttrs(c, attrs...)
		}
		m.log.log(slog.LevelDebug, "invalidate", attrs...)
	}
}

// describeKey shows entry key material with its separators as " | ".
func describeKey(k []byte) string { return strings.ReplaceAll(string(k), "\x00", " | ") }

// describePath shows a path record's material as host + path.
func describePath(p []byte) string {
	parts := strings.SplitN(string(p), "\x00", 3)
	if len(parts) == 3 {
		return parts[1] + parts[2]
	}
	return string(p)
}

// invalidateOwn invalidates path (nil: the epoch) in m's own backend. A
// shared backend is guarded: what cannot land now is kept and retried,
// never lost, so there is no error to return.
func (m *Cache) invalidateOwn(path []byte) {
	if path == nil {
		_ = m.b.bumpEpoch(context.Background())
		return
	}
	_ = m.b.invalidate(context.Background(), path)
}

// invalidateClientPaths invalidates, on host, the paths c.Path() shows
// for clients' requests of path (a path as written: see clientPaths),
// except those whose material is in done; it returns done with them
// added.
func (m *Cache) invalidateClientPaths(c Ctx, host, path string, a *appInfo, done [][]byte) [][]byte {
	for _, p := range clientPaths(path, a) {
		done = m.invalidateOnce(c, pathMaterial(host, p, a), done)
	}
	return done
}

// invalidateOnce invalidates the path record of material unless it is in
// done, and returns done with it.
func (m *Cache) invalidateOnce(c Ctx, material []byte, done [][]byte) [][]byte {
	for _, d := range done {
		if bytes.Equal(d, material) {
			return done
		}
	}
	m.invalidatePaths(c, material)
	return append(done, material)
}

// InvalidateURL makes every stored response of the path of rawURL
// unusable: every query string, every Vary variant, GET and HEAD, both
// schemes, in this cache, in every other cache of the process and on every
// instance sharing the storage. rawURL must be absolute
// (https://example.com/users/42), since the host is part of the key: spell
// it as clients send it in their Host header (or X-Forwarded-Host behind a
// trusted proxy). Its path is read as a client sending it would (see
// Helper.InvalidateURL). Inside a handler, Helper resolves paths against
// the request for you.
func (m *Cache) InvalidateURL(rawURL string) error {
	_, host, path, err := reqBase{}.resolve(rawURL)
	switch {
	case err != nil && !absoluteURL(rawURL):
		return fmt.Errorf("fibercache: InvalidateURL(%q): outside a request the URL must be absolute, like https://example.com/users/42, since the host is part of the cache key", rawURL)
	case err != nil:
		return fmt.Errorf("fibercache: InvalidateURL(%q): %w", rawURL, err)
	}
	m.invalidateClientPaths(nil, host, path, m.lastApp(), nil)
	return nil
}

// absoluteURL reports whether ref starts with a scheme and "//".
func absoluteURL(ref string) bool {
	i := strings.Index(ref, "://")
	return i > 0 && !strings.ContainsAny(ref[:i], "/?#")
}

// lastApp returns the configuration of the app the cache last served, or
// Fiber's defaults before any request.
func (m *Cache) lastApp() *appInfo {
	if a := m.app.Load(); a != nil {
		return a
	}
	return &appInfo{}
}

// InvalidateRoute invalidates the URL that the route app registered under
// name (Route.Name, a group's Name prefix included) names with params, on
// the site at baseURL (scheme and host, such as "https://example.com"), as
// InvalidateURL does. A value is read as c.Params returns it: spelt as
// clients send it, or decoded when the app sets UnescapePath (see
// Helper.InvalidateRoute).
//
// An unknown name, a key of params the route has no parameter for, and a
// value that cannot be that parameter are errors, and then nothing is
// invalidated. With a required parameter missing (params nil, say), the
// route's URLs cannot be named one by one: for now everything every cache
// of the process holds is invalidated, at once (one epoch per storage).
func (m *Cache) InvalidateRoute(app App, baseURL, name string, params map[string]any) error {
	_, host, basePath, err := reqBase{}.resolve(baseURL)
	switch {
	case err != nil && !absoluteURL(baseURL):
		return fmt.Errorf("fibercache: InvalidateRoute(%q): baseURL %q must be absolute, like https://example.com, since the host is part of the cache key", name, baseURL)
	case err != nil:
		return fmt.Errorf("fibercache: InvalidateRoute(%q): baseURL %q: %w", name, baseURL, err)
	}
	a := m.appInfo(app)
	paths, route, whole, err := routePaths(app, a, name, params)
	if err != nil {
		return err
	}
	if whole {
		m.invalidateWholeRoute(route)
		return nil
	}
	prefix := strings.TrimRight(clientPaths(basePath, a)[0], "/")
	var done [][]byte
	for _, p := range paths {
		done = m.invalidateOnce(nil, pathMaterial(host, prefix+p, a), done)
	}
	return nil
}

// invalidateWholeRoute invalidates every URL of route (InvalidateRoute
// with a required parameter missing): its tag, which every response of
// the route carries, in every cache of the process and on every instance.
func (m *Cache) invalidateWholeRoute(routePath string) {
	m.invalidateTags([]string{routeTag(routePath)}, false)
}

// InvalidateAll makes everything stored in this cache's namespace (its
// storage, under its key prefix) unusable, on every instance sharing it:
// one storage write, the namespace's epoch, whatever it holds. Other
// namespaces are left alone: another WithKeyPrefix on the same storage,
// and the other caches of the process with storages of their own (each
// default in-process store is one cache's own). An invalidation that
// cannot reach the storage now is kept and retried until it lands, and
// meanwhile this instance serves nothing from the cache, so it returns no
// error for it.
func (m *Cache) InvalidateAll() error {
	m.invalidateOwn(nil)
	m.observe(EventInvalidation, ReasonNone)
	if m.log.enabled(slog.LevelDebug) {
		m.log.log(slog.LevelDebug, "invalidate", slog.String("dropped", "everything in the namespace (epoch)"))
	}
	return nil
}
