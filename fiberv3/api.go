package cache

import (
	"fmt"

	"github.com/gofiber/fiber/v3"

	"github.com/fiber-caches/cache/internal/core"
)

// The API in Fiber v3's types; the rest of the engine's public API is
// re-exported as it is (api_gen.go).

//go:generate sh -c "cd ../internal/core && go run ./apigen -core . -pkg cache -o ../../fiberv3/api_gen.go"
//go:generate go run ./internal/v3gen

// A Cache is one response cache: its Handler is the middleware, and its
// Invalidate methods remove stored responses from outside a request (a
// background job, a message consumer). Build it once with NewCache and use
// it as often as you like; New is NewCache(...).Handler(). Close stops
// what it started.
type Cache struct{ c *core.Cache }

// New returns the cache middleware. It panics when an option is invalid,
// saying which.
func New(opts ...Option) fiber.Handler {
	return NewCache(opts...).Handler()
}

// NewCache builds a cache whose Handler is the middleware and whose
// InvalidateURL and InvalidateRoute work outside requests too. It panics
// when an option is invalid, saying which.
func NewCache(opts ...Option) *Cache {
	m := &Cache{c: core.NewCache(fiberV3{}, opts...)}
	m.c.SetOwner(m)
	return m
}

// Handler returns the middleware, for app.Use, a group or a route.
func (m *Cache) Handler() fiber.Handler {
	return func(c fiber.Ctx) error { return m.c.Serve(c) }
}

// InvalidateRoute invalidates the URL that the route app registered as
// name (Route.Name, a group's Name prefix included) names with params, on
// the site at baseURL (scheme and host, such as "https://example.com"; a
// path in it is a prefix the app is mounted under), as InvalidateURL does:
// "/users/:id" with fiber.Map{"id": 42} is "/users/42". Parameter values
// are read as c.Params returns them (see CacheHelper.InvalidateRoute).
//
// An unknown name, a key of params the route has no parameter for, and a
// value that cannot be that parameter are errors, and then nothing is
// invalidated. With a required parameter missing (params nil, say),
// every URL of the route is invalidated, and nothing else.
func (m *Cache) InvalidateRoute(app *fiber.App, baseURL, name string, params fiber.Map) error {
	if app == nil {
		return fmt.Errorf("fibercache: InvalidateRoute(%q): app is nil; pass the *fiber.App the route is registered on", name)
	}
	return m.c.InvalidateRoute(v3App{app}, baseURL, name, params)
}

// PurgeHandler returns a handler that invalidates what its request names,
// for CMS webhooks and deploy scripts: tags, URLs, or everything in the
// cache's namespace, on every instance sharing the storage, as
// InvalidateTags, ExpireTags, InvalidateURL and InvalidateAll do. It does
// no authentication of its own: mount it behind yours.
//
//	app.Post("/_cache/purge", keyauth.New(keyauth.Config{Validator: checkKey}), m.PurgeHandler())
//
// The request names them in a JSON body (Content-Type: application/json)
//
//	{"tags": ["product:42"], "urls": ["/products", "https://shop.example/p/42"], "all": false, "soft": false}
//
// or in query parameters: ?tag=product:42&url=/products&soft=1. A URL that
// is a path is on the purge request's host. It answers 200 with a
// PurgeResult, or 400 saying what is wrong (an invalid tag or URL, soft
// with URLs, nothing named, more than 1,000 items), and then invalidates
// nothing. An invalidation that cannot reach the storage now is kept and
// retried (the instance serves none of it meanwhile): still a 200.
func (m *Cache) PurgeHandler() fiber.Handler {
	return func(c fiber.Ctx) error { return m.c.Purge(c) }
}

// A CacheHelper invalidates stored responses from inside a handler, through
// the cache middleware that handles the request. It keeps a copy of the
// request's scheme, host and path, so it may be used after the handler
// returned too (from a goroutine it started, say).
type CacheHelper struct{ c *core.CacheHelper }

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
func Helper(c fiber.Ctx) (*CacheHelper, error) {
	h, err := core.Helper(c)
	if err != nil {
		return nil, err
	}
	return &CacheHelper{c: h}, nil
}

// Cache returns the cache the helper invalidates through, for use outside
// the request.
func (m *CacheHelper) Cache() *Cache { return m.c.Cache().Owner().(*Cache) }

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
// reach with a%2Bb).
//
// An unknown name, a key the route has no parameter for, a value that
// cannot be that parameter (an empty required value, a '/' outside a
// wildcard, a "." or ".." segment, a NUL, CR or LF byte, a value the route
// would cut short or whose constraint fails) are errors, and then nothing
// is invalidated. With a required parameter missing (params nil, say),
// every URL of the route is invalidated, and nothing else.
func (m *CacheHelper) InvalidateRoute(name string, params fiber.Map) error {
	return m.c.InvalidateRoute(name, params)
}

// Tag attaches tags to the response being cached for c's request: any of
// them given to InvalidateTags (or ExpireTags) later invalidates it, on
// every instance. Call it in a handler, before or after writing the
// response. A tag is 1 to MaxTagLength bytes of visible characters (no
// space, comma or control character) and does not start with "fc:"; a
// response with a tag that is not, or with more than MaxTags, is served
// but not stored (Cache-Status detail=invalid_tags). Outside a cache, Tag
// does nothing.
//
//	app.Get("/products/:id", func(c fiber.Ctx) error {
//		p := load(c.Params("id"))
//		cache.Tag(c, "product:"+p.ID, "category:"+p.Category)
//		return c.JSON(p)
//	})
func Tag(c fiber.Ctx, tags ...string) { core.Tag(c, tags...) }

// Control returns a handler that patches the Cache-Control header of the
// response on its way out: see core.Control for the directives' rules.
// It adds to the handler's own directives instead of replacing them, and
// works with or without New in the chain; it stores nothing by itself.
// Responses made uncacheable by Never are left alone, wherever Never is.
// Control panics if directives contain both Private and Public.
//
//	app.Get("/news", cache.Control(cache.MaxAge(time.Minute), cache.Public()), handler)
func Control(directives ...Directive) fiber.Handler {
	h := core.Control(directives...)
	return func(c fiber.Ctx) error { return h(c) }
}

// Never returns a handler for a route or group whose responses must never
// be stored by any cache: not by New, not by a CDN or proxy, not by the
// browser. After the rest of the chain ran, it sets Cache-Control to
// exactly NeverCacheControl and Expires to NeverExpires, even when the
// chain returns an error (which it returns unchanged). Never wins over
// Control wherever they are in the chain.
//
//	app.Use(cache.New(cache.WithTTL(time.Minute)))
//	app.Get("/me", cache.Never(), profileHandler)
func Never() fiber.Handler {
	h := core.Never()
	return func(c fiber.Ctx) error { return h(c) }
}

// WithStorage stores responses in s, any fiber.Storage (for example
// github.com/gofiber/storage/redis/v3), in a compact binary format; a
// storage with a Conn method returning its go-redis client takes the Redis
// fast path. Without it, responses are kept in a bounded in-process store
// (see WithMaxMemory).
func WithStorage(s fiber.Storage) Option {
	if s == nil {
		return core.WithStorage(nil)
	}
	return core.WithStorage(s)
}

// WithKeyFunc adds to every key what f appends to key, for answers that
// depend on something else than the URL and the Vary headers: a tenant
// header, a c.Locals value set by middleware in front of the cache. f runs
// on every lookup, hits included: append bytes (key = append(key,
// tenant...)), allocate nothing, and return the result.
//
//	cache.WithKeyFunc(func(c fiber.Ctx, key []byte) []byte {
//		return append(key, c.Get("X-Tenant")...)
//	})
func WithKeyFunc(f func(c fiber.Ctx, key []byte) []byte) Option {
	if f == nil {
		return core.WithKeyFunc(nil)
	}
	return core.WithKeyFunc(func(c core.Ctx, key []byte) []byte { return f(c.(fiber.Ctx), key) })
}

// WithNext skips the cache for the requests f returns true for, as Fiber's
// middleware Next fields do: they are neither looked up nor stored, and a
// cache further in (a group's, a route's) may handle them. Unsafe requests
// still invalidate.
func WithNext(f func(c fiber.Ctx) bool) Option {
	if f == nil {
		return core.WithNext(nil)
	}
	return core.WithNext(func(c core.Ctx) bool { return f(c.(fiber.Ctx)) })
}
