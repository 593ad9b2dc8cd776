package cache

import (
	"context"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/fiber-caches/cache/internal/core"
)

// fiberV2 is the core.Framework of Fiber v2: its *fiber.Ctx is the
// core.Ctx.
type fiberV2 struct{}

func (fiberV2) RequestCtx(c core.Ctx) *fasthttp.RequestCtx { return c.(*fiber.Ctx).Context() }
func (fiberV2) Context(c core.Ctx) context.Context         { return c.(*fiber.Ctx).UserContext() }
func (fiberV2) ProxyTrusted(c core.Ctx) bool               { return c.(*fiber.Ctx).IsProxyTrusted() }
func (fiberV2) Host(c core.Ctx) string                     { return c.(*fiber.Ctx).Hostname() }
func (fiberV2) Scheme(c core.Ctx) string                   { return c.(*fiber.Ctx).Protocol() }
func (fiberV2) FiberV2Headers() bool                       { return true }
func (fiberV2) App(c core.Ctx) core.App                    { return v2App{c.(*fiber.Ctx).App()} }

// RequestID returns what Fiber v2's requestid middleware leaves in Locals.
func (fiberV2) RequestID(c core.Ctx) string {
	id, _ := c.Locals("requestid").(string)
	return id
}

func (fiberV2) RoutePath(c core.Ctx) string {
	if r := c.(*fiber.Ctx).Route(); r != nil {
		return r.Path
	}
	return ""
}

// InternalError returns a 500 whose text is the status text alone, so that
// Fiber's default error handler does not send detail to the client.
func (fiberV2) InternalError(detail error) error { return &chainError{detail} }

// chainError is a plain 500 for Fiber v2's error handler (it wraps
// fiber.ErrInternalServerError) that wraps detail too.
type chainError struct{ detail error }

func (e *chainError) Error() string   { return fiber.ErrInternalServerError.Message }
func (e *chainError) Unwrap() []error { return []error{fiber.ErrInternalServerError, e.detail} }

// v2App is a Fiber v2 app as the cache sees it. It is pointer-shaped:
// making one allocates nothing.
type v2App struct{ app *fiber.App }

func (a v2App) Config() core.AppConfig {
	cfg := a.app.Config()
	return core.AppConfig{CaseSensitive: cfg.CaseSensitive, StrictRouting: cfg.StrictRouting, UnescapePath: cfg.UnescapePath, RawHeaders: cfg.DisableHeaderNormalizing}
}

func (a v2App) OnShutdown(f func() error) { a.app.Hooks().OnShutdown(f) }

func (a v2App) Handler() fasthttp.RequestHandler {
	if h := a.app.Server().Handler; h != nil {
		return h
	}
	return a.app.Handler()
}

func (a v2App) Route(name string) (string, bool) {
	r := a.app.GetRoute(name)
	return r.Path, r.Name == name && r.Path != ""
}

func (a v2App) RouteNames() []string {
	var names []string
	for _, r := range a.app.GetRoutes() {
		if r.Name != "" && !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	return names
}

// NewRouter routes with Fiber v2's own router, in an app of its own that
// holds the one route, with this app's routing options.
func (a v2App) NewRouter(pattern string) core.Router {
	cfg := a.Config()
	app := fiber.New(fiber.Config{CaseSensitive: cfg.CaseSensitive, StrictRouting: cfg.StrictRouting, UnescapePath: cfg.UnescapePath})
	r := &core.HandlerRouter{}
	app.Get(pattern, func(c *fiber.Ctx) error {
		r.Record(c.Path(), c.Params)
		return nil
	}).Name("r")
	r.Names, r.Serve = app.GetRoute("r").Params, app.Handler()
	return r
}
