package cache

import (
	"context"
	"slices"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/requestid"
	"github.com/valyala/fasthttp"

	"github.com/fiber-caches/cache/internal/core"
)

// fiberV3 is the core.Framework of Fiber v3: its fiber.Ctx is the
// core.Ctx.
type fiberV3 struct{}

func (fiberV3) RequestCtx(c core.Ctx) *fasthttp.RequestCtx { return c.(fiber.Ctx).RequestCtx() }
func (fiberV3) Context(c core.Ctx) context.Context         { return c.(fiber.Ctx).Context() }
func (fiberV3) ProxyTrusted(c core.Ctx) bool               { return c.(fiber.Ctx).IsProxyTrusted() }

// Host returns c.Host(): under Fiber v3, c.Hostname() drops the port.
func (fiberV3) Host(c core.Ctx) string   { return c.(fiber.Ctx).Host() }
func (fiberV3) Scheme(c core.Ctx) string { return c.(fiber.Ctx).Scheme() }

// FiberV2Headers is false: Fiber v3 reads X-Forwarded-Host and the
// scheme headers otherwise than v2 (names in any case, values trimmed of
// spaces, the scheme lower-cased), so the cache asks c.Host and c.Scheme.
func (fiberV3) FiberV2Headers() bool    { return false }
func (fiberV3) App(c core.Ctx) core.App { return v3App{c.(fiber.Ctx).App()} }

// RequestID returns the ID Fiber v3's requestid middleware gave c's
// request.
func (fiberV3) RequestID(c core.Ctx) string { return requestid.FromContext(c.(fiber.Ctx)) }

func (fiberV3) RoutePath(c core.Ctx) string {
	if r := c.(fiber.Ctx).Route(); r != nil {
		return r.Path
	}
	return ""
}

// InternalError returns a 500 whose text is the status text alone, so that
// Fiber's default error handler does not send detail to the client.
func (fiberV3) InternalError(detail error) error { return &chainError{detail} }

// chainError is a plain 500 for Fiber v3's error handler, which unwraps
// errors with errors.As to a *fiber.Error: it wraps
// fiber.ErrInternalServerError, and detail too.
type chainError struct{ detail error }

func (e *chainError) Error() string   { return fiber.ErrInternalServerError.Message }
func (e *chainError) Unwrap() []error { return []error{fiber.ErrInternalServerError, e.detail} }

// v3App is a Fiber v3 app as the cache sees it. It is pointer-shaped:
// making one allocates nothing.
type v3App struct{ app *fiber.App }

func (a v3App) Config() core.AppConfig {
	cfg := a.app.Config()
	return core.AppConfig{CaseSensitive: cfg.CaseSensitive, StrictRouting: cfg.StrictRouting, UnescapePath: cfg.UnescapePath, RawHeaders: cfg.DisableHeaderNormalizing}
}

// OnShutdown runs f after the server shut down, as Fiber v2's OnShutdown
// does.
func (a v3App) OnShutdown(f func() error) {
	a.app.Hooks().OnPostShutdown(func(error) error { return f() })
}

func (a v3App) Handler() fasthttp.RequestHandler {
	if s := a.app.Server(); s != nil && s.Handler != nil {
		return s.Handler
	}
	return a.app.Handler()
}

func (a v3App) Route(name string) (string, bool) {
	r := a.app.GetRoute(name)
	return r.Path, r.Name == name && r.Path != ""
}

func (a v3App) RouteNames() []string {
	var names []string
	for _, r := range a.app.GetRoutes() {
		if r.Name != "" && !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	return names
}

// NewRouter routes with Fiber v3's own router, in an app of its own that
// holds the one route, with this app's routing options.
func (a v3App) NewRouter(pattern string) core.Router {
	cfg := a.Config()
	app := fiber.New(fiber.Config{CaseSensitive: cfg.CaseSensitive, StrictRouting: cfg.StrictRouting, UnescapePath: cfg.UnescapePath})
	r := &core.HandlerRouter{}
	app.Get(pattern, func(c fiber.Ctx) error {
		r.Record(c.Path(), c.Params)
		return nil
	}).Name("r")
	r.Names, r.Serve = app.GetRoute("r").Params, app.Handler()
	return r
}
