package rfc

import (
	"bytes"
	"strings"
	"testing"
)

func TestEqualFold(t *testing.T) {
	// RFC 9110 §5.1: field names are case-insensitive.
	tests := []struct {
		a, lower string
		want     bool
	}{
		{"Cache-Control", "cache-control", true},
		{"CACHE-CONTROL", "cache-control", true},
		{"cache-control", "cache-control", true},
		{"cache-contro", "cache-control", false},
		{"cache_control", "cache-control", false},
		{"", "", true},
		{"\xc3\xa9", "\xc3\xa9", true},
		{"[", "{", false}, // only A-Z fold: '[' + 32 is '{'
	}
	for _, tt := range tests {
		if got := EqualFold([]byte(tt.a), tt.lower); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v", tt.a, tt.lower, got)
		}
	}
}

func TestHopByHop(t *testing.T) {
	// RFC 9110 §7.6.1 (and Proxy-Connection, Keep-Alive, Proxy-Authenticate,
	// Proxy-Authorization, TE, Trailer, Transfer-Encoding, Upgrade).
	for _, name := range []string{
		"Connection", "keep-alive", "PROXY-CONNECTION", "Proxy-Authenticate",
		"Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
	} {
		if !HopByHop([]byte(name)) {
			t.Errorf("HopByHop(%q) = false", name)
		}
	}
	for _, name := range []string{"", "Content-Type", "Trailers", "T", "Upgrade-Insecure-Requests", "Authorization", "Vary"} {
		if HopByHop([]byte(name)) {
			t.Errorf("HopByHop(%q) = true", name)
		}
	}
}

func TestNextElement(t *testing.T) {
	// RFC 9110 §5.6.1: lists, empty elements and OWS; §5.6.4: quoted strings.
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,\t", nil},
		{"a", []string{"a"}},
		{"a,b", []string{"a", "b"}},
		{" a ,\tb\t, ,c ", []string{"a", "b", "c"}},
		{`"a,b", W/"c"`, []string{`"a,b"`, `W/"c"`}},
		{`x="a\",b", y`, []string{`x="a\",b"`, "y"}},
		{`"unterminated, x`, []string{`"unterminated, x`}},
		{`"ends with backslash\`, []string{`"ends with backslash\`}},
		{"a b, c", []string{"a b", "c"}},
	}
	for _, tt := range tests {
		var got []string
		ForEachToken([]byte(tt.in), func(tok []byte) { got = append(got, string(tok)) })
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("elements of %q = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidField(t *testing.T) {
	// RFC 9110 §5.1 (names are tokens) and §5.5 (values without CR, LF, NUL).
	names := map[string]bool{
		"Content-Type": true, "X-Custom_1!#$%&'*+.^`|~": true,
		"": false, "Bad Name": false, "Bad:Name": false, "Bad\x00": false, "é": false, `"q"`: false,
	}
	for name, want := range names {
		if got := ValidFieldName([]byte(name)); got != want {
			t.Errorf("ValidFieldName(%q) = %v", name, got)
		}
	}
	values := map[string]bool{
		"": true, "text/html; charset=utf-8": true, "tab\there": true, "obs-text \xff": true, "bell\x07": true,
		"a\rb": false, "a\nb": false, "a\x00b": false,
	}
	for value, want := range values {
		if got := ValidFieldValue([]byte(value)); got != want {
			t.Errorf("ValidFieldValue(%q) = %v", value, got)
		}
	}
}

func FuzzNextElement(f *testing.F) {
	for _, s := range []string{"a, b", `"a,b", c`, `x="\"", y`, " , ", `"`, `\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		n := 0
		for e, rest := NextElement(v); len(e) > 0; e, rest = NextElement(rest) {
			n++
			if n > len(v) {
				t.Fatal("more elements than bytes")
			}
			if !bytes.Contains(v, e) || len(TrimOWS(e)) != len(e) {
				t.Fatalf("element %q of %q is not a trimmed part of it", e, v)
			}
			if len(rest) >= len(v) {
				t.Fatalf("rest %q did not shrink", rest)
			}
			// An element has no comma outside quotes: it splits into itself.
			if e2, r2 := NextElement(e); !bytes.Equal(e2, e) || len(r2) != 0 {
				t.Fatalf("element %q re-splits to %q", e, e2)
			}
		}
	})
}
