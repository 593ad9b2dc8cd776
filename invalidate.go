package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// passUnsafe runs the chain for a request that is neither GET nor HEAD.
// An unsafe request (POST, PUT, PATCH, DELETE, and, as RFC 9111 §4.4 asks,
// any method not known to be safe) answered 2xx or 3xx invalidates its
// path and, on the same host, those of its Location and Content-Location.
// The safe OPTIONS and TRACE, CONNECT (a tunnel, not a write), error
// statuses and handler errors invalidate nothing.
func (m *Cache) passUnsafe(c *fiber.Ctx) error {
	m.observe(EventBypass, ReasonMethod)
	if err := c.Next(); err != nil {
		return err
	}
	switch c.Method() {
	case fiber.MethodOptions, fiber.MethodTrace, fiber.MethodConnect:
		return nil
	}
	if s := c.Response().StatusCode(); s < 200 || s >= 400 {
		return nil
	}
	a := m.appInfo(c.App())
	host := c.Hostname()
	self := pathMaterial(host, c.Path(), a)
	m.invalidatePaths(c, self)
	var base *url.URL
	for _, name := range [...]string{fasthttp.HeaderLocation, fasthttp.HeaderContentLocation} {
		v := c.Response().Header.Peek(name)
		if len(v) == 0 {
			continue
		}
		ref, err := url.Parse(string(v))
		if err != nil {
			continue
		}
		if base == nil {
			base = requestBase(c)
		}
		u := base.ResolveReference(ref)
		if !strings.EqualFold(u.Host, base.Host) {
			continue // another host's responses are not ours to drop
		}
		if p := pathMaterial(host, urlPath(u, a), a); string(p) != string(self) {
			m.invalidatePaths(c, p)
		}
	}
	return nil
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

// urlPath returns the path of u as c.Path() shows it for a request to u:
// escaped as clients send it, or decoded when the app unescapes paths.
func urlPath(u *url.URL, a *appInfo) string {
	p := u.RawPath // as written, when it differs from the default encoding
	if p == "" {
		p = u.EscapedPath()
	}
	if a.unescape {
		p = u.Path
	}
	if p == "" {
		p = "/"
	}
	return p
}

// requestBase returns the scheme, host and path of c's request, against
// which relative references resolve. It copies what it keeps, so it stays
// valid after the request.
func requestBase(c *fiber.Ctx) *url.URL {
	scheme, host := strings.Clone(c.Protocol()), strings.Clone(c.Hostname()) // both may alias the request
	raw := string(c.Request().URI().PathOriginal())
	if u, err := url.Parse(raw); err == nil && u.Scheme == "" && u.Host == "" {
		u.Scheme, u.Host, u.RawQuery, u.Fragment, u.RawFragment = scheme, host, "", "", ""
		return u
	}
	return &url.URL{Scheme: scheme, Host: host, Path: raw}
}

// invalidatePaths invalidates the path (nil: every path, the epoch) in
// every cache of the process, one call per storage. An invalidation that
// cannot reach its storage now is kept and retried until it lands, and
// meanwhile the path is not served from that cache here: it is never
// lost, so it returns no error for it.
func (m *Cache) invalidatePaths(c *fiber.Ctx, path []byte) {
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
			attrs = requestAttrs(c, attrs...)
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

// InvalidateURL makes every stored response of the path of rawURL
// unusable: every query string, every Vary variant, GET and HEAD, both
// schemes, in this cache, in every other cache of the process and on every
// instance sharing the storage. rawURL must be absolute
// (https://example.com/users/42), since the host is part of the key: spell
// it as clients send it in their Host header (or X-Forwarded-Host behind a
// trusted proxy). Inside a handler, Helper resolves paths against the
// request for you.
func (m *Cache) InvalidateURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fibercache: InvalidateURL(%q): %w", rawURL, err)
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("fibercache: InvalidateURL(%q): outside a request the URL must be absolute, like https://example.com/users/42, since the host is part of the cache key", rawURL)
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return fmt.Errorf("fibercache: InvalidateURL(%q): the scheme must be http or https", rawURL)
	}
	a := m.lastApp()
	m.invalidatePaths(nil, pathMaterial(u.Host, urlPath(u, a), a))
	return nil
}

// lastApp returns the configuration of the app the cache last served, or
// Fiber's defaults before any request.
func (m *Cache) lastApp() *appInfo {
	if a := m.app.Load(); a != nil {
		return a
	}
	return &appInfo{}
}

// InvalidateRoute invalidates the route that app registered under name
// (Route.Name), its parameters filled from params, on the site at baseURL
// (scheme and host, such as "https://example.com"), as InvalidateURL
// does. With parameters missing (params nil, say), the route's URLs cannot
// be named one by one: everything every cache of the process holds is
// invalidated, at once (one epoch per storage). An unknown name is an
// error that names it.
func (m *Cache) InvalidateRoute(app *fiber.App, baseURL, name string, params fiber.Map) error {
	if app == nil {
		return fmt.Errorf("fibercache: InvalidateRoute(%q): app is nil; pass the *fiber.App the route is registered on", name)
	}
	paths, whole, err := routePaths(app, name, params, m.appInfo(app).unescape)
	if err != nil {
		return err
	}
	if whole {
		m.invalidatePaths(nil, nil)
		return nil
	}
	base := strings.TrimSuffix(baseURL, "/")
	var errs []error
	for _, p := range paths {
		errs = append(errs, m.InvalidateURL(base+p))
	}
	return errors.Join(errs...)
}

// routePaths resolves the route registered as name and fills its
// parameters (as clients send them; unescaped when the app unescapes
// paths). It returns the path, or whole when a required parameter is
// missing: the route's every URL is meant.
func routePaths(app *fiber.App, name string, params fiber.Map, unescape bool) (paths []string, whole bool, err error) {
	if name == "" {
		return nil, false, errors.New("fibercache: InvalidateRoute: the route name is empty; name the route with app.Get(...).Name(\"...\") and pass that name")
	}
	route := app.GetRoute(name)
	if route.Name != name || route.Path == "" {
		return nil, false, fmt.Errorf("fibercache: InvalidateRoute: no route is named %q: name it with app.Get(...).Name(%q)", name, name)
	}
	path, _, err := fillRoute(route.Path, params, unescape)
	if errors.Is(err, errMissingParam) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("fibercache: InvalidateRoute: route %q (%s): %w", name, route.Path, err)
	}
	return []string{path}, false, nil
}

// errMissingParam is wrapped by fillRoute's error for a required
// parameter params lacks.
var errMissingParam = errors.New("missing parameter")

// paramNameEnd lists the bytes that end a parameter name in a Fiber route
// path (its delimiters, the optional mark and a constraint's start).
const paramNameEnd = "/-.?:\\<*+"

// fillRoute replaces the parameters of a Fiber route path with params:
// ":name", optional ":name?", constrained ":name<int>" or ":name<regex(...)>",
// and the wildcards "*" and "+" (keys "*" or "*1", "*2"... and "+" or "+1",
// "+2"..., as c.Params names them). Values are path-escaped; a wildcard's
// slashes are kept. trailing reports that the path ends with an omitted
// optional parameter.
func fillRoute(path string, params fiber.Map, unescape bool) (filled string, trailing bool, err error) {
	var b strings.Builder
	var nWild, nPlus int
	for i := 0; i < len(path); i++ {
		omitted := false
		switch ch := path[i]; ch {
		case '\\':
			if i+1 < len(path) {
				i++
				b.WriteByte(path[i])
			}
		case ':':
			j := i + 1
			for j < len(path) && !strings.ContainsRune(paramNameEnd, rune(path[j])) {
				j++
			}
			name := path[i+1 : j]
			if j < len(path) && path[j] == '<' {
				j = constraintEnd(path, j)
			}
			optional := j < len(path) && path[j] == '?'
			if optional {
				j++
			}
			v, ok := param(params, name)
			switch {
			case ok && v == "" && !optional:
				return "", false, fmt.Errorf("parameter %q is empty; Fiber does not route an empty value to it", name)
			case !ok && !optional:
				return "", false, fmt.Errorf("%w %q", errMissingParam, name)
			}
			b.WriteString(escapeParam(v, unescape))
			omitted = v == ""
			i = j - 1
		case '*', '+':
			n := &nWild
			if ch == '+' {
				n = &nPlus
			}
			*n++
			key := fmt.Sprintf("%c%d", ch, *n)
			v, ok := param(params, key)
			if !ok && *n == 1 {
				v, _ = param(params, string(ch))
			}
			if ch == '+' && v == "" {
				return "", false, fmt.Errorf("%w %q", errMissingParam, key)
			}
			b.WriteString(escapeParam(v, unescape))
			omitted = v == ""
		default:
			b.WriteByte(ch)
		}
		trailing = omitted
	}
	return b.String(), trailing, nil
}

// constraintEnd returns the index after the '>' that closes the parameter
// constraint opening at path[open], skipping escaped bytes and what is
// inside parentheses (a regex may hold '>').
func constraintEnd(path string, open int) int {
	depth := 0
	for j := open + 1; j < len(path); j++ {
		switch path[j] {
		case '\\':
			j++
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case '>':
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(path)
}

// param returns params[name] as a string (a name of another case matches
// too, as with c.Params), and whether it is there and not nil.
func param(params fiber.Map, name string) (string, bool) {
	v, ok := params[name]
	if !ok {
		for k, kv := range params {
			if strings.EqualFold(k, name) {
				v, ok = kv, true
				break
			}
		}
	}
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, ok
	case []byte:
		return string(x), ok
	default:
		return fmt.Sprint(x), ok
	}
}

// escapeParam writes a parameter value as a client sends it in a path:
// escaped where a browser escapes (spaces, quotes, '?', '#', '%', non-ASCII
// ...) and not elsewhere (',' ';' ':' '@' '/' stay), or as it is when the
// app unescapes paths.
func escapeParam(v string, unescape bool) string {
	if unescape {
		return v
	}
	return (&url.URL{Path: v}).EscapedPath()
}
