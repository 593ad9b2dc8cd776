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
// A POST, PUT, PATCH or DELETE answered 2xx or 3xx invalidates its URL and,
// on the same host, those of its Location and Content-Location (RFC 9111
// §4.4).
func (m *Cache) passUnsafe(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		return err
	}
	switch c.Method() {
	case fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete:
	default:
		return nil
	}
	if s := c.Response().StatusCode(); s < 200 || s >= 400 {
		return nil
	}
	uri := c.Request().URI()
	scheme, host := c.Protocol(), string(c.Request().Host())
	m.invalidate(newTarget(scheme, []byte(host), uri.PathOriginal(), uri.QueryString()))
	base := &url.URL{Scheme: scheme, Host: host, Path: c.Path()}
	for _, name := range []string{fasthttp.HeaderLocation, fasthttp.HeaderContentLocation} {
		v := c.Response().Header.Peek(name)
		if len(v) == 0 {
			continue
		}
		ref, err := url.Parse(string(v))
		if err != nil {
			continue
		}
		if u := base.ResolveReference(ref); strings.EqualFold(u.Host, host) {
			m.invalidate(targetOf(u))
		}
	}
	return nil
}

// targetOf returns the target of an absolute URL.
func targetOf(u *url.URL) target {
	return newTarget(strings.ToLower(u.Scheme), []byte(u.Host), []byte(u.EscapedPath()), []byte(u.RawQuery))
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
// must be absolute (https://example.com/users/42?tab=1) since scheme and host
// are part of the cache key. Inside a handler, Helper resolves paths against
// the request for you.
func (m *Cache) InvalidateURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fibercache: InvalidateURL(%q): %w", rawURL, err)
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("fibercache: InvalidateURL(%q): outside a request the URL must be absolute, like https://example.com/users/42, since scheme and host are part of the cache key", rawURL)
	}
	return m.invalidate(targetOf(u))
}

// InvalidateRoute removes every stored variant of the route that app
// registered under name (Route.Name), its parameters filled from params,
// on the site at baseURL (scheme and host, such as "https://example.com").
func (m *Cache) InvalidateRoute(app *fiber.App, baseURL, name string, params fiber.Map) error {
	path, err := routePath(app, name, params)
	if err != nil {
		return err
	}
	return m.InvalidateURL(strings.TrimSuffix(baseURL, "/") + path)
}

// routePath resolves the route registered as name and fills its parameters.
func routePath(app *fiber.App, name string, params fiber.Map) (string, error) {
	route := app.GetRoute(name)
	if route.Name != name || route.Path == "" {
		return "", fmt.Errorf("fibercache: no route is named %q: name it with app.Get(...).Name(%q)", name, name)
	}
	return fillRoute(route.Path, params)
}

// fillRoute replaces the parameters of a Fiber route path (":name",
// optional ":name?", and the wildcards "*" and "+", numbered "*1", "+1"...
// when there are several) with params.
func fillRoute(path string, params fiber.Map) (string, error) {
	var b strings.Builder
	wild := map[byte]int{}
	for i := 0; i < len(path); i++ {
		ch := path[i]
		switch ch {
		case ':':
			j := i + 1
			for j < len(path) && !strings.ContainsRune("/-.?:*+", rune(path[j])) {
				j++
			}
			name := path[i+1 : j]
			optional := j < len(path) && path[j] == '?'
			v, ok := param(params, name)
			if !ok && !optional {
				return "", fmt.Errorf("fibercache: route %q needs parameter %q; pass it in the fiber.Map", path, name)
			}
			b.WriteString(v)
			if optional {
				j++
			}
			i = j - 1
		case '*', '+':
			wild[ch]++
			v, ok := param(params, fmt.Sprintf("%c%d", ch, wild[ch]))
			if !ok && wild[ch] == 1 {
				v, ok = param(params, string(ch))
			}
			if !ok && ch == '+' {
				return "", fmt.Errorf("fibercache: route %q needs parameter %q; pass it in the fiber.Map", path, string(ch))
			}
			b.WriteString(v)
		case '\\':
			if i+1 < len(path) {
				i++
				b.WriteByte(path[i])
			}
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), nil
}

func param(params fiber.Map, name string) (string, bool) {
	v, ok := params[name]
	if !ok {
		return "", false
	}
	return url.PathEscape(fmt.Sprint(v)), true
}
