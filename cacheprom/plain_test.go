package cacheprom_test

import (
	"context"
	"fmt"

	"github.com/valyala/fasthttp"

	"github.com/fiber-caches/cache/internal/core"
)

// A framework of the fewest parts the cache engine runs in, on plain
// fasthttp, so that this module's tests need neither Fiber v2 nor v3: an
// app is /metrics, then the cache, then a handler per path (no routing
// options, no proxy trust, no named routes).

// plainApp is the app: a core.App.
type plainApp struct {
	metrics fasthttp.RequestHandler            // served before the cache
	cache   func(core.Ctx) error               // the middleware
	routes  map[string]func(c *plainCtx) error // by exact path; others: 404
}

// Handler returns the app's handler: the whole chain, a 500 for an error.
func (a *plainApp) Handler() fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		if string(rc.Path()) == "/metrics" {
			a.metrics(rc)
			return
		}
		c := &plainCtx{rc: rc, app: a}
		if err := a.cache(c); err != nil {
			rc.Error(fasthttp.StatusMessage(fasthttp.StatusInternalServerError), fasthttp.StatusInternalServerError)
		}
	}
}

func (a *plainApp) Config() core.AppConfig               { return core.AppConfig{} }
func (a *plainApp) OnShutdown(func() error)              {}
func (a *plainApp) Route(string) (string, bool)          { return "", false }
func (a *plainApp) RouteNames() []string                 { return nil }
func (a *plainApp) NewRouter(pattern string) core.Router { return nil } // no named routes to invalidate

// plainCtx is a request's context: a core.Ctx.
type plainCtx struct {
	rc   *fasthttp.RequestCtx
	app  *plainApp
	next bool // the cache has called Next
}

// Next runs the path's handler.
func (c *plainCtx) Next() error {
	if c.next {
		return nil
	}
	c.next = true
	h := c.app.routes[string(c.rc.Path())]
	if h == nil {
		c.rc.SetStatusCode(fasthttp.StatusNotFound)
		return nil
	}
	return h(c)
}

func (c *plainCtx) Path(...string) string        { return string(c.rc.Path()) }
func (c *plainCtx) Method(...string) string      { return string(c.rc.Method()) }
func (c *plainCtx) OriginalURL() string          { return string(c.rc.RequestURI()) }
func (c *plainCtx) Request() *fasthttp.Request   { return &c.rc.Request }
func (c *plainCtx) Response() *fasthttp.Response { return &c.rc.Response }

func (c *plainCtx) Locals(key any, value ...any) any {
	if len(value) > 0 {
		c.rc.SetUserValue(key, value[0])
		return value[0]
	}
	return c.rc.UserValue(key)
}

// plainFramework is the core.Framework of plainApp.
type plainFramework struct{}

func (plainFramework) RequestCtx(c core.Ctx) *fasthttp.RequestCtx { return c.(*plainCtx).rc }
func (plainFramework) Context(core.Ctx) context.Context           { return context.Background() }
func (plainFramework) ProxyTrusted(core.Ctx) bool                 { return false }
func (plainFramework) Host(c core.Ctx) string                     { return string(c.(*plainCtx).rc.Host()) }
func (plainFramework) Scheme(core.Ctx) string                     { return "http" }
func (plainFramework) FiberV2Headers() bool                       { return false }
func (plainFramework) RequestID(core.Ctx) string                  { return "" }
func (plainFramework) RoutePath(c core.Ctx) string                { return c.Path() }
func (plainFramework) App(c core.Ctx) core.App                    { return c.(*plainCtx).app }

func (plainFramework) InternalError(detail error) error {
	return fmt.Errorf("internal server error: %w", detail)
}
