package rfc

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTargeted(t *testing.T) {
	tests := []struct {
		name  string
		field string
		valid bool
		want  func(d *ResponseDirectives) // applied to NewResponseDirectives; nil: none
	}{
		// RFC 9213 §2.1: the directives of Cache-Control, as Dictionary members.
		{"max-age", "max-age=60", true, func(d *ResponseDirectives) { d.MaxAge = time.Minute }},
		{"flags", "no-store, no-cache, private, public, must-revalidate, proxy-revalidate", true, func(d *ResponseDirectives) {
			d.NoStore, d.NoCache, d.Private, d.Public, d.MustRevalidate, d.ProxyRevalidate = true, true, true, true, true, true
		}},
		{"stale windows", "stale-while-revalidate=30, stale-if-error=86400", true, func(d *ResponseDirectives) {
			d.StaleWhileRevalidate, d.StaleIfError = 30*time.Second, 24*time.Hour
		}},
		// RFC 8941 §3.3.6: booleans; a member without a value is true (§3.2).
		{"boolean false", "no-store=?0, private=?1", true, func(d *ResponseDirectives) { d.Private = true }},
		// §3.1.2: parameters are allowed, and ignored.
		{"parameters", `max-age=60;a=1;b="x", no-store;c`, true, func(d *ResponseDirectives) { d.MaxAge, d.NoStore = time.Minute, true }},
		// §4.2: leading and trailing SP; OWS around commas.
		{"whitespace", "  max-age=60 ,\tno-store  ", true, func(d *ResponseDirectives) { d.MaxAge, d.NoStore = time.Minute, true }},
		// §4.2.2: of a key given twice, the last value counts, its type too.
		{"duplicate", `max-age="x", max-age=60`, true, func(d *ResponseDirectives) { d.MaxAge = time.Minute }},
		{"duplicate, last wrong", `max-age=60, max-age="x"`, false, nil},
		// RFC 9213 §2.1: unknown members are ignored, whatever their type.
		{"unknown string", `foo="bar", max-age=60`, true, func(d *ResponseDirectives) { d.MaxAge = time.Minute }},
		{"unknown inner list", `foo=(1 "a" b;p=2);q, max-age=60`, true, func(d *ResponseDirectives) { d.MaxAge = time.Minute }},
		{"unknown decimal", "foo=-1.5, max-age=60", true, func(d *ResponseDirectives) { d.MaxAge = time.Minute }},
		{"unknown byte sequence", "foo=:aGVsbG8=:, max-age=60", true, func(d *ResponseDirectives) { d.MaxAge = time.Minute }},
		{"unknown token", "foo=a/b:c, max-age=60", true, func(d *ResponseDirectives) { d.MaxAge = time.Minute }},
		{"empty", "", true, nil},
		// A known directive with a value of the wrong type invalidates the
		// field (cache-tests cdn-cc-invalid-*).
		{"quoted max-age", `max-age="60"`, false, nil},
		{"negative max-age", "max-age=-1", false, nil},
		{"decimal max-age", "max-age=1.5", false, nil},
		{"valued flag", "no-store=1", false, nil},
		{"listed private", `private=("set-cookie")`, false, nil},
		// Not a Dictionary (RFC 8941 §4.2.2, §4.2.3).
		{"upper-case key", "Max-Age=60", false, nil},
		{"key starts with a digit", "1a=1", false, nil},
		{"trailing comma", "max-age=60,", false, nil},
		{"missing comma", "max-age=60 no-store", false, nil},
		{"Cache-Control's field-name token", "max-age=60, no-cache=Set-Cookie", false, nil},
		{"Cache-Control's field-name string", `no-cache="Set-Cookie"`, false, nil},
		{"bad parameter key", "max-age=60;A=1", false, nil},
		{"bad boolean", "no-store=?2", false, nil},
		{"sixteen digits", "max-age=1234567890123456", false, nil},
		{"fifteen digits", "foo=123456789012345, max-age=1", true, func(d *ResponseDirectives) { d.MaxAge = time.Second }},
		{"four decimals", "foo=1.2345", false, nil},
		{"thirteen integer digits", "foo=1234567890123.5", false, nil},
		{"bad escape", `foo="\a"`, false, nil},
		{"control in string", "foo=\"a\x01\"", false, nil},
		{"unterminated string", `foo="a`, false, nil},
		{"bad base64", "foo=:a b:", false, nil},
		{"unterminated inner list", "foo=(1 2", false, nil},
		{"inner list without SP", "foo=(1,2)", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewResponseDirectives()
			valid := ParseTargeted(&d, []byte(tt.field))
			if valid != tt.valid {
				t.Fatalf("ParseTargeted(%q) = %v, want %v", tt.field, valid, tt.valid)
			}
			if !valid {
				return
			}
			want := NewResponseDirectives()
			if tt.want != nil {
				tt.want(&want)
			}
			if d != want {
				t.Fatalf("ParseTargeted(%q):\n got %+v\nwant %+v", tt.field, d, want)
			}
		})
	}
	field := []byte(`max-age=60;a=1, foo=(1 "a" b), no-store, stale-if-error=30`)
	if n := testing.AllocsPerRun(100, func() {
		d := NewResponseDirectives()
		ParseTargeted(&d, field)
	}); n != 0 {
		t.Fatalf("ParseTargeted: %v allocations, want 0", n)
	}
}

// FuzzParseTargeted checks ParseTargeted against refTargeted, a plain
// transcription of RFC 8941 §4.2's parsing algorithms.
func FuzzParseTargeted(f *testing.F) {
	for _, s := range []string{
		"max-age=60", `max-age=60;a=1, foo=(1 "a" b;p), no-store=?0`, `private, max-age="1", max-age=2`,
		"foo=:aGk=:, bar=-1.25, baz=*tok/en", "  a , b\t,c", "max-age=60,", `x="\""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := NewResponseDirectives()
		got := ParseTargeted(&d, []byte(s))
		want, wantOK := refTargeted(s)
		if got != wantOK {
			t.Fatalf("%q: ParseTargeted valid = %v, the RFC's algorithm says %v", s, got, wantOK)
		}
		if got && d != want {
			t.Fatalf("%q:\n got %+v\nwant %+v", s, d, want)
		}
	})
}

// refTargeted parses s as RFC 8941 §4.2 says, step by step, then applies
// the directives as RFC 9213 §2.1 asks: the last value of each key, of the
// right type.
func refTargeted(s string) (ResponseDirectives, bool) {
	type member struct {
		typ string // "integer", "boolean", or "other"
		raw string
	}
	p := &refParser{s: s}
	dict := map[string]member{}
	p.discard(" ")
	for p.s != "" {
		key, ok := p.key()
		if !ok {
			return ResponseDirectives{}, false
		}
		m := member{typ: "boolean", raw: "?1"}
		if strings.HasPrefix(p.s, "=") {
			p.s = p.s[1:]
			if strings.HasPrefix(p.s, "(") {
				if !p.innerList() {
					return ResponseDirectives{}, false
				}
				m = member{typ: "other"}
			} else {
				typ, raw, ok := p.bareItem()
				if !ok {
					return ResponseDirectives{}, false
				}
				m = member{typ: typ, raw: raw}
			}
		}
		if !p.parameters() {
			return ResponseDirectives{}, false
		}
		dict[key] = m
		p.discard(" \t")
		if p.s == "" {
			break
		}
		if p.s[0] != ',' {
			return ResponseDirectives{}, false
		}
		p.s = p.s[1:]
		p.discard(" \t")
		if p.s == "" {
			return ResponseDirectives{}, false
		}
	}
	d := NewResponseDirectives()
	for key, m := range dict {
		switch key {
		case "max-age", "stale-while-revalidate", "stale-if-error":
			n, err := strconv.ParseInt(m.raw, 10, 64)
			if m.typ != "integer" || err != nil || n < 0 {
				return ResponseDirectives{}, false
			}
			dur := time.Duration(min(n, 1<<31-1)) * time.Second
			switch key {
			case "max-age":
				d.MaxAge = dur
			case "stale-while-revalidate":
				d.StaleWhileRevalidate = dur
			default:
				d.StaleIfError = dur
			}
		case "no-store", "no-cache", "private", "public", "must-revalidate", "proxy-revalidate":
			if m.typ != "boolean" {
				return ResponseDirectives{}, false
			}
			on := m.raw == "?1"
			switch key {
			case "no-store":
				d.NoStore = on
			case "no-cache":
				d.NoCache = on
			case "private":
				d.Private = on
			case "public":
				d.Public = on
			case "must-revalidate":
				d.MustRevalidate = on
			default:
				d.ProxyRevalidate = on
			}
		}
	}
	return d, true
}

// refParser consumes s as RFC 8941 §4.2's algorithms consume input_string.
type refParser struct{ s string }

func (p *refParser) discard(chars string) { p.s = strings.TrimLeft(p.s, chars) }

// key is §4.2.3.3.
func (p *refParser) key() (string, bool) {
	const lcalpha = "abcdefghijklmnopqrstuvwxyz"
	if p.s == "" || !strings.ContainsRune(lcalpha+"*", rune(p.s[0])) {
		return "", false
	}
	n := 0
	for n < len(p.s) && strings.IndexByte(lcalpha+"0123456789_-.*", p.s[n]) >= 0 {
		n++
	}
	k := p.s[:n]
	p.s = p.s[n:]
	return k, true
}

// parameters is §4.2.3.2.
func (p *refParser) parameters() bool {
	for strings.HasPrefix(p.s, ";") {
		p.s = p.s[1:]
		p.discard(" ")
		if _, ok := p.key(); !ok {
			return false
		}
		if strings.HasPrefix(p.s, "=") {
			p.s = p.s[1:]
			if _, _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

// innerList is §4.2.1.2.
func (p *refParser) innerList() bool {
	p.s = p.s[1:] // "("
	for p.s != "" {
		p.discard(" ")
		if strings.HasPrefix(p.s, ")") {
			p.s = p.s[1:]
			return true
		}
		if _, _, ok := p.bareItem(); !ok {
			return false
		}
		if !p.parameters() {
			return false
		}
		if p.s == "" || p.s[0] != ' ' && p.s[0] != ')' {
			return false
		}
	}
	return false
}

// bareItem is §4.2.3.1, returning the item's type and its text.
func (p *refParser) bareItem() (typ, raw string, ok bool) {
	if p.s == "" {
		return "", "", false
	}
	in := p.s
	take := func(n int) string { raw := in[:n]; p.s = in[n:]; return raw }
	switch c := in[0]; {
	case c == '-' || c >= '0' && c <= '9': // §4.2.4
		n, dot := 0, -1
		if c == '-' {
			n = 1
		}
		digitsStart := n
		for n < len(in) {
			if in[n] >= '0' && in[n] <= '9' {
				n++
			} else if in[n] == '.' && dot < 0 {
				dot = n
				n++
			} else {
				break
			}
			if dot < 0 && n-digitsStart > 15 || dot >= 0 && n-digitsStart > 16 {
				return "", "", false
			}
		}
		if n == digitsStart || dot == digitsStart {
			return "", "", false
		}
		if dot < 0 {
			return "integer", take(n), true
		}
		if dot-digitsStart > 12 || n-dot-1 < 1 || n-dot-1 > 3 {
			return "", "", false
		}
		return "other", take(n), true
	case c == '"': // §4.2.5
		for n := 1; n < len(in); n++ {
			switch b := in[n]; {
			case b == '\\':
				n++
				if n == len(in) || in[n] != '"' && in[n] != '\\' {
					return "", "", false
				}
			case b == '"':
				return "other", take(n + 1), true
			case b < 0x20 || b > 0x7e:
				return "", "", false
			}
		}
		return "", "", false
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z': // §4.2.6
		n := 1
		for n < len(in) && (strings.IndexByte("!#$%&'*+-.^_`|~:/", in[n]) >= 0 ||
			in[n] >= '0' && in[n] <= '9' || in[n] >= 'a' && in[n] <= 'z' || in[n] >= 'A' && in[n] <= 'Z') {
			n++
		}
		return "other", take(n), true
	case c == ':': // §4.2.7
		end := strings.IndexByte(in[1:], ':')
		if end < 0 {
			return "", "", false
		}
		for _, b := range in[1 : 1+end] {
			if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=') {
				return "", "", false
			}
		}
		return "other", take(end + 2), true
	case c == '?': // §4.2.8
		if len(in) < 2 || in[1] != '0' && in[1] != '1' {
			return "", "", false
		}
		return "boolean", take(2), true
	}
	return "", "", false
}
