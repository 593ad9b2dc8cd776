package cache

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// The paths InvalidateRoute names are those clients' requests are keyed
// under (c.Path()); route_wire_test.go checks the same over a listener.

var (
	rawApp      = &core.AppConfig{}
	unescapeApp = &core.AppConfig{UnescapePath: true}
)

func TestFillRoute(t *testing.T) {
	cases := []struct {
		name    string
		a       *core.AppConfig
		pattern string
		params  fiber.Map
		want    []string // the paths, as c.Path() shows them
		missing []string
		err     string // in the error, when there is one
	}{
		// Without UnescapePath: pchar as it is, every class of it.
		{"unreserved", rawApp, "/users/:id", fiber.Map{"id": "aZ09-._~"}, []string{"/users/aZ09-._~"}, nil, ""},
		{"sub-delims", rawApp, "/users/:id", fiber.Map{"id": "!$&'()*+,;="}, []string{"/users/!$&'()*+,;="}, nil, ""},
		{"colon and at", rawApp, "/users/:id", fiber.Map{"id": "a:b@c"}, []string{"/users/a:b@c"}, nil, ""},
		{"quote", rawApp, "/users/:id", fiber.Map{"id": "o'brien"}, []string{"/users/o'brien"}, nil, ""},
		{"parentheses", rawApp, "/users/:id", fiber.Map{"id": "foo_(bar)"}, []string{"/users/foo_(bar)"}, nil, ""},
		{"bang", rawApp, "/users/:id", fiber.Map{"id": "hi!"}, []string{"/users/hi!"}, nil, ""},
		{"star", rawApp, "/users/:id", fiber.Map{"id": "a*b"}, []string{"/users/a*b"}, nil, ""},
		{"number", rawApp, "/users/:id", fiber.Map{"id": 42}, []string{"/users/42"}, nil, ""},
		{"bytes", rawApp, "/users/:id", fiber.Map{"id": []byte("x")}, []string{"/users/x"}, nil, ""},
		// Percent-encoded values are kept; what clients encode is encoded.
		{"valid %XX kept", rawApp, "/users/:id", fiber.Map{"id": "caf%C3%A9"}, []string{"/users/caf%C3%A9"}, nil, ""},
		{"lower-case %xx kept", rawApp, "/users/:id", fiber.Map{"id": "caf%c3%a9"}, []string{"/users/caf%c3%a9"}, nil, ""},
		{"encoded slash kept", rawApp, "/users/:id", fiber.Map{"id": "a%2Fb"}, []string{"/users/a%2Fb"}, nil, ""},
		{"lone percent", rawApp, "/users/:id", fiber.Map{"id": "100%"}, []string{"/users/100%25", "/users/100%"}, nil, ""},
		{"percent, no hex", rawApp, "/users/:id", fiber.Map{"id": "%zz%4"}, []string{"/users/%25zz%254", "/users/%zz%4"}, nil, ""},
		{"non-ASCII", rawApp, "/users/:id", fiber.Map{"id": "café"}, []string{"/users/caf%C3%A9"}, nil, ""},
		{"space", rawApp, "/users/:id", fiber.Map{"id": "john doe"}, []string{"/users/john%20doe"}, nil, ""},
		{"query and fragment marks", rawApp, "/users/:id", fiber.Map{"id": "a?b#c"}, []string{"/users/a%3Fb%23c"}, nil, ""},
		{"quotes and brackets", rawApp, "/users/:id", fiber.Map{"id": `"<x>\`}, []string{"/users/%22%3Cx%3E%5C"}, nil, ""},
		{"tab", rawApp, "/users/:id", fiber.Map{"id": "a\tb"}, []string{"/users/a%09b"}, nil, ""},
		// Spelt two ways by clients: both.
		{"pipe", rawApp, "/users/:id", fiber.Map{"id": "a|b"}, []string{"/users/a%7Cb", "/users/a|b"}, nil, ""},
		{"pipe encoded", rawApp, "/users/:id", fiber.Map{"id": "a%7cb"}, []string{"/users/a%7cb", "/users/a|b"}, nil, ""},
		{"square brackets", rawApp, "/users/:id", fiber.Map{"id": "[x]"}, []string{"/users/%5Bx%5D", "/users/[x]"}, nil, ""},
		{"caret, backtick, braces", rawApp, "/users/:id", fiber.Map{"id": "^`{}"}, []string{"/users/%5E%60%7B%7D", "/users/^`{}"}, nil, ""},
		// With UnescapePath: the value as c.Params gives it, decoded.
		{"unescape: quote", unescapeApp, "/users/:id", fiber.Map{"id": "o'brien"}, []string{"/users/o'brien"}, nil, ""},
		{"unescape: plus is a plus", unescapeApp, "/users/:id", fiber.Map{"id": "a+b"}, []string{"/users/a+b"}, nil, ""},
		{"unescape: space", unescapeApp, "/users/:id", fiber.Map{"id": "a b"}, []string{"/users/a b"}, nil, ""},
		{"unescape: non-ASCII", unescapeApp, "/users/:id", fiber.Map{"id": "café"}, []string{"/users/café"}, nil, ""},
		{"unescape: percent", unescapeApp, "/users/:id", fiber.Map{"id": "100%"}, []string{"/users/100%"}, nil, ""},
		{"unescape: %XX is literal", unescapeApp, "/users/:id", fiber.Map{"id": "caf%C3%A9"}, []string{"/users/caf%C3%A9"}, nil, ""},
		{"unescape: pipe, one path", unescapeApp, "/users/:id", fiber.Map{"id": "a|b"}, []string{"/users/a|b"}, nil, ""},
		{"unescape: %2e is not a dot", unescapeApp, "/users/:id", fiber.Map{"id": "%2e%2e"}, []string{"/users/%2e%2e"}, nil, ""},
		// Parameter kinds.
		{"optional given", rawApp, "/posts/:slug?", fiber.Map{"slug": "hi!"}, []string{"/posts/hi!"}, nil, ""},
		{"optional omitted", rawApp, "/posts/:slug?", fiber.Map{}, []string{"/posts/", "/posts"}, nil, ""},
		{"optional omitted, strict", &core.AppConfig{StrictRouting: true}, "/posts/:slug?", nil, []string{"/posts/", "/posts"}, nil, ""},
		{"wildcard keeps slashes", rawApp, "/files/*", fiber.Map{"*": "a/o'b/(1) x.txt"}, []string{"/files/a/o'b/(1)%20x.txt"}, nil, ""},
		{"wildcard numbered", rawApp, "/files/*", fiber.Map{"*1": "a/b"}, []string{"/files/a/b"}, nil, ""},
		{"wildcard omitted", rawApp, "/files/*", nil, []string{"/files/", "/files"}, nil, ""},
		{"unescape: wildcard", unescapeApp, "/files/*", fiber.Map{"*": "a b/c+d"}, []string{"/files/a b/c+d"}, nil, ""},
		{"plus", rawApp, "/assets/+", fiber.Map{"+": "css/site.css"}, []string{"/assets/css/site.css"}, nil, ""},
		{"two wildcards", rawApp, "/two/*/and/*", fiber.Map{"*1": "x", "*2": "y/z"}, []string{"/two/x/and/y/z"}, nil, ""},
		{"dash-separated", rawApp, "/flights/:from-:to", fiber.Map{"from": "LAX", "to": "SFO"}, []string{"/flights/LAX-SFO"}, nil, ""},
		{"dot-separated", rawApp, "/plants/:genus.:species", fiber.Map{"genus": "prunus", "species": "persica"}, []string{"/plants/prunus.persica"}, nil, ""},
		{"int constraint", rawApp, "/orders/:id<int>", fiber.Map{"id": 7}, []string{"/orders/7"}, nil, ""},
		{"constraints with data", rawApp, "/days/:day<datetime(2006\\-01\\-02)>/:n<min(1);max(9)>", fiber.Map{"day": "2024-01-31", "n": 3}, []string{"/days/2024-01-31/3"}, nil, ""},
		{"regex constraint", rawApp, "/codes/:code<regex(\\d{3})>", fiber.Map{"code": "404"}, []string{"/codes/404"}, nil, ""},
		{"optional constrained", rawApp, "/v/:n<int>?", fiber.Map{"n": 2}, []string{"/v/2"}, nil, ""},
		{"escaped colon", rawApp, "/price\\:usd/:id", fiber.Map{"id": 5}, []string{"/price:usd/5"}, nil, ""},
		{"group prefix", rawApp, "/api/items/:id", fiber.Map{"id": "a*b"}, []string{"/api/items/a*b"}, nil, ""},
		// Names, as c.Params matches them.
		{"key of another case", rawApp, "/users/:id", fiber.Map{"ID": 1}, []string{"/users/1"}, nil, ""},
		{"case-sensitive: exact key", &core.AppConfig{CaseSensitive: true}, "/Users/:Id", fiber.Map{"Id": 1}, []string{"/Users/1"}, nil, ""},
		{"case-sensitive: key of another case", &core.AppConfig{CaseSensitive: true}, "/users/:id", fiber.Map{"ID": 1}, nil, nil, `no parameter "ID"`},
		{"unknown key", rawApp, "/users/:id", fiber.Map{"Id ": 3}, nil, nil, `no parameter "Id "`},
		{"unknown key beside a known one", rawApp, "/users/:id", fiber.Map{"id": 3, "x": 1}, nil, nil, `no parameter "x"`},
		{"unknown key, nil value", rawApp, "/users/:id", fiber.Map{"idd": nil}, nil, nil, `no parameter "idd"`},
		{"key for a route without parameters", rawApp, "/users", fiber.Map{"id": 1}, nil, nil, `no parameter, so not "id"`},
		{"two keys, one parameter", rawApp, "/users/:id", fiber.Map{"id": 1, "ID": 2}, nil, nil, `both name its parameter "id"`},
		{"star and *1", rawApp, "/files/*", fiber.Map{"*": "a", "*1": "b"}, nil, nil, `both name its parameter "*1"`},
		// Missing: the caller invalidates the whole route.
		{"missing", rawApp, "/users/:id", nil, nil, []string{"id"}, ""},
		{"nil value", rawApp, "/users/:id", fiber.Map{"id": nil}, nil, []string{"id"}, ""},
		{"one missing among two", rawApp, "/flights/:from-:to", fiber.Map{"from": "LAX"}, nil, []string{"to"}, ""},
		{"plus missing", rawApp, "/assets/+", nil, nil, []string{"+1"}, ""},
		// Values that cannot be the parameter.
		{"slash", rawApp, "/users/:id", fiber.Map{"id": "a/b"}, nil, nil, "holds a '/'"},
		{"unescape: slash", unescapeApp, "/users/:id", fiber.Map{"id": "a/b"}, nil, nil, "holds a '/'"},
		{"empty", rawApp, "/users/:id", fiber.Map{"id": ""}, nil, nil, `"id" is empty`},
		{"empty plus", rawApp, "/assets/+", fiber.Map{"+": ""}, nil, nil, `"+1" is empty`},
		{"dot", rawApp, "/users/:id", fiber.Map{"id": "."}, nil, nil, `segment "."`},
		{"dot dot", rawApp, "/users/:id", fiber.Map{"id": ".."}, nil, nil, `segment ".."`},
		{"encoded dot dot", rawApp, "/users/:id", fiber.Map{"id": "%2e%2E"}, nil, nil, `segment "%2e%2E"`},
		{"unescape: dot dot", unescapeApp, "/users/:id", fiber.Map{"id": ".."}, nil, nil, `segment ".."`},
		{"dot dot in a wildcard", rawApp, "/files/*", fiber.Map{"*": "a/../b"}, nil, nil, `segment ".."`},
		{"NUL", rawApp, "/users/:id", fiber.Map{"id": "a\x00"}, nil, nil, "NUL, CR or LF"},
		{"CR", rawApp, "/users/:id", fiber.Map{"id": "a\rb"}, nil, nil, "NUL, CR or LF"},
		{"LF", unescapeApp, "/users/:id", fiber.Map{"id": "a\n"}, nil, nil, "NUL, CR or LF"},
		{"cut by the delimiter after it", rawApp, "/flights/:from-:to", fiber.Map{"from": "a-b", "to": "c"}, nil, nil, `from="a", to="b-c"`},
		{"constraint broken", rawApp, "/orders/:id<int>", fiber.Map{"id": "x"}, nil, nil, "routes no request"},
		{"regex broken", rawApp, "/codes/:code<regex(\\d{3})>", fiber.Map{"code": "40"}, nil, nil, "routes no request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			paths, missing, err := core.FillRoute(appFor(tc.a), tc.pattern, tc.params, *tc.a)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("fillRoute(%q, %v) = %q, %v, %v; want an error with %q", tc.pattern, tc.params, paths, missing, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(paths, tc.want) || !slices.Equal(missing, tc.missing) {
				t.Fatalf("fillRoute(%q, %v) = %q, missing %q, %v; want %q, missing %q", tc.pattern, tc.params, paths, missing, err, tc.want, tc.missing)
			}
		})
	}
}

func TestUnknownRouteSuggests(t *testing.T) {
	app := fiber.New()
	h := func(c *fiber.Ctx) error { return nil }
	app.Group("/api").Name("api.").Get("/products", h).Name("products")
	app.Get("/users/:id", h).Name("user")
	app.Get("/orders", h).Name("Orders")
	app.Get("/categories", h).Name("categories")
	cases := []struct{ name, want, not string }{
		{"products", `did you mean "api.products"? (a group's Name prefix is part of its routes' names)`, "Name(\"products\")"},
		{"users", `did you mean "user"?`, ""},
		{"orders", `did you mean "Orders"?`, ""},
		{"v1.user", `did you mean "user"?`, ""},
		{"categorys", `did you mean "categories"?`, ""},
		{"nope", `no route is named "nope" among the app's 4 route names`, "did you mean"},
	}
	for _, tc := range cases {
		err := core.UnknownRoute(v2App{app}, tc.name)
		if !strings.Contains(err.Error(), tc.want) || tc.not != "" && strings.Contains(err.Error(), tc.not) {
			t.Errorf("%q: %v; want it to say %q", tc.name, err, tc.want)
		}
	}
	if err := core.UnknownRoute(v2App{fiber.New()}, "x"); !strings.Contains(err.Error(), "no named route") {
		t.Errorf("an app without names: %v", err)
	}
}

// fuzzPatterns are the routes FuzzFillRoute fills, the fuzzed value given
// to the first parameter, "v" to the others.
var fuzzPatterns = []string{
	"/u/:id",
	"/f/*",
	"/a/+",
	"/p/:slug?",
	"/x/:id/y",
	"/fl/:from-:to",
	"/pl/:genus.:species",
	"/l/:id<maxLen(12)>",
	"/two/*/and/*",
}

// FuzzFillRoute routes every path fillRoute returns through an app of the
// route's (not fillRoute's own router) and checks that the request a
// client sends for it has that c.Path() and gives the value back as
// c.Params does: the value itself with UnescapePath; without, the
// segment as sent, which is the value itself for one of the paths when the
// value is a segment clients can send as it is, and decodes as the value
// spelt does. A plain value of "/u/:id" or "/f/*" is never refused.
func FuzzFillRoute(f *testing.F) {
	for _, v := range []string{"o'brien", "foo_(bar)", "hi!", "a*b", "café", "caf%C3%A9", "100%", "a+b", "a b", "a|b", "[x]", "a/b", "..", "%2e", "a-b", "a.b", "x%2Fy", "\xff", "y"} {
		for i := range fuzzPatterns {
			f.Add(v, uint8(i), false)
			f.Add(v, uint8(i), true)
		}
	}
	type world struct {
		a    *core.AppConfig
		app  *fiber.App
		seen routed
		ok   bool
	}
	worlds := map[[2]any]*world{}
	worldOf := func(pattern string, unescape bool) *world {
		if w := worlds[[2]any{pattern, unescape}]; w != nil {
			return w
		}
		w := &world{a: &core.AppConfig{UnescapePath: unescape}, app: fiber.New(fiber.Config{UnescapePath: unescape})}
		w.app.Get("/other", func(c *fiber.Ctx) error { return nil })
		w.app.Get(pattern, func(c *fiber.Ctx) error {
			w.ok = true
			w.seen = routed{path: strings.Clone(c.Path()), params: map[string]string{}}
			for _, n := range c.Route().Params {
				w.seen.params[n] = strings.Clone(c.Params(n))
			}
			return nil
		})
		worlds[[2]any{pattern, unescape}] = w
		return w
	}
	f.Fuzz(func(t *testing.T, v string, which uint8, unescape bool) {
		pattern := fuzzPatterns[int(which)%len(fuzzPatterns)]
		w := worldOf(pattern, unescape)
		occ := core.PatternParams(pattern)
		params := fiber.Map{}
		for i, name := range occ {
			params[name] = "v"
			if i == 0 {
				params[name] = v
			}
		}
		first := occ[0]
		paths, missing, err := core.FillRoute(appFor(w.a), pattern, params, *w.a)
		plain := v != "" && !strings.ContainsAny(v, "/\x00\r\n") && !isDots(v, unescape)
		if err != nil {
			if plain && (pattern == "/u/:id" || pattern == "/f/*") {
				t.Fatalf("%s with %q: %v", pattern, v, err)
			}
			return
		}
		if len(missing) > 0 || len(paths) == 0 {
			t.Fatalf("%s with %q: paths %q, missing %q", pattern, v, paths, missing)
		}
		exact := false
		for _, p := range paths {
			target := p
			if unescape {
				target = fuzzEncode(p)
			}
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(fiber.MethodGet)
			ctx.Request.SetRequestURI(target)
			w.ok = false
			w.app.Handler()(&ctx)
			if !w.ok {
				t.Fatalf("%s with %q: %q (sent %q) is not routed to it", pattern, v, p, target)
			}
			if w.seen.path != p {
				t.Fatalf("%s with %q: sent %q, c.Path() is %q, not %q", pattern, v, target, w.seen.path, p)
			}
			got := w.seen.params[first]
			switch {
			case unescape && got != v:
				t.Fatalf("%s with %q: sent %q, c.Params(%q) is %q", pattern, v, target, first, got)
			case !unescape && fuzzDecode(got) != fuzzDecode(v):
				t.Fatalf("%s with %q: %q gives c.Params(%q) = %q, another value", pattern, v, p, first, got)
			}
			exact = exact || got == v
		}
		if !unescape && sendable(v) && !exact {
			t.Fatalf("%s with %q: no path of %q gives the value itself", pattern, v, paths)
		}
	})
}

// isDots reports whether a segment of v is "." or ".." (or, without
// unescape, spelt with %2E).
func isDots(v string, unescape bool) bool {
	for _, seg := range strings.Split(v, "/") {
		if !unescape {
			seg = strings.NewReplacer("%2e", ".", "%2E", ".").Replace(seg)
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// sendable reports whether a client can send v as it is in a path: pchar,
// '/', '%' and the bytes some clients send raw.
func sendable(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= utf8.RuneSelf || !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/[]^`{|}%", rune(c)) {
			return false
		}
	}
	return true
}

// fuzzEncode percent-encodes every byte of p but letters, digits and '/',
// as a client sends a path for an UnescapePath app to decode.
func fuzzEncode(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
	}
	return b.String()
}

// fuzzDecode decodes every valid %XX of s.
func fuzzDecode(s string) string {
	return string(fasthttp.AppendUnquotedArg(nil, []byte(strings.ReplaceAll(s, "+", "%2B"))))
}

// appFor returns a Fiber v2 app with a's routing options.
func appFor(a *core.AppConfig) core.App {
	return v2App{fiber.New(fiber.Config{CaseSensitive: a.CaseSensitive, StrictRouting: a.StrictRouting, UnescapePath: a.UnescapePath})}
}

// routed is what a route's handler saw: c.Path() and c.Params.
type routed struct {
	path   string
	params map[string]string
}
