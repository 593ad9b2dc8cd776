package rfc

import (
	"testing"
	"time"
)

// TestZeroAllocs checks that the functions a cache calls on every request
// do not allocate.
func TestZeroAllocs(t *testing.T) {
	cc := []byte(`public, max-age=3600, s-maxage="60", no-cache="Set-Cookie", stale-while-revalidate=30, x="a,b"`)
	reqCC := []byte("max-age=0, max-stale, min-fresh=5, no-cache, only-if-cached")
	inm := []byte(`"x", W/"y", "a,b", "etag"`)
	etag := []byte(`"etag"`)
	date := []byte("Sun, 06 Nov 1994 08:49:37 GMT")
	rfc850 := []byte("Sunday, 06-Nov-94 08:49:37 GMT")
	rng := []byte("bytes=500-999")
	times := ResponseTimes{Date: t0, Expires: at(time.Hour), LastModified: at(-time.Hour), Age: time.Second, RequestTime: t0, ResponseTime: t0}
	buf := make([]byte, 0, 64)
	var sink int64
	tests := map[string]func(){
		"ResponseDirectives.Parse": func() {
			d := NewResponseDirectives()
			d.Parse(cc)
			sink += int64(d.MaxAge)
		},
		"RequestDirectives.Parse": func() {
			d := NewRequestDirectives()
			d.Parse(reqCC)
			sink += int64(d.MaxAge)
		},
		"IfNoneMatchMatches": func() {
			if IfNoneMatchMatches(inm, etag) {
				sink++
			}
		},
		"EvaluateConditional": func() {
			sink += int64(EvaluateConditional(true, nil, date, etag, lm))
		},
		"ParseRange": func() {
			s, e, _ := ParseRange(rng, 10000)
			sink += s + e
		},
		"ParseHTTPDate": func() {
			a, _ := ParseHTTPDate(date)
			b, _ := ParseHTTPDate(rfc850)
			sink += a + b
		},
		"AppendHTTPDate":     func() { sink += int64(len(AppendHTTPDate(buf[:0], t0))) },
		"AppendContentRange": func() { sink += int64(len(AppendContentRange(buf[:0], 1, 2, 3))) },
		"freshness": func() {
			d := NewResponseDirectives()
			d.Parse(cc)
			l, _ := FreshnessLifetime(&d, &times, true)
			age := CurrentAge(InitialAge(&times), times.ResponseTime, at(time.Minute))
			sink += int64(l + age + HeuristicLifetime(&times, 0.1, time.Hour))
			sink += int64(Usable(UseInput{Age: age, Lifetime: l, StaleWhileRevalidate: d.StaleWhileRevalidate, StaleIfError: -1}))
		},
		"ForEachToken": func() { ForEachToken(inm, func(tok []byte) { sink += int64(len(tok)) }) },
		"HopByHop": func() {
			if HopByHop(etag) || NotModifiedHeader(etag) || PragmaNoCache(cc) {
				sink++
			}
		},
		"Storable": func() {
			if ok, _ := Storable(StoreInput{GetOrHead: true, Status: 200, Response: NewResponseDirectives()}); ok {
				sink++
			}
		},
	}
	for name, f := range tests {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
	_ = sink
}
