package cache

import (
	"fmt"
	"net/url"

	"github.com/gofiber/fiber/v2"
)

// A CacheHelper invalidates stored responses from inside a handler, through
// the cache middleware that handles the request.
type CacheHelper struct {
	c *fiber.Ctx
	m *Cache
}

// Helper returns the helper of the cache middleware handling c's request,
// or an error wrapping ErrMissingCaching when none does.
func Helper(c *fiber.Ctx) (*CacheHelper, error) {
	m, ok := c.Locals(localsKey{}).(*Cache)
	if !ok {
		return nil, fmt.Errorf("%w: %s %s: add cache.New(...) to the app, group or route in front of this handler", ErrMissingCaching, c.Method(), c.Path())
	}
	return &CacheHelper{c: c, m: m}, nil
}

// Cache returns the cache the helper invalidates through, for use outside
// the request.
func (h *CacheHelper) Cache() *Cache { return h.m }

// InvalidateURL removes every stored variant, GET and HEAD, of rawURL: a
// path ("/users/42", resolved against the current request's scheme and
// host) or a full URL.
func (h *CacheHelper) InvalidateURL(rawURL string) error {
	ref, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fibercache: InvalidateURL(%q): %w", rawURL, err)
	}
	base := &url.URL{Scheme: h.c.Protocol(), Host: string(h.c.Request().Host()), Path: h.c.Path()}
	return h.m.invalidate(targetOf(base.ResolveReference(ref)))
}

// InvalidateRoute removes every stored variant of the route registered
// with .Name(name), its parameters filled from params
// ("/users/:id" with fiber.Map{"id": 42} is "/users/42"), on the current
// request's scheme and host. An unknown name or a missing parameter is an
// error that names it.
func (h *CacheHelper) InvalidateRoute(name string, params fiber.Map) error {
	path, err := routePath(h.c.App(), name, params)
	if err != nil {
		return err
	}
	return h.InvalidateURL(path)
}
