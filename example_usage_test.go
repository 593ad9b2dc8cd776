package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fiber-caches/cache"
)

// usageDo sends one request through app and returns the response and its
// body. Extra headers come as name, value pairs.
func usageDo(app *fiber.App, method, target, body string, header ...string) (*http.Response, string) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	return resp, string(b)
}

// The whole app behind one cache, with the defaults: no TTL, so entries
// stay until invalidated, and clients are told to revalidate (no-cache
// plus an ETag), which the cache answers with a 304 from its store.
func ExampleNew() {
	app := fiber.New()
	app.Use(cache.New())

	runs := 0
	app.Get("/hello", func(c *fiber.Ctx) error {
		runs++
		return c.SendString("hello")
	})

	for range 2 {
		resp, body := usageDo(app, fiber.MethodGet, "/hello", "")
		fmt.Printf("%s %q X-Cache=%s Cache-Control=%s\n", resp.Status, body,
			resp.Header.Get("X-Cache"), resp.Header.Get(fiber.HeaderCacheControl))
	}

	// The browser revalidates with the ETag it was given.
	resp, _ := usageDo(app, fiber.MethodGet, "/hello", "")
	etag := resp.Header.Get(fiber.HeaderETag)
	resp, body := usageDo(app, fiber.MethodGet, "/hello", "", fiber.HeaderIfNoneMatch, etag)
	fmt.Printf("%s %q X-Cache=%s\n", resp.Status, body, resp.Header.Get("X-Cache"))
	fmt.Println("handler runs:", runs)
	// Output:
	// 200 OK "hello" X-Cache=miss Cache-Control=no-cache
	// 200 OK "hello" X-Cache=hit Cache-Control=no-cache
	// 304 Not Modified "" X-Cache=hit
	// handler runs: 1
}

// A group behind a cache with a TTL: a successful POST to a path
// invalidates what is stored for it, every query string included.
func ExampleNew_group() {
	app := fiber.New()
	items := []string{"apple"}

	api := app.Group("/api", cache.New(cache.WithTTL(time.Minute)))
	api.Get("/items", func(c *fiber.Ctx) error {
		return c.SendString(fmt.Sprint(items))
	})
	api.Post("/items", func(c *fiber.Ctx) error {
		items = append(items, string(c.Body()))
		return c.SendStatus(fiber.StatusCreated)
	})

	show := func(method, target, send string) {
		resp, body := usageDo(app, method, target, send)
		fmt.Printf("%s %s: %d %s X-Cache=%s Cache-Control=%s\n", method, target,
			resp.StatusCode, body, resp.Header.Get("X-Cache"), resp.Header.Get(fiber.HeaderCacheControl))
	}
	show(fiber.MethodGet, "/api/items", "")
	show(fiber.MethodGet, "/api/items?page=1", "")
	show(fiber.MethodGet, "/api/items", "")
	show(fiber.MethodPost, "/api/items", "pear")
	show(fiber.MethodGet, "/api/items", "")
	show(fiber.MethodGet, "/api/items?page=1", "")
	// Output:
	// GET /api/items: 200 [apple] X-Cache=miss Cache-Control=max-age=60
	// GET /api/items?page=1: 200 [apple] X-Cache=miss Cache-Control=max-age=60
	// GET /api/items: 200 [apple] X-Cache=hit Cache-Control=max-age=60
	// POST /api/items: 201 Created X-Cache= Cache-Control=
	// GET /api/items: 200 [apple pear] X-Cache=miss Cache-Control=max-age=60
	// GET /api/items?page=1: 200 [apple pear] X-Cache=miss Cache-Control=max-age=60
}

// Routes under an app-wide cache: Control shortens what one route
// advertises (and how long it is kept), Never keeps another out of every
// cache.
func ExampleControl_route() {
	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(2 * time.Minute)))

	var prices, account int
	app.Get("/prices", cache.Control(cache.MaxAge(30*time.Second)), func(c *fiber.Ctx) error {
		prices++
		return c.SendString("prices")
	})
	app.Get("/account", cache.Never(), func(c *fiber.Ctx) error {
		account++
		return c.SendString("account")
	})

	for _, path := range []string{"/prices", "/prices", "/account", "/account"} {
		resp, _ := usageDo(app, fiber.MethodGet, path, "")
		fmt.Printf("%s: X-Cache=%q Cache-Control=%s\n", path,
			resp.Header.Get("X-Cache"), resp.Header.Get(fiber.HeaderCacheControl))
	}
	fmt.Println("handler runs:", prices, account)
	// Output:
	// /prices: X-Cache="miss" Cache-Control=max-age=30
	// /prices: X-Cache="hit" Cache-Control=max-age=30
	// /account: X-Cache="" Cache-Control=max-age=0, no-cache, no-store, must-revalidate, private
	// /account: X-Cache="" Cache-Control=max-age=0, no-cache, no-store, must-revalidate, private
	// handler runs: 1 2
}

// A handler that changes data invalidates, through Helper, the other
// pages that show it. Its own path is invalidated automatically.
func ExampleHelper() {
	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(time.Minute)))

	names := map[string]string{"42": "Ada"}
	app.Get("/users", func(c *fiber.Ctx) error {
		return c.SendString("users: " + names["42"])
	}).Name("users")
	app.Get("/users/:id", func(c *fiber.Ctx) error {
		return c.SendString("user: " + names[c.Params("id")])
	}).Name("user")
	app.Put("/users/:id", func(c *fiber.Ctx) error {
		names[strings.Clone(c.Params("id"))] = string(c.Body()) // Fiber's strings alias the request: copy what you keep
		h, err := cache.Helper(c)
		if err != nil {
			return err // no cache middleware in front of this handler
		}
		// PUT /users/42 invalidates GET /users/42 by itself; the list
		// shows the name too.
		if err := h.InvalidateRoute("users", nil); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	})

	get := func(target string) {
		resp, body := usageDo(app, fiber.MethodGet, target, "")
		fmt.Printf("%s X-Cache=%s\n", body, resp.Header.Get("X-Cache"))
	}
	get("/users")
	get("/users/42")
	get("/users")
	get("/users/42")

	resp, _ := usageDo(app, fiber.MethodPut, "/users/42", "Grace")
	fmt.Println("PUT:", resp.StatusCode)
	get("/users")
	get("/users/42")
	// Output:
	// users: Ada X-Cache=miss
	// user: Ada X-Cache=miss
	// users: Ada X-Cache=hit
	// user: Ada X-Cache=hit
	// PUT: 204
	// users: Grace X-Cache=miss
	// user: Grace X-Cache=miss
}

// One route behind a cache of its own: the other routes are not cached.
func ExampleNew_route() {
	app := fiber.New()

	runs := 0
	reportHandler := func(c *fiber.Ctx) error {
		runs++
		return c.SendString("report")
	}
	app.Get("/report", cache.New(cache.WithTTL(time.Hour)), reportHandler)
	app.Get("/status", func(c *fiber.Ctx) error { return c.SendString("ok") })

	for _, target := range []string{"/report", "/report", "/status"} {
		resp, body := usageDo(app, fiber.MethodGet, target, "")
		fmt.Printf("%s: %s X-Cache=%q\n", target, body, resp.Header.Get("X-Cache"))
	}
	fmt.Println("report handler runs:", runs)
	// Output:
	// /report: report X-Cache="miss"
	// /report: report X-Cache="hit"
	// /status: ok X-Cache=""
	// report handler runs: 1
}

// A *Cache built with NewCache invalidates from outside a request: here a
// goroutine consuming a channel of changed user IDs, as a message consumer
// would. With a shared storage (WithStorage, Redis), the invalidation
// reaches every instance that shares it. WithClientTTL(0) tells browsers
// no-cache, so it reaches them at once too.
func ExampleNewCache() {
	c := cache.NewCache(cache.WithTTL(10*time.Minute), cache.WithClientTTL(0))
	defer c.Close()
	app := fiber.New()
	app.Use(c.Handler()) // cache.New(opts...) is cache.NewCache(opts...).Handler()

	names := map[string]string{"42": "Ada"}
	app.Get("/users/:id", func(c *fiber.Ctx) error {
		return c.SendString("user: " + names[c.Params("id")])
	})
	get := func(target string) {
		resp, body := usageDo(app, fiber.MethodGet, target, "")
		fmt.Printf("%s X-Cache=%s Cache-Control=%s\n", body, resp.Header.Get("X-Cache"), resp.Header.Get(fiber.HeaderCacheControl))
	}
	get("/users/42")
	get("/users/42")

	userUpdates := make(chan string)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for id := range userUpdates {
			// Outside a request there is no current host: name it, as
			// clients send it (httptest's requests say example.com).
			if err := c.InvalidateURL("https://example.com/users/" + id); err != nil {
				fmt.Println("invalidate:", err)
			}
		}
	}()
	names["42"] = "Grace" // changed elsewhere, without a request through the app
	userUpdates <- "42"
	close(userUpdates)
	<-consumed

	get("/users/42")
	// Output:
	// user: Ada X-Cache=miss Cache-Control=no-cache
	// user: Ada X-Cache=hit Cache-Control=no-cache
	// user: Grace X-Cache=miss Cache-Control=no-cache
}

// browser is a private cache as RFC 9111 has a browser keep one, reduced
// to one page and a clock that does not move: it reuses its copy without
// asking while Cache-Control gives it a max-age above its Age, and else
// revalidates it with its ETag (no-cache: every time).
type browser struct {
	app        *fiber.App
	body, etag string
	fresh      bool
}

// get returns the page and where it came from.
func (b *browser) get(target string) string {
	if b.fresh {
		return b.body + " (the browser's copy: the server is not asked)"
	}
	var hdr []string
	if b.etag != "" {
		hdr = []string{fiber.HeaderIfNoneMatch, b.etag}
	}
	resp, body := usageDo(b.app, fiber.MethodGet, target, "", hdr...)
	from := fmt.Sprintf("%d from the server, X-Cache=%s", resp.StatusCode, resp.Header.Get("X-Cache"))
	if resp.StatusCode != fiber.StatusNotModified {
		b.body, b.etag = body, resp.Header.Get(fiber.HeaderETag)
	}
	cc := resp.Header.Get(fiber.HeaderCacheControl)
	maxAge := -1
	for d := range strings.SplitSeq(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			maxAge, _ = strconv.Atoi(v)
		}
	}
	age, _ := strconv.Atoi(resp.Header.Get(fiber.HeaderAge))
	b.fresh = !strings.Contains(cc, "no-cache") && maxAge > age
	return fmt.Sprintf("%s (%s; Cache-Control: %s)", b.body, from, cc)
}

// What clients are told decides what they show after a write. The cache
// serves the new page at once in every case (another browser gets it); a
// browser told max-age keeps showing its copy, without asking, until that
// age is reached.
// WithClientTTL(0), like no TTL at all, tells it no-cache: it asks every
// time, gets a 304 from the cache while the page is unchanged, and the new
// page as soon as it changed.
func ExampleWithClientTTL() {
	for _, choice := range []struct {
		name string
		opts []cache.Option
	}{
		{"WithTTL(2*time.Minute)", []cache.Option{cache.WithTTL(2 * time.Minute)}},
		{"WithTTL(2*time.Minute), WithClientTTL(0)", []cache.Option{cache.WithTTL(2 * time.Minute), cache.WithClientTTL(0)}},
		{"no TTL", nil},
	} {
		app := fiber.New()
		app.Use(cache.New(choice.opts...))
		name := "Ada"
		app.Get("/me", func(c *fiber.Ctx) error { return c.SendString(name) })
		app.Put("/me", func(c *fiber.Ctx) error {
			name = string(c.Body())
			return c.SendStatus(fiber.StatusNoContent)
		})

		b := &browser{app: app}
		fmt.Println(choice.name + ":")
		fmt.Println("  GET:", b.get("/me"))
		fmt.Println("  GET:", b.get("/me"))
		resp, _ := usageDo(app, fiber.MethodPut, "/me", "Grace")
		fmt.Println("  PUT:", resp.StatusCode)
		fmt.Println("  GET:", b.get("/me"))
		fmt.Println("  GET:", (&browser{app: app}).get("/me"), "(another browser)")
	}
	// Output:
	// WithTTL(2*time.Minute):
	//   GET: Ada (200 from the server, X-Cache=miss; Cache-Control: max-age=120)
	//   GET: Ada (the browser's copy: the server is not asked)
	//   PUT: 204
	//   GET: Ada (the browser's copy: the server is not asked)
	//   GET: Grace (200 from the server, X-Cache=miss; Cache-Control: max-age=120) (another browser)
	// WithTTL(2*time.Minute), WithClientTTL(0):
	//   GET: Ada (200 from the server, X-Cache=miss; Cache-Control: no-cache)
	//   GET: Ada (304 from the server, X-Cache=hit; Cache-Control: no-cache)
	//   PUT: 204
	//   GET: Grace (200 from the server, X-Cache=miss; Cache-Control: no-cache)
	//   GET: Grace (200 from the server, X-Cache=hit; Cache-Control: no-cache) (another browser)
	// no TTL:
	//   GET: Ada (200 from the server, X-Cache=miss; Cache-Control: no-cache)
	//   GET: Ada (304 from the server, X-Cache=hit; Cache-Control: no-cache)
	//   PUT: 204
	//   GET: Grace (200 from the server, X-Cache=miss; Cache-Control: no-cache)
	//   GET: Grace (200 from the server, X-Cache=hit; Cache-Control: no-cache) (another browser)
}
