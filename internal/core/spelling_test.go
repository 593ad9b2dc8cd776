package core

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestSpellPath(t *testing.T) {
	cases := []struct{ raw, strict, lenient string }{
		{"/a/b", "/a/b", "/a/b"},
		{"/o'brien(1)!*", "/o'brien(1)!*", "/o'brien(1)!*"},
		{"/a b", "/a%20b", "/a%20b"},
		{"/café", "/caf%C3%A9", "/caf%C3%A9"},
		{"/caf%c3%a9", "/caf%c3%a9", "/caf%c3%a9"},
		{"/100%", "/100%25", "/100%"},
		{"/%%41", "/%25%41", "/%%41"},
		{"/%%7C%4", "/%25%7C%254", "/%|%4"},
		{"/a|b%7C%7c", "/a%7Cb%7C%7c", "/a|b||"},
		{"/[x]^`{}", "/%5Bx%5D%5E%60%7B%7D", "/[x]^`{}"},
		{"/\x7f\x00", "/%7F%00", "/%7F%00"},
	}
	for _, tc := range cases {
		if got := spellPath(tc.raw, false); got != tc.strict {
			t.Errorf("spellPath(%q, strict) = %q, want %q", tc.raw, got, tc.strict)
		}
		if got := spellPath(tc.raw, true); got != tc.lenient {
			t.Errorf("spellPath(%q, lenient) = %q, want %q", tc.raw, got, tc.lenient)
		}
	}
}

func TestResolve(t *testing.T) {
	base := reqBase{scheme: "http", host: "example.com", path: "/a/b/c"}
	cases := []struct{ ref, host, path, err string }{
		{"/users/o'b|c", "example.com", "/users/o'b|c", ""}, // as written, not re-encoded
		{"/users/o'café", "example.com", "/users/o'café", ""},
		{"/users/100%", "example.com", "/users/100%", ""}, // spelt later, by clientPaths
		{"http://user:pw@Example.com:8080/x#f", "Example.com:8080", "/x", ""},
		{"http:/x", "", "", "with a host"},
		{"http://[::1/x", "", "", "missing ']'"},
		{"d", "example.com", "/a/b/d", ""},
		{"../d/./e", "example.com", "/a/d/e", ""},
		{"", "example.com", "/a/b/c", ""},
		{"?x=1", "example.com", "/a/b/c", ""},
		{"//Other.example/x/../y", "Other.example", "/y", ""},
		{"https://other.example", "other.example", "/", ""},
		{"http://example.com/a/b/..", "example.com", "/a/", ""},
		{"ftp://example.com/x", "", "", "scheme"},
		{"mailto:x@example.com", "", "", "path"},
		{"http://example.com/a\x01", "", "", "control"},
	}
	for _, tc := range cases {
		_, host, path, err := base.resolve(tc.ref)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("resolve(%q) = %q %q, %v; want an error with %q", tc.ref, host, path, err, tc.err)
			}
			continue
		}
		if err != nil || host != tc.host || path != tc.path {
			t.Errorf("resolve(%q) = %q %q, %v; want %q %q", tc.ref, host, path, err, tc.host, tc.path)
		}
	}
}

func TestRemoveDotSegments(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", "/a/b": "/a/b", "/a/./b": "/a/b", "/a/../b": "/b", "/..": "/",
		"/a/b/..": "/a/", "/a/b/.": "/a/b/", "/a/b/../../..": "/", "/a//..": "/a/", "/a.b/..c": "/a.b/..c",
	} {
		if got := removeDotSegments(in); got != want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSpelling checks the spellings of any path: strict, only pchar, '/'
// and valid %XX; lenient, those and the bytes clients disagree on; both
// decoding (as fasthttp does) to what the path as written decodes to. And
// that resolve takes any reference without panicking, to an absolute path
// without dot segments.
func FuzzSpelling(f *testing.F) {
	for _, s := range []string{"/a b", "/café", "/100%", "/%%41", "/a|b%7c", "/o'b(1)", "../x/./y", "//h/p", "http://h/a/../b", "?q", "/%2e%2E/x"} {
		f.Add(s)
	}
	base := reqBase{scheme: "http", host: "example.com", path: "/a/b/c"}
	f.Fuzz(func(t *testing.T, raw string) {
		strict, lenient := spellPath(raw, false), spellPath(raw, true)
		for i := 0; i < len(strict); i++ {
			if c := strict[i]; !pcharOrSlash[c] && !(c == '%' && validEscape(strict, i)) {
				t.Fatalf("spellPath(%q, strict) = %q: byte %q", raw, strict, c)
			}
		}
		for i := 0; i < len(lenient); i++ {
			if c := lenient[i]; !pcharOrSlash[c] && !lenientBytes[c] && c != '%' {
				t.Fatalf("spellPath(%q, lenient) = %q: byte %q", raw, lenient, c)
			}
		}
		if d := fuzzDecode(raw); fuzzDecode(strict) != d || fuzzDecode(lenient) != d {
			t.Fatalf("%q decodes to %q; strict %q to %q, lenient %q to %q", raw, d, strict, fuzzDecode(strict), lenient, fuzzDecode(lenient))
		}
		if spellPath(strict, false) != strict || spellPath(lenient, true) != lenient {
			t.Fatalf("spelling %q again changes it: %q, %q", raw, spellPath(strict, false), spellPath(lenient, true))
		}
		_, _, p, err := base.resolve(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("resolve(%q) = %q, not absolute", raw, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("resolve(%q) = %q, with a dot segment", raw, p)
			}
		}
	})
}

// fuzzDecode decodes every valid %XX of s.
func fuzzDecode(s string) string {
	return string(fasthttp.AppendUnquotedArg(nil, []byte(strings.ReplaceAll(s, "+", "%2B"))))
}
