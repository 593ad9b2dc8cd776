package rfc

import (
	"math"
	"testing"
	"time"
)

// t0 is an arbitrary instant, Unix nanoseconds.
const t0 = int64(1_700_000_000) * int64(time.Second)

func at(d time.Duration) int64 { return t0 + int64(d) }

func TestFreshnessLifetime(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name     string
		cc       string
		times    ResponseTimes
		shared   bool
		want     time.Duration
		explicit bool
	}{
		// RFC 9111 §4.2.1: s-maxage, for shared caches only, then max-age.
		{"s-maxage shared", "s-maxage=60, max-age=3600", ResponseTimes{}, true, time.Minute, true},
		{"s-maxage private", "s-maxage=60, max-age=3600", ResponseTimes{}, false, h, true},
		{"s-maxage only private", "s-maxage=60", ResponseTimes{}, false, 0, false},
		// §4.2.1: max-age wins over Expires, even an invalid one
		// (cache-tests freshness-max-age-expires-invalid).
		{"max-age over expires", "max-age=3600", ResponseTimes{Date: t0, Expires: at(-h)}, false, h, true},
		{"max-age over invalid expires", "max-age=3600", ResponseTimes{Date: t0, ExpiresInvalid: true}, false, h, true},
		{"max-age=0", "max-age=0", ResponseTimes{}, false, 0, true},
		// §4.2.1, §5.3: Expires minus Date.
		{"expires", "", ResponseTimes{Date: t0, Expires: at(h)}, true, h, true},
		{"expires past", "", ResponseTimes{Date: t0, Expires: at(-h)}, true, 0, true},
		// §4.2.1: without Date, Expires minus the response time.
		{"expires no date", "", ResponseTimes{Expires: at(h), ResponseTime: at(time.Minute)}, true, h - time.Minute, true},
		// §5.3: an invalid Expires means already expired.
		{"expires invalid", "", ResponseTimes{Date: t0, ExpiresInvalid: true}, true, 0, true},
		// §5.3: "Expires: Thu, 01 Jan 1970 00:00:00 GMT" parses to -1, not absent.
		{"expires epoch", "", ResponseTimes{Date: t0, Expires: -1}, true, 0, true},
		// Saturation of far dates.
		{"expires far", "", ResponseTimes{Date: math.MinInt64, Expires: math.MaxInt64}, true, math.MaxInt64, true},
		// §4.2.2: no explicit information.
		{"none", "public, no-cache", ResponseTimes{Date: t0, LastModified: at(-h)}, true, 0, false},
	}
	for _, tt := range tests {
		d := parseResponse(tt.cc)
		got, explicit := FreshnessLifetime(&d, &tt.times, tt.shared)
		if got != tt.want || explicit != tt.explicit {
			t.Errorf("%s: FreshnessLifetime = %v, %v; want %v, %v", tt.name, got, explicit, tt.want, tt.explicit)
		}
	}
	if got, explicit := FreshnessLifetime(nil, &ResponseTimes{Date: t0, Expires: at(time.Second)}, true); got != time.Second || !explicit {
		t.Errorf("nil directives: %v, %v", got, explicit)
	}
}

func TestHeuristicLifetime(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name     string
		times    ResponseTimes
		fraction float64
		max      time.Duration
		want     time.Duration
	}{
		// RFC 9111 §4.2.2: a fraction of the time since Last-Modified.
		{"tenth", ResponseTimes{Date: t0, LastModified: at(-10 * h)}, 0.1, -1, h},
		{"capped", ResponseTimes{Date: t0, LastModified: at(-1000 * h)}, 0.1, 24 * h, 24 * h},
		{"cap zero", ResponseTimes{Date: t0, LastModified: at(-10 * h)}, 0.1, 0, 0},
		{"no date", ResponseTimes{ResponseTime: t0, LastModified: at(-10 * h)}, 0.5, -1, 5 * h},
		{"no last-modified", ResponseTimes{Date: t0}, 0.1, -1, 0},
		{"future last-modified", ResponseTimes{Date: t0, LastModified: at(h)}, 0.1, -1, 0},
		{"same second", ResponseTimes{Date: t0, LastModified: t0}, 0.1, -1, 0},
		{"fraction 0", ResponseTimes{Date: t0, LastModified: at(-h)}, 0, -1, 0},
		{"fraction NaN", ResponseTimes{Date: t0, LastModified: at(-h)}, math.NaN(), -1, 0},
		{"fraction inf", ResponseTimes{Date: t0, LastModified: at(-h)}, math.Inf(1), -1, math.MaxInt64},
		{"huge", ResponseTimes{Date: math.MaxInt64, LastModified: math.MinInt64}, 2, -1, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := HeuristicLifetime(&tt.times, tt.fraction, tt.max); got != tt.want {
			t.Errorf("%s: HeuristicLifetime = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAge(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name  string
		times ResponseTimes
		want  time.Duration
	}{
		// RFC 9111 §4.2.3: corrected_initial_age = max(apparent_age, corrected_age_value).
		{"nothing", ResponseTimes{Age: -1, RequestTime: t0, ResponseTime: t0}, 0},
		{"delay only", ResponseTimes{Age: -1, RequestTime: t0, ResponseTime: at(2 * s)}, 2 * s},
		{"age plus delay", ResponseTimes{Age: 10 * s, RequestTime: t0, ResponseTime: at(2 * s)}, 12 * s},
		{"apparent wins", ResponseTimes{Date: at(-30 * s), Age: 10 * s, RequestTime: t0, ResponseTime: at(2 * s)}, 32 * s},
		{"date in future", ResponseTimes{Date: at(time.Hour), Age: -1, RequestTime: t0, ResponseTime: t0}, 0},
		{"no request time", ResponseTimes{Age: 5 * s, ResponseTime: t0}, 5 * s},
		{"clock back", ResponseTimes{Age: 5 * s, RequestTime: at(s), ResponseTime: t0}, 5 * s},
		{"no response time", ResponseTimes{Date: t0, Age: 3 * s, RequestTime: t0}, 3 * s},
		// RFC 9111 §5.1: ages saturate rather than overflow.
		{"saturate", ResponseTimes{Age: math.MaxInt64, RequestTime: math.MinInt64, ResponseTime: math.MaxInt64}, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := InitialAge(&tt.times); got != tt.want {
			t.Errorf("%s: InitialAge = %v, want %v", tt.name, got, tt.want)
		}
	}
	// RFC 9111 §4.2.3: current_age = corrected_initial_age + resident_time.
	if got := CurrentAge(5*s, t0, at(10*s)); got != 15*s {
		t.Errorf("CurrentAge = %v, want 15s", got)
	}
	if got := CurrentAge(5*s, t0, at(-10*s)); got != 5*s {
		t.Errorf("CurrentAge with the clock stepped back = %v, want 5s", got)
	}
	if got := CurrentAge(math.MaxInt64-1, math.MinInt64, math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("CurrentAge overflow = %v", got)
	}
}

func TestSaturation(t *testing.T) {
	tests := []struct{ a, b, want int64 }{
		{5, 3, 2}, {3, 5, -2}, {math.MaxInt64, -1, math.MaxInt64}, {math.MinInt64, 1, math.MinInt64},
		{math.MaxInt64, math.MinInt64, math.MaxInt64}, {math.MinInt64, math.MaxInt64, math.MinInt64}, {0, math.MinInt64, math.MaxInt64},
		{-1, math.MaxInt64, math.MinInt64}, {math.MinInt64, math.MinInt64, 0},
	}
	for _, tt := range tests {
		if got := since(tt.a, tt.b); int64(got) != tt.want {
			t.Errorf("since(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if tt.b != math.MinInt64 {
			if got := addSat(time.Duration(tt.a), time.Duration(-tt.b)); int64(got) != tt.want {
				t.Errorf("addSat(%d, %d) = %d, want %d", tt.a, -tt.b, got, tt.want)
			}
		}
	}
}
