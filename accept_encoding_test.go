package cache

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/fiber-caches/cache/internal/core"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/valyala/fasthttp"
)

// fasthttpEncoding is what fasthttp's CompressHandlerBrotliLevel (run by
// Fiber's compress middleware) picks, asked through fasthttp itself.
func fasthttpEncoding(h *fasthttp.RequestHeader) string {
	switch {
	case h.HasAcceptEncoding("br"):
		return "br"
	case h.HasAcceptEncoding("gzip"):
		return "gzip"
	case h.HasAcceptEncoding("deflate"):
		return "deflate"
	}
	return "identity"
}

var acceptEncodings = []string{
	"", "br", "gzip", "deflate", "identity", "*",
	"gzip, deflate, br", "gzip, deflate, br, zstd", "br, gzip", "gzip, br", "deflate, gzip",
	"gzip,br", "gzip,deflate", "br;q=0, gzip", "br;q=1.0, gzip", "gzip;q=1.0, identity; q=0.5, *;q=0",
	"x-gzip, gzip", "x-gzip", "gzip, x-br", "brotli", "BR", "GZIP", "  gzip", "gzip ", "gzip , br",
	"identity;q=0", "*;q=0", "compress, deflate", "deflate;q=0.5", "zstd", "br,", ",br", " br",
}

// TestServedEncodingIsFasthttps checks servedEncoding against fasthttp's
// own selection, on spellings browsers send, odd ones, and random ones,
// with and without header normalizing; and that it allocates nothing.
func TestServedEncodingIsFasthttps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := []string{"br", "gzip", "deflate", "identity", "zstd", "*", "x-gzip", ";q=0", ";q=1", ",", ", ", " ", "compress", "BR"}
	cases := append([]string(nil), acceptEncodings...)
	for range 5000 {
		var sb strings.Builder
		for range rng.IntN(6) {
			sb.WriteString(tokens[rng.IntN(len(tokens))])
		}
		cases = append(cases, sb.String())
	}
	for _, raw := range []bool{false, true} {
		for _, name := range []string{"Accept-Encoding", "accept-encoding", "ACCEPT-ENCODING"} {
			for _, ae := range cases {
				var h fasthttp.RequestHeader
				if raw {
					h.DisableNormalizing()
				}
				h.Set(name, ae)
				h.Add("Accept-Encoding", "gzip") // a second line: fasthttp reads the first only
				if got, want := core.ServedEncoding(&h), fasthttpEncoding(&h); got != want {
					t.Fatalf("raw %v, %s: %q: servedEncoding %q, fasthttp %q", raw, name, ae, got, want)
				}
			}
		}
	}
	var h fasthttp.RequestHeader
	h.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	var buf [64]byte
	if n := testing.AllocsPerRun(100, func() { _ = core.AppendRequestValues(buf[:0], &h, "accept-encoding", false) }); n != 0 {
		t.Fatalf("appendRequestValues(accept-encoding): %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = core.AppendRequestValues(buf[:0], &h, "accept-encoding", true) }); n != 0 {
		t.Fatalf("appendRequestValues(accept-encoding, fold): %v allocations, want 0", n)
	}
}

// compressApp serves a JSON body through the cache and Fiber's compress
// middleware, in the order given: cacheOuter registers the cache first (it
// runs first, so compress runs inside it, between it and the handler).
// runs counts the handler's runs, compressions the responses compress
// actually compressed.
type compressApp struct {
	serve        fasthttp.RequestHandler
	body         []byte
	runs         atomic.Int64
	compressions atomic.Int64
	raw          bool
}

func newCompressApp(t *testing.T, cacheOuter, raw bool) *compressApp {
	t.Helper()
	a := &compressApp{body: []byte(`{"items":"` + strings.Repeat("fibercache ", 200) + `"}`), raw: raw}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, DisableHeaderNormalizing: raw})
	comp := compress.New()
	compressing := func(c *fiber.Ctx) error {
		before := len(c.Response().Header.Peek(fiber.HeaderContentEncoding))
		err := comp(c)
		if before == 0 && len(c.Response().Header.Peek(fiber.HeaderContentEncoding)) > 0 {
			a.compressions.Add(1)
		}
		return err
	}
	m := NewCache(WithTTL(time.Minute))
	t.Cleanup(func() { _ = m.Close() })
	if cacheOuter {
		app.Use(m.Handler(), compressing)
	} else {
		app.Use(compressing, m.Handler())
	}
	app.Get("/items", func(c *fiber.Ctx) error {
		a.runs.Add(1)
		c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
		return c.Send(a.body)
	})
	a.serve = app.Handler()
	return a
}

type encResponse struct {
	xcache, encoding, vary string
	body                   []byte
}

// get sends GET /items with the Accept-Encoding line ae (none when empty)
// under the header name name.
func (a *compressApp) get(t *testing.T, name, ae string) encResponse {
	t.Helper()
	var req fasthttp.Request
	if a.raw {
		req.Header.DisableNormalizing()
	}
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI("/items")
	req.Header.SetHost("example.com")
	if ae != "" {
		req.Header.Set(name, ae)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	a.serve(&ctx)
	resp := &ctx.Response
	if resp.StatusCode() != fiber.StatusOK {
		t.Fatalf("Accept-Encoding %q: status %d", ae, resp.StatusCode())
	}
	r := encResponse{
		xcache:   string(resp.Header.Peek("X-Cache")),
		encoding: string(resp.Header.Peek(fiber.HeaderContentEncoding)),
		vary:     string(resp.Header.Peek(fiber.HeaderVary)),
		body:     bytes.Clone(resp.Body()),
	}
	if got := decode(t, r.encoding, r.body); !bytes.Equal(got, a.body) {
		t.Fatalf("Accept-Encoding %q: the %q body does not decode to the handler's", ae, r.encoding)
	}
	return r
}

func decode(t *testing.T, encoding string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch encoding {
	case "":
		return b
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "deflate": // zlib (RFC 9110 §8.4.1.2)
		zr, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", encoding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", encoding, err)
	}
	return out
}

// TestAcceptEncodingCompressInsideCache: with the cache registered before
// compress.New() (app.Use(cache.New(...)) first), compress runs inside the
// cache: the cache sees its Vary: Accept-Encoding and stores the
// compressed body, one entry per coding served (br, gzip, deflate,
// identity), keyed by the coding rather than the raw header: every
// spelling of a group shares its first request's entry. A hit is the stored compressed bytes:
// neither the handler nor the compressor runs again.
func TestAcceptEncodingCompressInsideCache(t *testing.T) {
	a := newCompressApp(t, true, false)
	groups := []struct {
		encoding  string // as Content-Encoding says it; "" for identity
		spellings []string
	}{
		{"br", []string{"gzip, deflate, br", "br", "gzip, deflate, br, zstd", "br, gzip", "gzip, br"}},
		{"gzip", []string{"gzip", "gzip, deflate", "deflate, gzip", "br;q=0, gzip", "gzip, br;q=0"}},
		{"deflate", []string{"deflate", "deflate, compress", "compress, deflate"}},
		{"", []string{"", "identity", "*", "gzip;q=1.0, identity; q=0.5, *;q=0", "compress", "br;q=1", "br;q=0.5, br", "x-gzip, gzip"}},
	}
	stored := map[string][]byte{}
	for _, g := range groups {
		for i, ae := range g.spellings {
			r := a.get(t, fiber.HeaderAcceptEncoding, ae)
			if r.encoding != g.encoding {
				t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want %q", ae, r.encoding, g.encoding)
			}
			want := "hit"
			if i == 0 {
				want = "miss"
				stored[g.encoding] = r.body
			}
			if r.xcache != want {
				t.Fatalf("Accept-Encoding %q (spelling %d of coding %q): X-Cache %q, want %q", ae, i, g.encoding, r.xcache, want)
			}
			if want == "hit" && !bytes.Equal(r.body, stored[g.encoding]) {
				t.Fatalf("Accept-Encoding %q: the hit's body is not the stored %q bytes", ae, g.encoding)
			}
			if g.encoding != "" && !strings.EqualFold(r.vary, fiber.HeaderAcceptEncoding) {
				t.Fatalf("Accept-Encoding %q: Vary %q", ae, r.vary)
			}
		}
	}
	if got := a.runs.Load(); got != int64(len(groups)) {
		t.Fatalf("the handler ran %d times, want once per coding (%d)", got, len(groups))
	}
	if got := a.compressions.Load(); got != 3 {
		t.Fatalf("compress compressed %d responses, want 3 (one br, gzip, deflate: the stored ones)", got)
	}
	if len(stored["br"]) >= len(a.body) || len(stored["gzip"]) >= len(a.body) {
		t.Fatalf("stored bodies of %d (br) and %d (gzip) bytes are not compressed (%d)", len(stored["br"]), len(stored["gzip"]), len(a.body))
	}
}

// TestAcceptEncodingCompressOutsideCache shows the other order at work:
// with compress.New() registered before the cache, the cache stores the
// handler's identity body (compress has not run yet when it stores, so
// there is no Vary to key by) and compress compresses every response
// again, hits included. Correct, but each hit pays for a compression.
func TestAcceptEncodingCompressOutsideCache(t *testing.T) {
	a := newCompressApp(t, false, false)
	const n = 5
	for i := range n {
		for _, ae := range []string{"gzip, deflate, br", "gzip"} {
			r := a.get(t, fiber.HeaderAcceptEncoding, ae)
			if want := map[bool]string{true: "miss", false: "hit"}[i == 0 && ae != "gzip"]; r.xcache != want {
				t.Fatalf("request %d, Accept-Encoding %q: X-Cache %q, want %q", i, ae, r.xcache, want)
			}
			if r.encoding == "" {
				t.Fatalf("Accept-Encoding %q: not compressed", ae)
			}
		}
	}
	if got := a.runs.Load(); got != 1 {
		t.Fatalf("the handler ran %d times, want 1 (one identity entry)", got)
	}
	if got := a.compressions.Load(); got != 2*n {
		t.Fatalf("compress compressed %d responses, want %d: every response, hits included", got, 2*n)
	}
}

// TestAcceptEncodingRawHeaders: under DisableHeaderNormalizing, fasthttp
// (hence compress) reads only a line named exactly "Accept-Encoding"; the
// key follows it, so a lower-case line is served, and keyed, as identity.
func TestAcceptEncodingRawHeaders(t *testing.T) {
	a := newCompressApp(t, true, true)
	for i, c := range []struct{ name, ae, encoding, xcache string }{
		{"Accept-Encoding", "gzip", "gzip", "miss"},
		{"accept-encoding", "gzip", "", "miss"},
		{"ACCEPT-ENCODING", "br", "", "hit"},
		{"Accept-Encoding", "gzip, deflate", "gzip", "hit"},
	} {
		r := a.get(t, c.name, c.ae)
		if r.encoding != c.encoding || r.xcache != c.xcache {
			t.Fatalf("request %d (%s: %s): Content-Encoding %q, X-Cache %q; want %q, %q", i, c.name, c.ae, r.encoding, r.xcache, c.encoding, c.xcache)
		}
	}
	if got := a.runs.Load(); got != 2 {
		t.Fatalf("the handler ran %d times, want 2", got)
	}
}

// TestKeysReadHostAndSchemeAsFiber: the key's effective host and scheme,
// read from reqHeaders' one pass, are exactly what c.Hostname() and
// c.Protocol() return (lower-cased host), whatever the spelling of the
// forwarding headers, with header normalizing on or off, behind a trusted
// proxy or not.
func TestKeysReadHostAndSchemeAsFiber(t *testing.T) {
	lines := [][][2]string{
		nil,
		{{"X-Forwarded-Host", "Proxy.Example"}},
		{{"X-Forwarded-Host", "a.example, b.example"}},
		{{"X-Forwarded-Host", ""}, {"X-Forwarded-Host", "second.example"}},
		{{"x-forwarded-host", "lower.example"}},
		{{"X-FORWARDED-HOST", "upper.example"}, {"X-Forwarded-Host", "exact.example"}},
		{{"X-Forwarded-Proto", "https"}},
		{{"X-Forwarded-Proto", "https, http"}},
		{{"x-forwarded-proto", "https"}},
		{{"X-Forwarded-Protocol", "wss"}, {"X-Forwarded-Proto", "ftp"}},
		{{"X-Forwarded-Ssl", "on"}},
		{{"X-Forwarded-Ssl", "off"}},
		{{"X-Forwarded-Proto", "http"}, {"X-Forwarded-Ssl", "on"}},
		{{"X-Forwarded-Ssl", "on"}, {"X-Url-Scheme", "gopher"}},
		{{"X-Url-Scheme", "HTTPS"}, {"X-Forwarded-Host", "Both.Example"}},
	}
	for _, raw := range []bool{false, true} {
		for _, check := range []bool{false, true} {
			app := fiber.New(fiber.Config{DisableHeaderNormalizing: raw, EnableTrustedProxyCheck: check, TrustedProxies: []string{"10.0.0.1"}})
			m := NewCache(WithTTL(time.Minute))
			t.Cleanup(func() { _ = m.Close() })
			var got, want [2]string
			app.Get("/*", func(c *fiber.Ctx) error {
				host, scheme, ok := m.c.KeyHostScheme(c)
				if !ok {
					t.Fatal("bypass")
				}
				got = [2]string{host, scheme}
				want = [2]string{strings.ToLower(c.Hostname()), c.Protocol()}
				return nil
			})
			serve := app.Handler()
			for _, from := range []string{"10.0.0.1", "192.0.2.7"} {
				for i, ls := range lines {
					var req fasthttp.Request
					if raw {
						req.Header.DisableNormalizing()
					}
					req.SetRequestURI("/Items/1")
					req.Header.SetHost("Origin.Example")
					for _, kv := range ls {
						req.Header.Add(kv[0], kv[1])
					}
					var ctx fasthttp.RequestCtx
					ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(from), Port: 1234}, nil)
					serve(&ctx)
					if got != want {
						t.Fatalf("raw %v, proxy check %v, from %s, case %d %q: key host and scheme %q, Fiber says %q", raw, check, from, i, ls, got, want)
					}
				}
			}
		}
	}
}
