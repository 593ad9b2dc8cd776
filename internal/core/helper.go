package core

import (
	"errors"
	"fmt"
)

// A CacheHelper invalidates stored responses from inside a handler, through
// the cache middleware that handles the request. It keeps a copy of the
// request's scheme, host and path, so it may be used after the handler
// returned too (from a goroutine it started, say).
type CacheHelper struct {
	m    *Cache
	app  App
	base reqBase // scheme, host and path of the request
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
func Helper(c Ctx) (*CacheHelper, error) {
	m := chainCache(c)
	if m == nil {
		return nil, fmt.Errorf("%w: %s %s: add cache.New(...) to the app, group or route in front of this handler, with app.Use(cache.New(...)) for example",
			ErrMissingCaching, c.Method(), c.Path())
	}
	return &CacheHelper{m: m, app: m.fw.App(c), base: requestBase(m.fw, c)}, nil
}

// Cache returns the cache the helper invalidates through, for use outside
// the request.
func (h *CacheHelper) Cache() *Cache { return h.m }

// InvalidateURL makes every stored response of the path of rawURL
// unusable, as Cache.InvalidateURL does: every query string, every Vary
// variant, GET and HEAD, in every cache of the process and on every
// instance sharing the storage. rawURL is a path ("/users/42", on the
// current request's host; a relative one resolves against the request's
// path; a query in it changes nothing, the whole path goes) or a full URL
// ("https://example.com/users/42").
//
// The path is read as a client sending it would: "." and ".." segments
// resolved, bytes outside RFC 3986's pchar that clients percent-encode (a
// space, non-ASCII text) percent-encoded, the rest as written. The bytes
// [ ] ^ ` { | } and a '%' that starts no %XX, which some clients send raw
// and others encoded, are invalidated in both spellings. With
// UnescapePath, the path is decoded as Fiber decodes it (a '+' is a
// space).
func (h *CacheHelper) InvalidateURL(rawURL string) error {
	if rawURL == "" {
		return errors.New(`fibercache: InvalidateURL(""): the URL is empty; pass a path like "/users/42" or a full URL`)
	}
	_, host, path, err := h.base.resolve(rawURL)
	if err != nil {
		return fmt.Errorf("fibercache: InvalidateURL(%q): the URL must be a path or an http(s) URL: %w", rawURL, err)
	}
	h.m.invalidateClientPaths(nil, host, path, h.m.appInfo(h.app), nil)
	return nil
}

// InvalidateRoute invalidates the URL that the route registered with
// .Name(name) (a group's Name prefix included) names with params, on the
// current request's host, as InvalidateURL does: "/users/:id" with
// fiber.Map{"id": 42} is "/users/42".
//
// Keys name parameters as c.Params does ("*" or "*1" for a wildcard;
// another case matches unless the app is CaseSensitive), and a value is
// read as c.Params returns it, so that c.Params("id") names the URL it came
// from. Without UnescapePath that is the segment as the client sent it: a
// value is spelt as clients send it (RFC 3986 pchar such as ' ( ) ! * : @
// as it is, a valid %XX as it is, a space or non-ASCII text
// percent-encoded, "café" as caf%C3%A9). With UnescapePath it is the
// decoded segment: a value is taken as it is ("a+b" is the URL clients
// reach with a%2Bb). The bytes [ ] ^ ` { | } and a '%' that starts no
// %XX give two URLs, raw and encoded, since clients differ. The path
// filled is checked against the app's router: it must give every value
// back.
//
// An unknown name, a key the route has no parameter for, and a value that
// cannot be that parameter (a '/' outside a wildcard, an empty required
// value, a "." or ".." segment, a NUL, CR or LF byte, a value the route
// would cut short or whose constraint fails) are errors, and then nothing
// is invalidated. With a required parameter missing (params nil, say),
// everything every cache of the process holds is invalidated (see
// Cache.InvalidateRoute).
func (h *CacheHelper) InvalidateRoute(name string, params map[string]any) error {
	a := h.m.appInfo(h.app)
	paths, route, whole, err := routePaths(h.app, a, name, params)
	if err != nil {
		return err
	}
	if whole {
		h.m.invalidateWholeRoute(route)
		return nil
	}
	var done [][]byte
	for _, p := range paths {
		done = h.m.invalidateOnce(nil, pathMaterial(h.base.host, p, a), done)
	}
	return nil
}

// InvalidateAll makes everything stored in the namespace of the cache
// handling the request unusable, as Cache.InvalidateAll does: its storage
// under its key prefix, on every instance sharing it, and nothing else.
func (h *CacheHelper) InvalidateAll() error { return h.m.InvalidateAll() }
