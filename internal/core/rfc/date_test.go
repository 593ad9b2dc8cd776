package rfc

import (
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	const want = 784111777 * int64(time.Second) // Sun, 06 Nov 1994 08:49:37 GMT
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		// RFC 9110 §5.6.7: the three formats recipients must accept.
		{"Sun, 06 Nov 1994 08:49:37 GMT", want, true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", want, true},
		{"Sun Nov  6 08:49:37 1994", want, true},
		{"Sun Nov 06 08:49:37 1994", want, true},
		{"Wed Nov 16 08:49:37 1994", want + 10*24*3600e9, true},
		{"Wednesday, 16-Nov-94 08:49:37 GMT", want + 10*24*3600e9, true},
		{" Sun, 06 Nov 1994 08:49:37 GMT\t", want, true},
		// Case-insensitive names (cache-tests freshness-expires-wrong-case-*).
		{"SUN, 06 NOV 1994 08:49:37 gmt", want, true},
		// The day name is not checked against the date (as net/http).
		{"Mon, 06 Nov 1994 08:49:37 GMT", want, true},
		// RFC 9110 §5.6.7: second 60 is a leap second.
		{"Sun, 06 Nov 1994 08:49:60 GMT", want + 23e9, true},
		{"Thu, 29 Feb 2024 00:00:00 GMT", 1709164800e9, true},
		// The epoch is moved to -1 ns: 0 means absent.
		{"Thu, 01 Jan 1970 00:00:00 GMT", -1, true},
		{"Wed, 31 Dec 1969 23:59:59 GMT", -1e9, true},
		// Outside int64 nanoseconds: saturated.
		{"Fri, 31 Dec 9999 23:59:59 GMT", math.MaxInt64, true},
		{"Mon, 01 Jan 0001 00:00:00 GMT", math.MinInt64, true},
		// Invalid (cache-tests expires-parse checks): RFC 9110 §5.6.7 grammar.
		{"", 0, false},
		{"0", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 UTC", 0, false},
		{"Sun, 06 Nov 94 08:49:37 GMT", 0, false},
		{"Sun 06 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06  Nov  1994 08:49:37 GMT", 0, false},
		{"Sun, 06-Nov-1994 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 1994 08.49.37 GMT", 0, false},
		{"Sun, 06 Nov 1994 8:49:37 GMT", 0, false},
		{"Sun, 06 Nov 1994 24:00:00 GMT", 0, false},
		{"Sun, 06 Nov 1994 08:60:00 GMT", 0, false},
		{"Sun, 06 Nov 1994 08:49:61 GMT", 0, false},
		{"Sun, 31 Nov 1994 08:49:37 GMT", 0, false},
		{"Thu, 29 Feb 2023 00:00:00 GMT", 0, false},
		{"Sun, 00 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06 Foo 1994 08:49:37 GMT", 0, false},
		{"Xyz, 06 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, +6 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun Nov 6 08:49:37 1994", 0, false},
		{"Sun Nov  6 08:49:37 94", 0, false},
		{"Sun Nov   6 08:49:37 1994", 0, false},
		{"Sundae, 06-Nov-94 08:49:37 GMT", 0, false},
		{"Sunday 06-Nov-94 08:49:37 GMT", 0, false},
		{"Sunday, 06-Nov-94 08:49:37 UTC", 0, false},
		{"Sun, 06-Nov-94 08:49:37 GMT", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseHTTPDate([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseHTTPDate(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseHTTPDateTwoDigitYear(t *testing.T) {
	// RFC 9110 §5.6.7: a two-digit year is read in the current century,
	// unless that is more than 50 years in the future: then it is the most
	// recent past year with those digits.
	tests := []struct {
		now, yy, want int
	}{
		{2026, 94, 1994}, {2026, 76, 2076}, {2026, 77, 1977}, {2026, 0, 2000}, {2026, 26, 2026},
		{2049, 99, 2099}, {2050, 1, 2001}, {2099, 50, 2050}, {2140, 90, 2190}, {2140, 91, 2091},
	}
	for _, tt := range tests {
		in := fmt.Appendf(nil, "Friday, 01-Jan-%02d 00:00:00 GMT", tt.yy)
		got, ok := parseHTTPDate(in, func() int { return tt.now })
		if y := time.Unix(0, got).UTC().Year(); !ok || y != tt.want {
			t.Errorf("in %d, %q = year %d, %v; want %d", tt.now, in, y, ok, tt.want)
		}
	}
}

func TestAppendHTTPDate(t *testing.T) {
	// RFC 9110 §5.6.7: IMF-fixdate, truncated to the second.
	tests := map[int64]string{
		784111777e9 + 999: "Sun, 06 Nov 1994 08:49:37 GMT",
		-1:                "Wed, 31 Dec 1969 23:59:59 GMT",
		0:                 "Thu, 01 Jan 1970 00:00:00 GMT",
		1709164800e9:      "Thu, 29 Feb 2024 00:00:00 GMT",
		math.MaxInt64:     "Fri, 11 Apr 2262 23:47:16 GMT",
	}
	for in, want := range tests {
		if got := string(AppendHTTPDate([]byte("x"), in)); got != "x"+want {
			t.Errorf("AppendHTTPDate(%d) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Wednesday, 29-Feb-00 23:59:60 GMT",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := ParseHTTPDate(b)
		if !ok {
			if got != 0 {
				t.Fatalf("%q: failed with %d", b, got)
			}
			return
		}
		if got == 0 {
			t.Fatalf("%q parsed to 0, the absent time", b)
		}
		// Written as an IMF-fixdate, it parses back to the same second
		// (saturated values and the epoch are the same second too).
		s := AppendHTTPDate(nil, got)
		again, ok := ParseHTTPDate(s)
		if !ok || (got != math.MinInt64 && got != math.MaxInt64 && seconds(again) != seconds(got)) {
			t.Fatalf("%q = %d, written %q, parsed back %d, %v", b, got, s, again, ok)
		}
		// An IMF-fixdate that net/http also reads gives the same time.
		if len(b) == 29 && string(b[26:]) == "GMT" && string(b[23:25]) != "60" && got != math.MinInt64 && got != math.MaxInt64 {
			if tm, err := http.ParseTime(string(b)); err != nil || tm.UnixNano() != got && got != -1 {
				t.Fatalf("%q = %d; net/http: %v, %v", b, got, tm, err)
			}
		}
	})
}
