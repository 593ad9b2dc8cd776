package cache

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// passUnsafe runs the chain for a request that is neither GET nor HEAD.
// An unsafe request (POST, PUT, PATCH, DELETE, and, as RFC 9111 §4.4 asks,
// any method not known to be safe) answered 2xx or 3xx invalidates its URL
// and, on the same host, those of its Location and Content-Location. The
// safe OPTIONS and TRACE, CONNECT, error statuses and handler errors
// invalidate nothing.
func (m *Cache) passUnsafe(c *fiber.Ctx) error {
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
	uri := c.Request().URI()
	host := c.Hostname()
	self := newTarget(c.Protocol(), host, uri.PathOriginal(), uri.QueryString())
	_ = m.invalidate(self) // failures are logged by the store
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
		u.Host = base.Host // as the requests that stored them spelt it
		for _, t := range targetsOf(u, ref.IsAbs()) {
			if t.url != self.url {
				_ = m.invalidate(t)
			}
		}
	}
	return nil
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

// targetsOf returns the target of an absolute URL (an empty path is "/",
// as a client sends it) or, with anyScheme, those of its http and https
// forms: the scheme is part of the cache key, but whoever spells a URL out
// rarely knows which one the app sees behind a TLS-terminating proxy.
func targetsOf(u *url.URL, anyScheme bool) []target {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	t := func(scheme string) target {
		return newTarget(scheme, u.Host, []byte(path), []byte(u.RawQuery))
	}
	if anyScheme {
		return []target{t("http"), t("https")}
	}
	return []target{t(strings.ToLower(u.Scheme))}
}

// invalidateAll invalidates every target in ts.
func (m *Cache) invalidateAll(ts []target) error {
	var errs []error
	for _, t := range ts {
		errs = append(errs, m.invalidate(t))
	}
	return errors.Join(errs...)
}

// invalidate makes every stored variant of t's URL, GET and HEAD, a miss,
// in two storage operations whatever the number of variants: the URL's
// record (its response, or the Vary record through which every variant is
// found) is deleted, and a new generation tells a request that is storing a
// response for the URL right now to take it back.
func (m *Cache) invalidate(t target) error {
	errGen := m.store.set(&t.gen, &entry.Entry{Kind: entry.KindGen, Nonce: newNonce(), Expires: expiryIn(genLifetime)}, "generation")
	errDel := m.store.del(&t.url, "url")
	if err := errors.Join(errGen, errDel); err != nil {
		return fmt.Errorf("fibercache: invalidate: %w", err)
	}
	return nil
}

// InvalidateURL removes every stored variant, GET and HEAD, of rawURL, which
// must be absolute (https://example.com/users/42?tab=1) since the host is
// part of the cache key: spell it as clients send it in their Host header.
// Both the http and the https form of the URL go, since the app may see
// either behind a proxy. The query is part of the URL: /users?page=2 is not
// /users. Inside a handler, Helper resolves paths against the request for
// you.
func (m *Cache) InvalidateURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fibercache: InvalidateURL(%q): %w", rawURL, err)
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("fibercache: InvalidateURL(%q): outside a request the URL must be absolute, like https://example.com/users/42, since scheme and host are part of the cache key", rawURL)
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return fmt.Errorf("fibercache: InvalidateURL(%q): the scheme must be http or https", rawURL)
	}
	return m.invalidateAll(targetsOf(u, true))
}

// InvalidateRoute removes every stored variant of the route that app
// registered under name (Route.Name), its parameters filled from params,
// on the site at baseURL (scheme and host, such as "https://example.com").
// An unknown name or a missing parameter is an error that names it.
func (m *Cache) InvalidateRoute(app *fiber.App, baseURL, name string, params fiber.Map) error {
	if app == nil {
		return fmt.Errorf("fibercache: InvalidateRoute(%q): app is nil; pass the *fiber.App the route is registered on", name)
	}
	paths, err := routePaths(app, name, params)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(baseURL, "/")
	var errs []error
	for _, p := range paths {
		errs = append(errs, m.InvalidateURL(base+p))
	}
	return errors.Join(errs...)
}

// routePaths resolves the route registered as name and fills its
// parameters. It returns one path, or two when an omitted optional
// parameter leaves it ending in a slash: Fiber routes /users and /users/
// alike to /users/:id?, and each is cached under its own URL.
func routePaths(app *fiber.App, name string, params fiber.Map) ([]string, error) {
	if name == "" {
		return nil, errors.New("fibercache: InvalidateRoute: the route name is empty; name the route with app.Get(...).Name(\"...\") and pass that name")
	}
	route := app.GetRoute(name)
	if route.Name != name || route.Path == "" {
		return nil, fmt.Errorf("fibercache: InvalidateRoute: no route is named %q: name it with app.Get(...).Name(%q)", name, name)
	}
	path, trailing, err := fillRoute(route.Path, params)
	if err != nil {
		return nil, fmt.Errorf("fibercache: InvalidateRoute: route %q (%s): %w", name, route.Path, err)
	}
	if trailing && len(path) > 1 && strings.HasSuffix(path, "/") {
		return []string{path, strings.TrimSuffix(path, "/")}, nil
	}
	return []string{path}, nil
}

// paramNameEnd lists the bytes that end a parameter name in a Fiber route
// path (its delimiters, the optional mark and a constraint's start).
const paramNameEnd = "/-.?:\\<*+"

// fillRoute replaces the parameters of a Fiber route path with params:
// ":name", optional ":name?", constrained ":name<int>" or ":name<regex(...)>",
// and the wildcards "*" and "+" (keys "*" or "*1", "*2"... and "+" or "+1",
// "+2"..., as c.Params names them). Values are path-escaped; a wildcard's
// slashes are kept. trailing reports that the path ends with an omitted
// optional parameter.
func fillRoute(path string, params fiber.Map) (filled string, trailing bool, err error) {
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
				return "", false, fmt.Errorf("needs parameter %q; pass it in the fiber.Map", name)
			}
			b.WriteString(url.PathEscape(v))
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
				if *n == 1 {
					key = "+"
				}
				return "", false, fmt.Errorf("needs parameter %q, non-empty; pass it in the fiber.Map", key)
			}
			b.WriteString(escapeWildcard(v))
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

// escapeWildcard path-escapes each segment of a wildcard's value.
func escapeWildcard(v string) string {
	if !strings.Contains(v, "/") {
		return url.PathEscape(v)
	}
	segs := strings.Split(v, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
