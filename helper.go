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

// Helper returns the helper of the cache middleware handling c's request
// (the one that looks it up; when every cache in the chain stepped aside
// for it, the outermost), or an error wrapping ErrMissingCaching when none
// ran.
//
//	h, err := cache.Helper(c)
//	if err != nil {
//		return err
//	}
//	err = h.InvalidateRoute("user", fiber.Map{"id": id})
func Helper(c *fiber.Ctx) (*CacheHelper, error) {
	m := chainCache(c)
	if m == nil {
		return nil, fmt.Errorf("%w: %s %s: add cache.New(...) to the app, group or route in front of this handler, with app.Use(cache.New(...)) for example",
			ErrMissingCaching, c.Method(), c.Path())
	}
	return &CacheHelper{m: m, app: c.App(), base: requestBase(c)}, nil
}

// Cache returns the cache the helper invalidates through, for use outside
// the request.
func (h *CacheHelper) Cache() *Cache { return h.m }

// InvalidateURL makes every stored response of the path of rawURL
// unusable, as Cache.InvalidateURL does: every query string, every Vary
// variant, GET and HEAD, in every cache of the process and on every
// instance sharing the storage. rawURL is a path ("/users/42", on the
// current request's host; a query in it changes nothing, the whole path
// goes) or a full URL ("https://example.com/users/42").
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
	a := h.m.appInfo(h.app)
	h.m.invalidatePaths(nil, pathMaterial(u.Host, urlPath(u, a), a))
	return nil
}

// InvalidateRoute invalidates the route registered with .Name(name), its
// parameters filled from params ("/users/:id" with fiber.Map{"id": 42} is
// "/users/42"), on the current request's host, as InvalidateURL does. With
// parameters missing (params nil, say), everything every cache of the
// process holds is invalidated (see Cache.InvalidateRoute). An unknown
// name is an error that names it.
func (h *CacheHelper) InvalidateRoute(name string, params fiber.Map) error {
	paths, whole, err := routePaths(h.app, name, params, h.m.appInfo(h.app).unescape)
	if err != nil {
		return err
	}
	if whole {
		h.m.invalidatePaths(nil, nil)
		return nil
	}
	var errs []error
	for _, p := range paths {
		errs = append(errs, h.InvalidateURL(p))
	}
	return errors.Join(errs...)
}
