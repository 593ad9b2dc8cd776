package core

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestDateCache: a remembered date is the one fasthttp formats, for the
// same second and across seconds, sub-second parts ignored.
func TestDateCache(t *testing.T) {
	var d dateCache
	base := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	for _, off := range []time.Duration{0, 999 * time.Millisecond, time.Second, time.Second + 1, 0, -time.Hour, 90 * 24 * time.Hour, 200 * 365 * 24 * time.Hour} {
		at := base.Add(off)
		want := string(fasthttp.AppendHTTPDate(nil, at))
		if got := string(d.append([]byte("x"), at)); got != "x"+want {
			t.Errorf("%v: %q, want %q", at, got, "x"+want)
		}
	}
}
