package cache

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/gofiber/fiber/v2"
)

// A CacheHelper invalidates stored responses from inside a handler, through
// the cache middleware that handles the request. It keeps a copy of the
// request's scheme, host and path, so it may be used after the handler
// returned too (from a goroutine it started, say).
type CacheHelper struct {
	m    *Cache
	app  *fiber.App
	base *url.URL // scheme, host and path of the request
}

// Helper returns the helper of the cache middleware handling c's request,
// or an error wrapping ErrMissingCaching when none does.
//
//	h, err := cache.Helper(c)
//	if err != nil {
//		return err
//	}
//	err = h.InvalidateRoute("user", fiber.Map{"id": id})
func Helper(c *fiber.Ctx) (*CacheHelper, error) {
	m, ok := c.Locals(localsKey{}).(*Cache)
	if !ok || m == nil {
		return nil, fmt.Errorf("%w: %s %s: add cache.New(...) to the app, group or route in front of this handler, with app.Use(cache.New(...)) for example",
			ErrMissingCaching, c.Method(), c.Path())
	}
	return &CacheHelper{m: m, app: c.App(), base: requestBase(c)}, nil
}

// Cache returns the cache the helper invalidates through, for use outside
// the request.
func (h *CacheHelper) Cache() *Cache { return h.m }

// InvalidateURL removes every stored variant, GET and HEAD, of rawURL: a
// path ("/users/42", resolved against the current request's scheme and
// host; "/users?page=2" names that query only) or a full URL
// ("https://example.com/users/42", in its http and https forms, as
// Cache.InvalidateURL).
func (h *CacheHelper) InvalidateURL(rawURL string) error {
	if rawURL == "" {
		return errors.New(`fibercache: InvalidateURL(""): the URL is empty; pass a path like "/users/42" or a full URL`)
	}
	ref, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fibercache: InvalidateURL(%q): %w", rawURL, err)
	}
	u := h.base.ResolveReference(ref)
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("fibercache: InvalidateURL(%q): the URL must be a path or an http(s) URL", rawURL)
	}
	return h.m.invalidateAll(targetsOf(u, ref.IsAbs()))
}

// InvalidateRoute removes every stored variant of the route registered
// with .Name(name), its parameters filled from params
// ("/users/:id" with fiber.Map{"id": 42} is "/users/42"), on the current
// request's scheme and host. An unknown name or a missing parameter is an
// error that names it.
func (h *CacheHelper) InvalidateRoute(name string, params fiber.Map) error {
	paths, err := routePaths(h.app, name, params)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		errs = append(errs, h.InvalidateURL(p))
	}
	return errors.Join(errs...)
}
