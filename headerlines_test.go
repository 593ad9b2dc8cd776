package cache_test

// Header lines and spellings (issue 16, item 7): Fiber v3's cache security
// suite, translated. Every rule that reads a header sees every line of it,
// in any case; Set-Cookie2 is a cookie; what the cache writes replaces
// every spelling of its name, on hits as on misses. Requests go over a
// real listener as raw bytes, so the lines and spellings are the ones sent.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
)

// hlModes are the two modes of the cache.
var hlModes = []struct {
	name string
	opts []cache.Option
}{
	{"app", nil},
	{"shared", []cache.Option{cache.WithSharedCache()}},
}

// hlGet sends a GET of path to addr with the header lines given as they
// are written ("Name: value"), and returns the response and its body.
func hlGet(t *testing.T, addr, path string, lines ...string) (*http.Response, string) {
	t.Helper()
	head := "GET " + path + " HTTP/1.1\r\nHost: example.com\r\n"
	for _, l := range lines {
		head += l + "\r\n"
	}
	return cxRaw(t, addr, head)
}

// hlValues returns the non-empty values of every line of the request
// header name, in any case: what a handler reading every line sees.
func hlValues(c *fiber.Ctx, name string) string {
	var out []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), name) && len(v) > 0 {
			out = append(out, string(v))
		}
	})
	return strings.Join(out, " | ")
}

func TestLines_AuthorizationOnAnyLine(t *testing.T) {
	for _, st := range cxStores(t) {
		for _, mode := range hlModes {
			for _, raw := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/raw=%v", st.name, mode.name, raw), func(t *testing.T) {
					opts := append(append(st.opts(t), mode.opts...), cache.WithTTL(time.Minute))
					app := cxApp(fiber.Config{DisableHeaderNormalizing: raw})
					app.Use(cxCache(t, opts...).Handler())
					app.Get("/account/:name", func(c *fiber.Ctx) error {
						c.Set("Cache-Control", "max-age=60") // storable in both modes, for anyone it may be shared with
						if auth := hlValues(c, "authorization"); auth != "" {
							return c.SendString("secret of " + auth)
						}
						return c.SendString("anonymous")
					})
					addr := cxListen(t, app)

					for i, name := range []string{"Authorization", "authorization", "AUTHORIZATION"} {
						path := fmt.Sprintf("/account/%d", i) // paths fold case
						_, body := hlGet(t, addr, path, "Authorization:", name+": Bearer alice")
						require.Equal(t, "secret of Bearer alice", body)
						for _, want := range []string{"miss", "hit"} {
							resp, body := hlGet(t, addr, path)
							require.Equal(t, "anonymous", body,
								"an answer to a credential on a second %s line was served to an anonymous client (%s)", name, resp.Header.Get("Cache-Status"))
							require.Equal(t, want, resp.Header.Get("X-Cache"))
						}
					}
				})
			}
		}
	}
}

func TestLines_SetCookie2IsACookie(t *testing.T) {
	for _, st := range cxStores(t) {
		for _, mode := range hlModes {
			for _, raw := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/raw=%v", st.name, mode.name, raw), func(t *testing.T) {
					opts := append(append(st.opts(t), mode.opts...), cache.WithTTL(time.Minute))
					app := cxApp(fiber.Config{DisableHeaderNormalizing: raw})
					app.Use(cxCache(t, opts...).Handler())
					var runs atomic.Int64
					names := []string{"Set-Cookie2", "set-cookie2", "SET-COOKIE2"}
					for i, name := range names {
						app.Get(fmt.Sprintf("/p%d", i), func(c *fiber.Ctx) error {
							n := runs.Add(1)
							c.Set("Cache-Control", "max-age=60")
							c.Response().Header.Set(name, fmt.Sprintf(`session="client-%d"; Version="1"`, n))
							return c.SendString(fmt.Sprintf("page of client-%d", n))
						})
					}
					addr := cxListen(t, app)

					for i, name := range names {
						path := fmt.Sprintf("/p%d", i)
						// To a request without cookies: a session starts, so
						// never stored.
						for range 2 {
							before := runs.Load()
							resp, body := hlGet(t, addr, path)
							require.Equal(t, before+1, runs.Load(), "a page that sets a %s cookie was answered from the cache: %q (%s)", name, body, resp.Header.Get("Cache-Status"))
							require.Equal(t, fmt.Sprintf("page of client-%d", before+1), body)
							require.Equal(t, fmt.Sprintf(`session="client-%d"; Version="1"`, before+1), resp.Header.Get("Set-Cookie2"), "the client that caused the miss gets its cookie")
						}
						if mode.name == "shared" {
							continue // without public, never stored in this mode
						}
						// To a request with cookies, app mode stores the page
						// but never replays the cookie.
						_, first := hlGet(t, addr, path, "Cookie: a=1")
						resp, body := hlGet(t, addr, path, "Cookie: a=1")
						require.Equal(t, "hit", resp.Header.Get("X-Cache"))
						require.Equal(t, first, body)
						require.Empty(t, resp.Header.Values("Set-Cookie2"), "a stored cookie was replayed")
					}
				})
			}
		}
	}
}

// TestLines_OuterMiddlewareSpellings: under DisableHeaderNormalizing, a
// middleware in front of the cache writes its own lines, in lower case, of
// the headers the cache writes; the cache's replace them, on a hit, a 304
// and a miss alike.
func TestLines_OuterMiddlewareSpellings(t *testing.T) {
	for _, st := range cxStores(t) {
		for _, mode := range hlModes {
			t.Run(st.name+"/"+mode.name, func(t *testing.T) {
				app := mode.name == "app"
				opts := append(append(st.opts(t), mode.opts...), cache.WithTTL(time.Minute))
				a := cxApp(fiber.Config{DisableHeaderNormalizing: true})
				a.Use(func(c *fiber.Ctx) error {
					h := &c.Response().Header
					if app {
						// What the cache rewrites for clients in app mode
						// (in the shared-cache mode these lines would be
						// the response's freshness: the upstream's business).
						h.Set("cache-control", "max-age=3600")
						h.Set("expires", "Thu, 01 Jan 2099 00:00:00 GMT")
						h.Set("age", "999")
					}
					h.Set("cache-status", "outer")
					h.Set("x-cache", "outer")
					h.Add("X-Cache", "outer") // a second line, spelled as the cache spells it
					h.Set("etag", `"outer"`)
					h.Set("last-modified", "Thu, 01 Jan 2099 00:00:00 GMT")
					return c.Next()
				})
				a.Use(cxCache(t, opts...).Handler())
				a.Get("/p", func(c *fiber.Ctx) error {
					if !app {
						c.Set("Cache-Control", "max-age=60")
					}
					c.Set("ETag", `"v1"`)
					c.Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
					return c.SendString("body")
				})
				addr := cxListen(t, a)

				one := func(resp *http.Response, what string, names ...string) {
					t.Helper()
					for _, name := range names {
						require.Len(t, resp.Header.Values(name), 1, "%s: %s sent on %d lines: %q", what, name, len(resp.Header.Values(name)), resp.Header.Values(name))
					}
				}
				miss, _ := hlGet(t, addr, "/p")
				require.Equal(t, "miss", miss.Header.Get("X-Cache"), "%v", miss.Header)
				one(miss, "miss", "X-Cache", "Cache-Status")
				if app {
					one(miss, "miss", "Cache-Control", "Expires")
				}
				for _, tc := range []struct {
					what   string
					lines  []string
					status int
					names  []string
				}{
					{"hit", nil, 200, []string{"Cache-Control", "Expires", "Age", "Cache-Status", "X-Cache", "ETag", "Last-Modified"}},
					{"304", []string{`If-None-Match: "v1"`}, 304, []string{"Cache-Control", "Expires", "Age", "Cache-Status", "X-Cache", "ETag"}},
				} {
					if !app {
						tc.names = slices.DeleteFunc(tc.names, func(n string) bool { return n == "Expires" }) // none in this mode
					}
					resp, _ := hlGet(t, addr, "/p", tc.lines...)
					require.Equal(t, tc.status, resp.StatusCode, "%s: %v", tc.what, resp.Header)
					require.Equal(t, "hit", resp.Header.Get("X-Cache"), "%s: %v", tc.what, resp.Header)
					one(resp, tc.what, tc.names...)
					require.Equal(t, `"v1"`, resp.Header.Get("ETag"), tc.what)
					if app {
						require.Equal(t, "max-age=60", resp.Header.Get("Cache-Control"), tc.what)
						require.NotEqual(t, "Thu, 01 Jan 2099 00:00:00 GMT", resp.Header.Get("Expires"), "%s: the cache's Expires, not the outer one", tc.what)
						require.NotEqual(t, "999", resp.Header.Get("Age"), tc.what)
					}
					if tc.status == 200 {
						require.Equal(t, "Mon, 01 Jan 2024 00:00:00 GMT", resp.Header.Get("Last-Modified"))
					}
				}
			})
		}
	}
}

// TestLines_ConditionalAndRangeLines: If-None-Match is a list, so every
// line counts; of If-Modified-Since, Range and If-Range one value is valid,
// so two lines are ignored and the whole response is sent.
func TestLines_ConditionalAndRangeLines(t *testing.T) {
	for _, mode := range hlModes {
		t.Run(mode.name, func(t *testing.T) {
			app := cxApp()
			app.Use(cxCache(t, append(mode.opts, cache.WithTTL(time.Minute))...).Handler())
			app.Get("/p", func(c *fiber.Ctx) error {
				c.Set("Cache-Control", "max-age=60")
				c.Set("ETag", `"v1"`)
				c.Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
				return c.SendString("0123456789")
			})
			addr := cxListen(t, app)
			resp, _ := hlGet(t, addr, "/p")
			require.Equal(t, "miss", resp.Header.Get("X-Cache"))

			for _, tc := range []struct {
				name   string
				lines  []string
				status int
				body   string
			}{
				{"If-None-Match on the first of two lines", []string{`If-None-Match: "v1"`, `If-None-Match: "x"`}, 304, ""},
				{"If-None-Match on the second of two lines", []string{`If-None-Match: "x"`, `If-None-Match: "v1"`}, 304, ""},
				{"If-Modified-Since on two lines", []string{"If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT", "If-Modified-Since: Tue, 02 Jan 2024 00:00:00 GMT"}, 200, "0123456789"},
				{"If-Modified-Since on one line", []string{"If-Modified-Since: Tue, 02 Jan 2024 00:00:00 GMT"}, 304, ""},
				{"Range on two lines", []string{"Range: bytes=0-1", "Range: bytes=4-5"}, 200, "0123456789"},
				{"Range on one line", []string{"Range: bytes=4-5"}, 206, "45"},
				{"If-Range on two lines", []string{"Range: bytes=4-5", `If-Range: "x"`, `If-Range: "v1"`}, 200, "0123456789"},
				{"If-Range on one line", []string{"Range: bytes=4-5", `If-Range: "v1"`}, 206, "45"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					resp, body := hlGet(t, addr, "/p", tc.lines...)
					require.Equal(t, tc.status, resp.StatusCode)
					require.Equal(t, tc.body, body)
					require.Equal(t, "hit", resp.Header.Get("X-Cache"))
				})
			}
		})
	}
}

// TestLines_UnsafeInvalidatesEveryLocation: a write invalidates the path of
// every Location and Content-Location line, in any spelling.
func TestLines_UnsafeInvalidatesEveryLocation(t *testing.T) {
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) {
			app := cxApp(fiber.Config{DisableHeaderNormalizing: raw})
			app.Use(cxCache(t, cache.WithTTL(time.Minute)).Handler())
			var runs atomic.Int64
			app.Get("/items/:id", func(c *fiber.Ctx) error {
				return c.SendString(fmt.Sprintf("%s #%d", c.Params("id"), runs.Add(1)))
			})
			app.Post("/items", func(c *fiber.Ctx) error {
				h := &c.Response().Header
				h.Add("content-location", "/items/1")
				h.Add("Content-Location", "/items/2")
				h.Add("location", "/items/3")
				return c.SendStatus(fiber.StatusCreated)
			})
			addr := cxListen(t, app)
			for _, id := range []string{"1", "2", "3"} {
				hlGet(t, addr, "/items/"+id)
				resp, _ := hlGet(t, addr, "/items/"+id)
				require.Equal(t, "hit", resp.Header.Get("X-Cache"))
			}
			resp, _ := cxRaw(t, addr, "POST /items HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n")
			require.Equal(t, fiber.StatusCreated, resp.StatusCode)
			for _, id := range []string{"1", "2", "3"} {
				resp, body := hlGet(t, addr, "/items/"+id)
				require.Equal(t, "miss", resp.Header.Get("X-Cache"), "/items/%s was not invalidated: %q", id, body)
			}
		})
	}
}

// TestLines_MissReplacesEverySpelling: lines that middleware in front wrote
// with SetCanonical in a spelling the header does not normalize to (so
// that deleting by name misses them) are replaced on a miss too, by what
// app mode advertises, by Never and by Control.
func TestLines_MissReplacesEverySpelling(t *testing.T) {
	a := cxApp()
	a.Use(func(c *fiber.Ctx) error {
		h := &c.Response().Header
		h.SetCanonical([]byte("cache-control"), []byte("max-age=3600"))
		h.SetCanonical([]byte("expires"), []byte("Thu, 01 Jan 2099 00:00:00 GMT"))
		h.SetCanonical([]byte("x-cache"), []byte("outer"))
		h.SetCanonical([]byte("cache-status"), []byte("outer"))
		return c.Next()
	})
	a.Use(cxCache(t, cache.WithTTL(time.Minute)).Handler())
	a.Get("/p", func(c *fiber.Ctx) error { return c.SendString("p") })
	a.Get("/never", cache.Never(), func(c *fiber.Ctx) error { return c.SendString("never") })
	a.Get("/control", cache.Control(cache.MaxAge(30*time.Second)), func(c *fiber.Ctx) error { return c.SendString("control") })
	addr := cxListen(t, a)
	for _, path := range []string{"/p", "/never", "/control"} {
		t.Run(path, func(t *testing.T) {
			resp, _ := hlGet(t, addr, path)
			for _, name := range []string{"Cache-Control", "Expires", "X-Cache", "Cache-Status"} {
				// (not stored, /never gets no X-Cache of the cache's: the
				// outer one is left)
				require.Len(t, resp.Header.Values(name), 1, "%s: %q", name, resp.Header.Values(name))
			}
		})
	}
}

// TestLines_WhatTheCacheDoesNotWriteIsLeft: lines of the status headers
// that the cache does not write for a response (X-Cache when nothing was
// stored or served from the store, Cache-Status with WithCacheStatus(false))
// are left to whoever wrote them, in any spelling.
func TestLines_WhatTheCacheDoesNotWriteIsLeft(t *testing.T) {
	a := cxApp(fiber.Config{DisableHeaderNormalizing: true})
	a.Use(func(c *fiber.Ctx) error {
		c.Response().Header.Set("x-cache", "outer")
		c.Response().Header.Set("cache-status", "outer")
		return c.Next()
	})
	a.Use(cxCache(t, cache.WithCacheStatus(false)).Handler())
	a.Get("/private", cache.Never(), func(c *fiber.Ctx) error { return c.SendString("p") })
	a.Get("/p", func(c *fiber.Ctx) error { return c.SendString("p") })
	addr := cxListen(t, a)

	resp, _ := hlGet(t, addr, "/private")
	require.Equal(t, []string{"outer"}, resp.Header.Values("X-Cache"), "not stored: the cache writes no X-Cache")
	require.Equal(t, []string{"outer"}, resp.Header.Values("Cache-Status"))
	for _, want := range []string{"miss", "hit"} {
		resp, _ = hlGet(t, addr, "/p")
		require.Equal(t, []string{want}, resp.Header.Values("X-Cache"))
		require.Equal(t, []string{"outer"}, resp.Header.Values("Cache-Status"), "WithCacheStatus(false) writes none")
	}
}

// With DisableHeaderNormalizing, a response the cache answers from an
// entry after the handler ran (the client's own validator matched, here)
// keeps the spellings of the headers middleware in front of it wrote:
// resetting the response must not turn normalizing back on.
func TestLines_RawSpellingsKeptAfterReset(t *testing.T) {
	app := cxApp(fiber.Config{DisableHeaderNormalizing: true})
	app.Use(func(c *fiber.Ctx) error {
		c.Response().Header.Set("x-request-id", "r1")
		return c.Next()
	})
	app.Use(cxCache(t, cache.WithTTL(time.Minute)).Handler())
	app.Get("/p", func(c *fiber.Ctx) error {
		c.Response().Header.Set("etag", `"v1"`)
		return c.SendString("p")
	})
	addr := cxListen(t, app)
	// The request's own If-None-Match matches what the handler returns:
	// the cache answers it a 304 from the entry just made.
	conn, err := net.DialTimeout("tcp", addr, cxTimeout)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(cxTimeout)))
	_, err = io.WriteString(conn, "GET /p HTTP/1.1\r\nHost: example.com\r\nIf-None-Match: \"v1\"\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	raw, err := io.ReadAll(conn)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(raw), "HTTP/1.1 304"), "%s", raw)
	require.Contains(t, string(raw), "\r\nx-request-id: r1\r\n", "spelt as the middleware wrote it:\n%s", raw)
}
