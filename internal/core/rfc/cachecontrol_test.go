package rfc

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func parseResponse(lines ...string) ResponseDirectives {
	d := NewResponseDirectives()
	for _, l := range lines {
		d.Parse([]byte(l))
	}
	return d
}

func parseRequest(lines ...string) RequestDirectives {
	d := NewRequestDirectives()
	for _, l := range lines {
		d.Parse([]byte(l))
	}
	return d
}

func TestResponseDirectives(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name  string
		lines []string
		want  func(d *ResponseDirectives)
	}{
		// RFC 9111 §5.2.2.1, §5.2.2.10, RFC 5861 §3, §4.
		{"durations", []string{"max-age=3600, s-maxage=60, stale-while-revalidate=30, stale-if-error=86400"}, func(d *ResponseDirectives) {
			d.MaxAge, d.SMaxAge, d.StaleWhileRevalidate, d.StaleIfError = h, time.Minute, 30*time.Second, 24*h
		}},
		// RFC 9111 §5.2: names are case-insensitive (cache-tests cc-resp-no-store-case-insensitive).
		{"case", []string{"No-StOrE, MAX-AGE=1, Public"}, func(d *ResponseDirectives) { d.NoStore, d.MaxAge, d.Public = true, time.Second, true }},
		// RFC 9111 §5.2: quoted-string form of delta-seconds (cache-tests freshness-max-age-quoted).
		{"quoted", []string{`max-age="3600"`}, func(d *ResponseDirectives) { d.MaxAge = h }},
		// RFC 9111 §1.2.2: leading zeros (cache-tests freshness-max-age-leading-zero).
		{"leading zeros", []string{"max-age=003600"}, func(d *ResponseDirectives) { d.MaxAge = h }},
		// RFC 9111 §1.2.2: values past 2^31 saturate.
		{"saturate", []string{"max-age=99999999999999999999999"}, func(d *ResponseDirectives) { d.MaxAge = MaxDelta }},
		{"2^31", []string{"max-age=2147483648"}, func(d *ResponseDirectives) { d.MaxAge = MaxDelta }},
		{"2^31-1", []string{"max-age=2147483647"}, func(d *ResponseDirectives) { d.MaxAge = MaxDelta - time.Second }},
		// RFC 9111 §4.2.1: invalid freshness information counts as stale (max-age 0).
		{"single quotes", []string{"max-age='3600'"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"decimal", []string{"max-age=3600.0"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"negative", []string{"max-age=-1"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"trailing alpha", []string{"max-age=3600a"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"no value", []string{"max-age"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"empty value", []string{"s-maxage="}, func(d *ResponseDirectives) { d.SMaxAge = 0 }},
		{"unterminated quote", []string{`max-age="3600`}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"invalid swr", []string{"stale-while-revalidate=x"}, func(d *ResponseDirectives) { d.StaleWhileRevalidate = 0 }},
		{"space after equals", []string{"max-age= 3600"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		// RFC 9111 §5.2 grammar: no space before "=" (cache-tests
		// freshness-max-age-space-before-equals): not the max-age directive.
		{"space before equals", []string{"max-age =3600"}, func(*ResponseDirectives) {}},
		// RFC 9111 §4.2.1: duplicates with different values count as stale,
		// on one line or several (RFC 9110 §5.3).
		{"dup same line", []string{"max-age=1800, max-age=1"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"dup two lines", []string{"max-age=1", "max-age=1800"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"dup three", []string{"max-age=5, max-age=0, max-age=5"}, func(d *ResponseDirectives) { d.MaxAge = 0 }},
		{"dup equal", []string{"max-age=60", `max-age="60"`}, func(d *ResponseDirectives) { d.MaxAge = time.Minute }},
		// RFC 9110 §5.6.4, cache-tests freshness-max-age-ignore-quoted: a
		// directive inside a quoted string is not a directive.
		{"quoted max-age", []string{`extension="max-age=3600", max-age=1`}, func(d *ResponseDirectives) { d.MaxAge = time.Second }},
		{"quoted max-age after", []string{`max-age=1, extension="max-age=3600"`}, func(d *ResponseDirectives) { d.MaxAge = time.Second }},
		{"quoted comma", []string{`private="a, b", no-store`}, func(d *ResponseDirectives) { d.PrivateQualified, d.NoStore = true, true }},
		// RFC 9111 §5.2.2.4, §5.2.2.7: qualified forms.
		{"no-cache", []string{"no-cache"}, func(d *ResponseDirectives) { d.NoCache = true }},
		{"no-cache fields", []string{`no-cache="Set-Cookie, X-Foo"`}, func(d *ResponseDirectives) { d.NoCacheQualified = true }},
		{"no-cache token", []string{`no-cache=Set-Cookie`}, func(d *ResponseDirectives) { d.NoCacheQualified = true }},
		{"no-cache empty", []string{`no-cache=""`}, func(d *ResponseDirectives) { d.NoCache = true }},
		{"no-cache bad", []string{`no-cache=`}, func(d *ResponseDirectives) { d.NoCache = true }},
		{"both no-cache", []string{`no-cache="a"`, "no-cache"}, func(d *ResponseDirectives) { d.NoCache, d.NoCacheQualified = true, true }},
		{"private", []string{"private"}, func(d *ResponseDirectives) { d.Private = true }},
		{"private fields", []string{`private="Authorization"`}, func(d *ResponseDirectives) { d.PrivateQualified = true }},
		// RFC 9111 §5.2.2.2, §5.2.2.3, §5.2.2.6, §5.2.2.8, RFC 8246.
		{"flags", []string{"must-revalidate, proxy-revalidate, must-understand, immutable, no-transform"}, func(d *ResponseDirectives) {
			d.MustRevalidate, d.ProxyRevalidate, d.MustUnderstand, d.Immutable, d.NoTransform = true, true, true, true, true
		}},
		// RFC 9111 §5.2.3: unknown extensions are ignored; arguments of
		// argument-less directives too.
		{"extensions", []string{"foo, bar=baz, qux=\"a,b\"", "no-store=1"}, func(d *ResponseDirectives) { d.NoStore = true }},
		{"empty elements", []string{" , ,max-age=1,, ", ""}, func(d *ResponseDirectives) { d.MaxAge = time.Second }},
	}
	for _, tt := range tests {
		want := NewResponseDirectives()
		tt.want(&want)
		if got := parseResponse(tt.lines...); got != want {
			t.Errorf("%s: %q parses to %+v, want %+v", tt.name, tt.lines, got, want)
		}
	}
}

func TestResponseDirectivesReset(t *testing.T) {
	d := parseResponse("max-age=1, no-store")
	d.Reset()
	if d != NewResponseDirectives() || d.MaxAge != -1 || d.StaleIfError != -1 {
		t.Errorf("Reset left %+v", d)
	}
	r := parseRequest("max-age=1, no-store")
	r.Reset()
	if r != NewRequestDirectives() || r.MaxStale != -1 {
		t.Errorf("Reset left %+v", r)
	}
}

func TestRequestDirectives(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  func(d *RequestDirectives)
	}{
		// RFC 9111 §5.2.1.1 to §5.2.1.7.
		{"all", []string{"max-age=10, max-stale=20, min-fresh=30, no-cache, no-store, only-if-cached"}, func(d *RequestDirectives) {
			d.MaxAge, d.MaxStale, d.MinFresh = 10*time.Second, 20*time.Second, 30*time.Second
			d.NoCache, d.NoStore, d.OnlyIfCached = true, true, true
		}},
		// RFC 9111 §5.2.1.2: max-stale without a value accepts any staleness.
		{"max-stale", []string{"max-stale"}, func(d *RequestDirectives) { d.MaxStale = MaxStaleAny }},
		{"max-stale any and 5", []string{"max-stale", "max-stale=5"}, func(d *RequestDirectives) { d.MaxStale = 5 * time.Second }},
		// RFC 9111 §5.2: quoted form; names case-insensitive.
		{"quoted", []string{`Max-Age="0"`}, func(d *RequestDirectives) { d.MaxAge = 0 }},
		// RFC 9111 §4.2.1: conflicts resolve to the most restrictive value.
		{"dup", []string{"max-age=10, max-age=5, min-fresh=1", "min-fresh=9, max-stale=3, max-stale=7"}, func(d *RequestDirectives) {
			d.MaxAge, d.MinFresh, d.MaxStale = 5*time.Second, 9*time.Second, 3*time.Second
		}},
		// Invalid arguments are ignored (a preference, not a guess).
		{"invalid", []string{"max-age=a, max-stale=-1, min-fresh=1.5, max-age"}, func(*RequestDirectives) {}},
		// RFC 9111 §1.2.2: saturation.
		{"saturate", []string{"min-fresh=4294967296"}, func(d *RequestDirectives) { d.MinFresh = MaxDelta }},
		{"unknown", []string{"foo, no-transform"}, func(*RequestDirectives) {}},
	}
	for _, tt := range tests {
		want := NewRequestDirectives()
		tt.want(&want)
		if got := parseRequest(tt.lines...); got != want {
			t.Errorf("%s: %q parses to %+v, want %+v", tt.name, tt.lines, got, want)
		}
	}
}

func TestPragmaNoCache(t *testing.T) {
	// RFC 9111 §5.4 (RFC 7234 §5.4): pragma-directive "no-cache".
	tests := map[string]bool{
		"no-cache": true, "No-Cache": true, "foo, no-cache": true, " no-cache ": true,
		"": false, "no-cache=1": false, `x="no-cache"`: false, "no-store": false,
	}
	for v, want := range tests {
		if got := PragmaNoCache([]byte(v)); got != want {
			t.Errorf("PragmaNoCache(%q) = %v", v, got)
		}
	}
}

func TestParseDeltaSeconds(t *testing.T) {
	// RFC 9111 §1.2.2: delta-seconds = 1*DIGIT, saturating at 2^31; §5.1 Age.
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"60", time.Minute, true},
		{"007", 7 * time.Second, true},
		{"2147483648", MaxDelta, true},
		{"18446744073709551616", MaxDelta, true},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.0", 0, false},
		{" 1", 0, false},
		{"7200,0", 0, false}, // cache-tests age-parse-suffix
		{"abc", 0, false},    // cache-tests age-parse-nonnumeric
	}
	for _, tt := range tests {
		got, ok := ParseDeltaSeconds([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseDeltaSeconds(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// appendResponse writes d back as a Cache-Control value that parses to d.
func appendResponse(b []byte, d *ResponseDirectives) []byte {
	delta := func(name string, v time.Duration) {
		if v >= 0 {
			b = append(b, name...)
			b = append(b, '=')
			b = strconv.AppendInt(b, int64(v/time.Second), 10)
			b = append(b, ", "...)
		}
	}
	flag := func(name string, v bool) {
		if v {
			b = append(b, name...)
			b = append(b, ", "...)
		}
	}
	delta("max-age", d.MaxAge)
	delta("s-maxage", d.SMaxAge)
	delta("stale-while-revalidate", d.StaleWhileRevalidate)
	delta("stale-if-error", d.StaleIfError)
	flag("no-store", d.NoStore)
	flag("no-cache", d.NoCache)
	flag(`no-cache="a, b"`, d.NoCacheQualified)
	flag("private", d.Private)
	flag(`private="c"`, d.PrivateQualified)
	flag("public", d.Public)
	flag("must-revalidate", d.MustRevalidate)
	flag("proxy-revalidate", d.ProxyRevalidate)
	flag("must-understand", d.MustUnderstand)
	flag("immutable", d.Immutable)
	flag("no-transform", d.NoTransform)
	return b
}

func validDelta(d time.Duration) bool {
	return d == -1 || d >= 0 && d <= MaxDelta && d%time.Second == 0
}

func FuzzResponseDirectives(f *testing.F) {
	for _, s := range []string{
		"max-age=60, s-maxage=\"30\", public", "no-cache=\"Set-Cookie\", private", "max-age=1, max-age=2",
		"stale-while-revalidate=99999999999999, must-understand, no-store", `x="max-age=1,"`, "max-age =1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		d := NewResponseDirectives()
		d.Parse(v)
		for _, x := range []time.Duration{d.MaxAge, d.SMaxAge, d.StaleWhileRevalidate, d.StaleIfError} {
			if !validDelta(x) {
				t.Fatalf("%q: bad duration %v in %+v", v, x, d)
			}
		}
		// Re-serialized, it parses back to itself.
		s := appendResponse(nil, &d)
		d2 := NewResponseDirectives()
		d2.Parse(s)
		if d2 != d {
			t.Fatalf("%q parses to %+v; re-serialized %q parses to %+v", v, d, s, d2)
		}
		// Element by element, as separate field lines, it parses the same
		// (RFC 9110 §5.3).
		d3 := NewResponseDirectives()
		ForEachToken(v, func(e []byte) { d3.Parse(e) })
		if d3 != d {
			t.Fatalf("%q: one line %+v, line per element %+v", v, d, d3)
		}
	})
}

func FuzzRequestDirectives(f *testing.F) {
	for _, s := range []string{"max-age=0", "max-stale, min-fresh=\"5\"", "no-cache, only-if-cached, no-store", "max-stale=1, max-stale"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		d := NewRequestDirectives()
		d.Parse(v)
		if !validDelta(d.MaxAge) || !validDelta(d.MinFresh) || !validDelta(d.MaxStale) && d.MaxStale != MaxStaleAny {
			t.Fatalf("%q: bad durations in %+v", v, d)
		}
		var b []byte
		if d.MaxAge >= 0 {
			b = append(b, "max-age="+strconv.FormatInt(int64(d.MaxAge/time.Second), 10)+","...)
		}
		if d.MinFresh >= 0 {
			b = append(b, "min-fresh="+strconv.FormatInt(int64(d.MinFresh/time.Second), 10)+","...)
		}
		switch {
		case d.MaxStale == MaxStaleAny:
			b = append(b, "max-stale,"...)
		case d.MaxStale >= 0:
			b = append(b, "max-stale="+strconv.FormatInt(int64(d.MaxStale/time.Second), 10)+","...)
		}
		for _, f := range []struct {
			name string
			on   bool
		}{{"no-cache", d.NoCache}, {"no-store", d.NoStore}, {"only-if-cached", d.OnlyIfCached}} {
			if f.on {
				b = append(b, f.name+","...)
			}
		}
		if d2 := parseRequest(string(b)); d2 != d {
			t.Fatalf("%q parses to %+v; re-serialized %q parses to %+v", v, d, b, d2)
		}
	})
}

func FuzzParseDeltaSeconds(f *testing.F) {
	for _, s := range []string{"0", "60", "2147483648", "99999999999999999999", "-1", "1.5", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok := ParseDeltaSeconds(b)
		n, err := strconv.ParseUint(string(b), 10, 64)
		digitsOnly := len(b) > 0 && strings.Trim(string(b), "0123456789") == ""
		switch {
		case ok != digitsOnly:
			t.Fatalf("ParseDeltaSeconds(%q) ok = %v", b, ok)
		case !ok && d != 0:
			t.Fatalf("ParseDeltaSeconds(%q) failed with %v", b, d)
		case ok && err == nil && d != time.Duration(min(n, 1<<31))*time.Second:
			t.Fatalf("ParseDeltaSeconds(%q) = %v, want %d s", b, d, min(n, 1<<31))
		case ok && (d < 0 || d > MaxDelta):
			t.Fatalf("ParseDeltaSeconds(%q) = %v", b, d)
		}
		// Written back in seconds, it parses to itself.
		if ok {
			if d2, ok2 := ParseDeltaSeconds(strconv.AppendInt(nil, int64(d/time.Second), 10)); !ok2 || d2 != d {
				t.Fatalf("%v reparses to %v, %v", d, d2, ok2)
			}
		}
	})
}
