package core

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// HandlerRouter is the Router of an adapter whose framework routes with a
// fasthttp.RequestHandler: an app of its own holding the one route, whose
// handler calls Record. An adapter's App.NewRouter builds one:
//
//	r := &core.HandlerRouter{}
//	app.Get(pattern, func(c *fiber.Ctx) error { r.Record(c.Path(), c.Params); return nil })
//	r.Names, r.Serve = names, app.Handler()
//
// It routes one target at a time: InvalidateRoute makes one per call.
type HandlerRouter struct {
	// Serve is the handler of the app holding the route.
	Serve fasthttp.RequestHandler
	// Names are the route's parameter names, as the handler's Params takes
	// them.
	Names []string

	path string
	got  map[string]string
	ok   bool
}

// Record is what the route's handler calls: path is the path as the
// router matched it, and param returns a parameter's value by name. They
// are copied: the framework may reuse their memory after the handler.
func (r *HandlerRouter) Record(path string, param func(name string, defaultValue ...string) string) {
	r.ok = true
	r.path = strings.Clone(path)
	r.got = make(map[string]string, len(r.Names))
	for _, n := range r.Names {
		if _, seen := r.got[n]; !seen {
			r.got[n] = strings.Clone(param(n))
		}
	}
}

// Params returns the route's parameter names.
func (r *HandlerRouter) Params() []string { return r.Names }

// Route sends a GET of target through Serve and returns what the route's
// handler recorded.
func (r *HandlerRouter) Route(target string) (string, map[string]string, bool) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodGet)
	ctx.Request.SetRequestURI(target)
	r.ok, r.path, r.got = false, "", nil
	r.Serve(&ctx)
	return r.path, r.got, r.ok
}
