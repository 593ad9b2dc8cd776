package rfc

import (
	"testing"
	"time"
)

func TestUsable(t *testing.T) {
	const s = time.Second
	// base: a shared cache, a response 10s old with a 60s lifetime, a
	// validator, no stale windows, the request honoured.
	base := UseInput{
		Age: 10 * s, Lifetime: 60 * s, StaleWhileRevalidate: -1, StaleIfError: -1,
		Shared: true, HasValidator: true, Request: NewRequestDirectives(), HonorRequest: true,
	}
	stale := func(in *UseInput) { in.Age = 70 * s } // 10s stale
	req := func(cc string) func(*UseInput) {
		return func(in *UseInput) { in.Request = parseRequest(cc) }
	}
	tests := []struct {
		name string
		mods []func(*UseInput)
		want Use
	}{
		// RFC 9111 §4.2: fresh while age < lifetime.
		{"fresh", nil, UseFresh},
		{"age == lifetime is stale", []func(*UseInput){func(in *UseInput) { in.Age = 60 * s }}, UseRevalidate},
		{"stale", []func(*UseInput){stale}, UseRevalidate},
		{"stale no validator", []func(*UseInput){stale, func(in *UseInput) { in.HasValidator = false }}, UseMiss},
		{"zero lifetime", []func(*UseInput){func(in *UseInput) { in.Age, in.Lifetime = 0, 0 }}, UseRevalidate},
		// RFC 9111 §5.2.2.4: response no-cache always revalidates.
		{"response no-cache", []func(*UseInput){func(in *UseInput) { in.NoCache = true }}, UseRevalidate},
		{"response no-cache swr", []func(*UseInput){stale, func(in *UseInput) { in.NoCache, in.StaleWhileRevalidate = true, 60*s }}, UseRevalidate},
		// RFC 9111 §5.2.1.4: request no-cache revalidates.
		{"request no-cache", []func(*UseInput){req("no-cache")}, UseRevalidate},
		{"request no-cache ignored", []func(*UseInput){req("no-cache"), func(in *UseInput) { in.HonorRequest = false }}, UseFresh},
		// RFC 9111 §5.2.1.1: request max-age.
		{"max-age ok", []func(*UseInput){req("max-age=10")}, UseFresh},
		{"max-age too old", []func(*UseInput){req("max-age=9")}, UseRevalidate},
		{"max-age=0", []func(*UseInput){req("max-age=0")}, UseRevalidate},
		// RFC 9111 §5.2.1.3: request min-fresh.
		{"min-fresh ok", []func(*UseInput){req("min-fresh=50")}, UseFresh},
		{"min-fresh fails", []func(*UseInput){req("min-fresh=51")}, UseRevalidate},
		// RFC 9111 §5.2.1.2: request max-stale.
		{"max-stale", []func(*UseInput){stale, req("max-stale=10")}, UseStale},
		{"max-stale too small", []func(*UseInput){stale, req("max-stale=9")}, UseRevalidate},
		{"max-stale any", []func(*UseInput){stale, req("max-stale")}, UseStale},
		{"max-stale with max-age ok", []func(*UseInput){stale, req("max-stale, max-age=70")}, UseStale},
		{"max-stale with max-age too old", []func(*UseInput){stale, req("max-stale, max-age=69")}, UseRevalidate},
		{"max-stale with min-fresh", []func(*UseInput){stale, req("max-stale, min-fresh=1")}, UseRevalidate},
		{"max-stale ignored", []func(*UseInput){stale, req("max-stale"), func(in *UseInput) { in.HonorRequest = false }}, UseRevalidate},
		// RFC 9111 §5.2.2.2, §5.2.2.8: no stale serving with must-revalidate,
		// or proxy-revalidate in a shared cache.
		{"max-stale must-revalidate", []func(*UseInput){stale, req("max-stale"), func(in *UseInput) { in.MustRevalidate = true }}, UseRevalidate},
		{"max-stale proxy-revalidate shared", []func(*UseInput){stale, req("max-stale"), func(in *UseInput) { in.ProxyRevalidate = true }}, UseRevalidate},
		{"max-stale proxy-revalidate private", []func(*UseInput){stale, req("max-stale"), func(in *UseInput) { in.ProxyRevalidate, in.Shared = true, false }}, UseStale},
		{"must-revalidate fresh", []func(*UseInput){func(in *UseInput) { in.MustRevalidate = true }}, UseFresh},
		// RFC 5861 §3: stale-while-revalidate, measured from when the
		// response became stale.
		{"swr", []func(*UseInput){stale, func(in *UseInput) { in.StaleWhileRevalidate = 11 * s }}, UseStaleWhileRevalidate},
		{"swr expired", []func(*UseInput){stale, func(in *UseInput) { in.StaleWhileRevalidate = 10 * s }}, UseRevalidate},
		{"swr grace", []func(*UseInput){stale, func(in *UseInput) { in.GraceWhileRevalidate = 11 * s }}, UseStaleWhileRevalidate},
		{"swr 0 beats grace", []func(*UseInput){stale, func(in *UseInput) { in.StaleWhileRevalidate, in.GraceWhileRevalidate = 0, time.Hour }}, UseRevalidate},
		{"swr no validator", []func(*UseInput){stale, func(in *UseInput) { in.StaleWhileRevalidate, in.HasValidator = time.Hour, false }}, UseStaleWhileRevalidate},
		{"swr must-revalidate", []func(*UseInput){stale, func(in *UseInput) { in.StaleWhileRevalidate, in.MustRevalidate = time.Hour, true }}, UseRevalidate},
		{"swr proxy-revalidate", []func(*UseInput){stale, func(in *UseInput) { in.StaleWhileRevalidate, in.ProxyRevalidate = time.Hour, true }}, UseRevalidate},
		{"swr request no-cache", []func(*UseInput){stale, req("no-cache"), func(in *UseInput) { in.StaleWhileRevalidate = time.Hour }}, UseRevalidate},
		// RFC 9111 §5.2.1.1: with max-age and no max-stale the client wants no stale response.
		{"swr request max-age", []func(*UseInput){stale, req("max-age=3600"), func(in *UseInput) { in.StaleWhileRevalidate = time.Hour }}, UseRevalidate},
		{"swr request min-fresh", []func(*UseInput){stale, req("min-fresh=0"), func(in *UseInput) { in.StaleWhileRevalidate = time.Hour }}, UseRevalidate},
		{"swr before max-stale", []func(*UseInput){stale, req("max-stale"), func(in *UseInput) { in.StaleWhileRevalidate = time.Hour }}, UseStaleWhileRevalidate},
		// RFC 9111 §5.2.1.7: only-if-cached with nothing usable: 504.
		{"only-if-cached fresh", []func(*UseInput){req("only-if-cached")}, UseFresh},
		{"only-if-cached stale", []func(*UseInput){stale, req("only-if-cached")}, UseOnlyIfCachedGatewayTimeout},
		{"only-if-cached no-cache", []func(*UseInput){req("only-if-cached, no-cache")}, UseOnlyIfCachedGatewayTimeout},
		{"only-if-cached swr", []func(*UseInput){stale, req("only-if-cached"), func(in *UseInput) { in.StaleWhileRevalidate = time.Hour }}, UseStaleWhileRevalidate},
		{"only-if-cached ignored", []func(*UseInput){stale, req("only-if-cached"), func(in *UseInput) { in.HonorRequest = false }}, UseRevalidate},
		// RFC 5861 §4: stale-if-error once the origin failed.
		{"failed no sie", []func(*UseInput){stale, func(in *UseInput) { in.OriginFailed = true }}, UseMiss},
		{"failed sie", []func(*UseInput){stale, func(in *UseInput) { in.OriginFailed, in.StaleIfError = true, 11*s }}, UseStaleIfError},
		{"failed sie expired", []func(*UseInput){stale, func(in *UseInput) { in.OriginFailed, in.StaleIfError = true, 10*s }}, UseMiss},
		{"failed grace", []func(*UseInput){stale, func(in *UseInput) { in.OriginFailed, in.GraceIfError = true, time.Hour }}, UseStaleIfError},
		{"failed sie 0 beats grace", []func(*UseInput){stale, func(in *UseInput) { in.OriginFailed, in.StaleIfError, in.GraceIfError = true, 0, time.Hour }}, UseMiss},
		{"failed max-stale", []func(*UseInput){stale, req("max-stale=10"), func(in *UseInput) { in.OriginFailed = true }}, UseStaleIfError},
		// RFC 9111 §4.3.3: a fresh stored response may replace a 5xx.
		{"failed fresh", []func(*UseInput){req("no-cache"), func(in *UseInput) { in.OriginFailed = true }}, UseStaleIfError},
		// RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.4, §5.2.2.8: never stale on error
		// with must-revalidate, proxy-revalidate (shared), no-cache
		// (cache-tests stale-close-must-revalidate and the like).
		{"failed must-revalidate", []func(*UseInput){stale, func(in *UseInput) { in.OriginFailed, in.StaleIfError, in.MustRevalidate = true, time.Hour, true }}, UseMiss},
		{"failed proxy-revalidate", []func(*UseInput){stale, func(in *UseInput) { in.OriginFailed, in.StaleIfError, in.ProxyRevalidate = true, time.Hour, true }}, UseMiss},
		{"failed proxy-revalidate private", []func(*UseInput){stale, func(in *UseInput) {
			in.OriginFailed, in.StaleIfError, in.ProxyRevalidate, in.Shared = true, time.Hour, true, false
		}}, UseStaleIfError},
		{"failed no-cache", []func(*UseInput){func(in *UseInput) { in.OriginFailed, in.StaleIfError, in.NoCache = true, time.Hour, true }}, UseMiss},
		{"failed fresh must-revalidate", []func(*UseInput){func(in *UseInput) { in.OriginFailed, in.MustRevalidate = true, true }}, UseStaleIfError},
	}
	for _, tt := range tests {
		in := base
		for _, m := range tt.mods {
			m(&in)
		}
		if got := Usable(in); got != tt.want {
			t.Errorf("%s: Usable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestUseString(t *testing.T) {
	for u, want := range map[Use]string{
		UseMiss: "Miss", UseFresh: "Fresh", UseStale: "Stale", UseStaleWhileRevalidate: "StaleWhileRevalidate",
		UseRevalidate: "Revalidate", UseStaleIfError: "StaleIfError", UseOnlyIfCachedGatewayTimeout: "OnlyIfCachedGatewayTimeout",
		Use(200): "Use(?)",
	} {
		if got := u.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", u, got, want)
		}
	}
}
