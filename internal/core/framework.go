package core

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"
)

// The framework seam. The cache works on fasthttp's request and response;
// what only the web framework knows (the path as its router matches it,
// host and scheme under its proxy trust, locals, calling the next
// handler, routes by name, a shutdown hook) it asks through Ctx, Framework
// and App. An adapter per framework implements them: Fiber v2's and Fiber
// v3's, whose contexts already have Ctx's methods.

// Ctx is what the cache needs of a request's context, as the framework's
// context provides it: *fiber.Ctx (Fiber v2) and fiber.Ctx (Fiber v3)
// both have these methods.
type Ctx interface {
	// Next runs the rest of the chain.
	Next() error
	// Path returns the path as the router matches it (decoded with
	// UnescapePath); no argument is ever passed.
	Path(override ...string) string
	// Method returns the request's method; no argument is ever passed.
	Method(override ...string) string
	// OriginalURL returns the request target as sent.
	OriginalURL() string
	// Locals reads, or with a value sets, a value of the request's.
	Locals(key any, value ...any) any
	Request() *fasthttp.Request
	Response() *fasthttp.Response
}

// Framework is what the cache asks the framework about a request, beyond
// Ctx. Its methods are called on every request: they must not allocate.
type Framework interface {
	// RequestCtx returns the fasthttp context of c's request.
	RequestCtx(c Ctx) *fasthttp.RequestCtx
	// Context returns the context of c's request, for logs.
	Context(c Ctx) context.Context
	// ProxyTrusted reports whether the app trusts the proxy c's request
	// came through (it then reads X-Forwarded-* headers).
	ProxyTrusted(c Ctx) bool
	// Host returns the host of c's request as the handler sees it, under
	// the app's proxy trust, port included.
	Host(c Ctx) string
	// Scheme returns "http" or "https" as the handler sees it, under the
	// app's proxy trust.
	Scheme(c Ctx) string
	// FiberV2Headers reports that Host and Scheme read the request's
	// headers exactly as Fiber v2 does: the cache then reads them in its
	// own single pass over the headers instead of calling them.
	FiberV2Headers() bool
	// RequestID returns the ID middleware gave c's request, if any.
	RequestID(c Ctx) string
	// RoutePath returns the path, as registered (group prefix included),
	// of the route whose handler answered c's request: called after Next.
	RoutePath(c Ctx) string
	// InternalError returns the error a handler returns for a plain 500
	// (the framework's error handler sends only the status text), wrapping
	// detail so that errors.Is sees it.
	InternalError(detail error) error
	// App returns the app c's request runs in.
	App(c Ctx) App
}

// App is what the cache needs of an app. Two calls for one app return
// equal values (the cache keys what it learns of an app by them).
type App interface {
	// Config returns the routing and header options of the app.
	Config() AppConfig
	// OnShutdown has f run when the app shuts down.
	OnShutdown(f func() error)
	// Handler returns the app's handler, which a background refresh
	// sends its request through (the whole chain).
	Handler() fasthttp.RequestHandler
	// Route returns the path, as registered, of the route named name.
	Route(name string) (path string, ok bool)
	// RouteNames returns the names of the app's routes.
	RouteNames() []string
	// NewRouter returns a router that routes as the app does, holding
	// the one route pattern: InvalidateRoute checks what it fills with it.
	NewRouter(pattern string) Router
}

// AppConfig is what the cache reads of an app's configuration.
type AppConfig struct {
	CaseSensitive bool // paths are keyed as sent, not case folded
	StrictRouting bool // a trailing slash makes another path
	UnescapePath  bool // the router matches the decoded path
	RawHeaders    bool // DisableHeaderNormalizing: header names as sent
}

// Router routes a GET of a path as the app's router does, for one route.
type Router interface {
	// Params returns the route's parameter names, as the handler's
	// c.Params names them.
	Params() []string
	// Route routes target (a path as sent) and returns what the route's
	// handler sees: the path as the router matches it, and its
	// parameters; ok is false when the route does not take target.
	Route(target string) (path string, params map[string]string, ok bool)
}

// Storage is a key-value store the cache keeps its records in: Fiber's
// fiber.Storage (v2 and v3 alike) has these methods.
type Storage interface {
	Get(key string) ([]byte, error)
	Set(key string, val []byte, exp time.Duration) error
	Delete(key string) error
	Reset() error
	Close() error
}
