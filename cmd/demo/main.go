// Command demo runs a small Fiber app behind fibercache with the default
// in-process store, and prints where to point curl to see a miss, then a
// hit.
//
//	go run ./cmd/demo            # listens on 127.0.0.1:3000
//	go run ./cmd/demo -addr 127.0.0.1:8080
package main

import (
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/fiber-caches/cache"
	"github.com/gofiber/fiber/v2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	flag.Parse()

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app.Use(cache.New(cache.WithTTL(2*time.Minute), cache.WithLogger(logger)))

	app.Get("/time", func(c *fiber.Ctx) error {
		time.Sleep(200 * time.Millisecond) // pretend to work
		return c.SendString("rendered at " + time.Now().Format(time.RFC3339Nano) + "\n")
	}).Name("time")
	app.Get("/hello/:name", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderVary, fiber.HeaderAcceptLanguage)
		greeting := "Hello"
		if c.Get(fiber.HeaderAcceptLanguage) == "fr" {
			greeting = "Bonjour"
		}
		return c.SendString(greeting + ", " + c.Params("name") + "! (" + time.Now().Format(time.RFC3339Nano) + ")\n")
	})
	app.Get("/private", cache.Never(), func(c *fiber.Ctx) error {
		return c.SendString("never stored: " + time.Now().Format(time.RFC3339Nano) + "\n")
	})
	app.Post("/time", func(c *fiber.Ctx) error {
		// A successful POST invalidates GET /time on its own; the helper
		// does the same for any URL or named route.
		h, err := cache.Helper(c)
		if err != nil {
			return err
		}
		if err := h.InvalidateRoute("time", nil); err != nil {
			return err
		}
		return c.SendString("invalidated /time\n")
	})

	base := "http://" + *addr
	fmt.Printf(`fibercache demo on %[1]s
  curl -i %[1]s/time                          # X-Cache: miss, takes 200ms
  curl -i %[1]s/time                          # X-Cache: hit, same body, Age
  curl -i -H 'Accept-Language: fr' %[1]s/hello/ana   # one entry per language (Vary)
  curl -i %[1]s/private                       # never stored
  curl -i -X POST %[1]s/time                  # invalidates /time: next GET is a miss
Logs (debug) below; Ctrl-C stops.
`, base)
	log.Fatal(app.Listen(*addr))
}
