package rfc

import (
	"bytes"
	"testing"
)

const lm = 784111777 * int64(1e9) // Sun, 06 Nov 1994 08:49:37 GMT

func TestIfNoneMatchMatches(t *testing.T) {
	tests := []struct {
		header, etag string
		want         bool
	}{
		// RFC 9110 §13.1.2: "*" matches any current representation.
		{"*", `"a"`, true},
		{"*", "", true},
		{` * `, `W/"a"`, true},
		// RFC 9110 §8.8.3.2: weak comparison ignores W/.
		{`"a"`, `"a"`, true},
		{`W/"a"`, `"a"`, true},
		{`"a"`, `W/"a"`, true},
		{`W/"a"`, `W/"a"`, true},
		{`w/"a"`, `"a"`, false}, // W/ is case-sensitive (§8.8.3)
		{`"a"`, `"b"`, false},
		{`"a"`, `"A"`, false},
		{`"a"`, "", false},
		{"", `"a"`, false},
		// RFC 9110 §13.1.2: a list of entity tags; §5.6.1: OWS and empty elements.
		{`"x", "y", W/"a"`, `"a"`, true},
		{` , "x",, "a" ,`, `"a"`, true},
		{`"x", "y"`, `"a"`, false},
		// RFC 9110 §8.8.3: a comma is an etagc, it does not split the tag.
		{`"a,b"`, `"a,b"`, true},
		{`"a,b"`, `"a"`, false},
		{`"x", "a,b"`, `"b"`, false},
	}
	for _, tt := range tests {
		if got := IfNoneMatchMatches([]byte(tt.header), []byte(tt.etag)); got != tt.want {
			t.Errorf("IfNoneMatchMatches(%q, %q) = %v", tt.header, tt.etag, got)
		}
	}
}

func TestNotModifiedSince(t *testing.T) {
	tests := []struct {
		ims  string
		lm   int64
		want bool
	}{
		// RFC 9110 §13.1.3: not modified when Last-Modified <= the date.
		{"Sun, 06 Nov 1994 08:49:37 GMT", lm, true},
		{"Sun, 06 Nov 1994 08:49:38 GMT", lm, true},
		{"Sun, 06 Nov 1994 08:49:36 GMT", lm, false},
		{"Sunday, 06-Nov-94 08:49:37 GMT", lm, true},
		{"Sun Nov  6 08:49:37 1994", lm, true},
		// Compared to the second: sub-second Last-Modified is not newer.
		{"Sun, 06 Nov 1994 08:49:37 GMT", lm + 999_999_999, true},
		// §13.1.3: an invalid date or a list is ignored; no Last-Modified, no 304.
		{"yesterday", lm, false},
		{"Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", lm, false},
		{"", lm, false},
		{"Sun, 06 Nov 1994 08:49:37 GMT", 0, false},
		{"Thu, 01 Jan 1970 00:00:00 GMT", -1, true},
	}
	for _, tt := range tests {
		if got := NotModifiedSince([]byte(tt.ims), tt.lm); got != tt.want {
			t.Errorf("NotModifiedSince(%q, %d) = %v", tt.ims, tt.lm, got)
		}
	}
}

func TestEvaluateConditional(t *testing.T) {
	const date = "Sun, 06 Nov 1994 08:49:37 GMT"
	tests := []struct {
		name     string
		getHead  bool
		inm, ims string
		etag     string
		lm       int64
		want     Outcome
	}{
		{"none", true, "", "", `"a"`, lm, Full},
		// RFC 9110 §13.2.2 step 3: If-None-Match decides.
		{"inm match", true, `"a"`, "", `"a"`, lm, NotModified},
		{"inm no match", true, `"b"`, "", `"a"`, lm, Full},
		// §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
		{"inm no match, ims match", true, `"b"`, date, `"a"`, lm, Full},
		{"inm match, ims old", true, `"a"`, "Sat, 05 Nov 1994 08:49:37 GMT", `"a"`, lm, NotModified},
		{"inm only commas", true, " , ", date, `"a"`, lm, Full},
		// §13.2.2 step 4: If-Modified-Since without If-None-Match.
		{"ims match", true, "", date, `"a"`, lm, NotModified},
		{"ims modified", true, "", "Sat, 05 Nov 1994 08:49:37 GMT", `"a"`, lm, Full},
		{"ims no etag", true, "", date, "", lm, NotModified},
		{"ims invalid", true, "", "x", `"a"`, lm, Full},
		// §13.1.2, §13.1.3: only for GET and HEAD here.
		{"post", false, `"a"`, date, `"a"`, lm, Full},
	}
	for _, tt := range tests {
		got := EvaluateConditional(tt.getHead, []byte(tt.inm), []byte(tt.ims), []byte(tt.etag), tt.lm)
		if got != tt.want {
			t.Errorf("%s: EvaluateConditional = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNotModifiedHeader(t *testing.T) {
	// RFC 9110 §15.4.5.
	for _, name := range []string{"Content-Location", "Date", "ETag", "etag", "Vary", "Cache-Control", "EXPIRES"} {
		if !NotModifiedHeader([]byte(name)) {
			t.Errorf("NotModifiedHeader(%q) = false", name)
		}
	}
	for _, name := range []string{"", "Content-Type", "Content-Length", "Last-Modified", "Set-Cookie", "Age", "Dates"} {
		if NotModifiedHeader([]byte(name)) {
			t.Errorf("NotModifiedHeader(%q) = true", name)
		}
	}
}

func FuzzIfNoneMatch(f *testing.F) {
	for _, s := range [][2]string{{`"a", W/"b"`, `"b"`}, {"*", ""}, {`"a,b", "c"`, `W/"c"`}, {`"\"`, `"`}} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, header, etag []byte) {
		got := IfNoneMatchMatches(header, etag)
		// Weak comparison is symmetric in W/: adding or removing it on the
		// stored tag changes nothing.
		if w := append([]byte("W/"), opaqueTag(TrimOWS(etag))...); got != IfNoneMatchMatches(header, w) && len(opaqueTag(TrimOWS(etag))) > 0 {
			t.Fatalf("%q vs %q: %v, but vs %q differs", header, etag, got, w)
		}
		// Every element of a list (but a bare "W/") matches itself, and the
		// list matches it.
		for e, rest := NextElement(header); len(e) > 0; e, rest = NextElement(rest) {
			if len(opaqueTag(e)) == 0 {
				continue
			}
			if !IfNoneMatchMatches(header, e) {
				t.Fatalf("%q does not match its element %q", header, e)
			}
			if !got && bytes.Equal(opaqueTag(e), opaqueTag(TrimOWS(etag))) {
				t.Fatalf("%q has element %q matching %q, yet no match", header, e, etag)
			}
		}
		// EvaluateConditional agrees when If-None-Match is present.
		if len(TrimOWS(header)) > 0 {
			if o := EvaluateConditional(true, header, nil, etag, 0); (o == NotModified) != got {
				t.Fatalf("EvaluateConditional(%q, %q) = %v, IfNoneMatchMatches %v", header, etag, o, got)
			}
		}
	})
}
