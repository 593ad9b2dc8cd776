package rfc

import "testing"

func TestStorable(t *testing.T) {
	// base: a GET answered 200 with max-age=60, in a shared cache.
	base := StoreInput{GetOrHead: true, Status: 200, Response: parseResponse("max-age=60"), Shared: true}
	cc := func(v string) func(*StoreInput) { return func(in *StoreInput) { in.Response = parseResponse(v) } }
	status := func(s int) func(*StoreInput) { return func(in *StoreInput) { in.Status = s } }
	private := func(in *StoreInput) { in.Shared = false }
	auth := func(in *StoreInput) { in.Authorization = true }
	tests := []struct {
		name string
		mods []func(*StoreInput)
		ok   bool
		why  string
	}{
		{"plain", nil, true, ""},
		// RFC 9111 §3: the method must be understood.
		{"post", []func(*StoreInput){func(in *StoreInput) { in.GetOrHead = false }}, false, WhyMethod},
		// RFC 9111 §3: final statuses; §4.3.4: 304 freshens, is not stored.
		{"1xx", []func(*StoreInput){status(103)}, false, WhyStatusCode},
		{"304", []func(*StoreInput){status(304)}, false, WhyStatusCode},
		{"600", []func(*StoreInput){status(600)}, false, WhyStatusCode},
		// RFC 9111 §5.2.2.5, §5.2.1.5: no-store.
		{"no-store", []func(*StoreInput){cc("no-store, max-age=60")}, false, WhyNoStore},
		{"request no-store", []func(*StoreInput){func(in *StoreInput) { in.RequestNoStore = true }}, false, WhyRequestNoStore},
		// RFC 9111 §5.2.2.3: must-understand with an understood status
		// ignores no-store (cache-tests cc-resp-must-understand-*).
		{"must-understand 200", []func(*StoreInput){cc("must-understand, no-store, max-age=60")}, true, ""},
		{"must-understand 307", []func(*StoreInput){cc("must-understand, no-store, max-age=60"), status(307)}, true, ""},
		{"must-understand 555", []func(*StoreInput){cc("must-understand, no-store, max-age=60"), status(555)}, false, WhyMustUnderstand},
		{"must-understand 555 no no-store", []func(*StoreInput){cc("must-understand, max-age=60"), status(555)}, false, WhyMustUnderstand},
		// RFC 9111 §5.2.2.7: private, in shared caches only; qualified private is storable.
		{"private shared", []func(*StoreInput){cc("private, max-age=60")}, false, WhyPrivate},
		{"private private", []func(*StoreInput){cc("private"), private, status(302)}, true, ""},
		{"private qualified shared", []func(*StoreInput){cc(`private="Set-Cookie", max-age=60`)}, true, ""},
		{"private qualified, no freshness", []func(*StoreInput){cc(`private="Set-Cookie"`), status(302)}, false, WhyNoFreshness},
		// RFC 9111 §3.5: Authorization in shared caches.
		{"authorization", []func(*StoreInput){auth}, false, WhyAuthorization},
		{"authorization public", []func(*StoreInput){auth, cc("public, max-age=60")}, true, ""},
		{"authorization s-maxage", []func(*StoreInput){auth, cc("s-maxage=60")}, true, ""},
		{"authorization must-revalidate", []func(*StoreInput){auth, cc("must-revalidate, max-age=60")}, true, ""},
		{"authorization private cache", []func(*StoreInput){auth, private}, true, ""},
		// RFC 9111 §3: something must allow storing.
		{"200 no freshness", []func(*StoreInput){cc("")}, true, ""}, // §4.2.2 heuristically cacheable
		{"no-cache", []func(*StoreInput){cc("no-cache")}, true, ""}, // §5.2.2.4 does not forbid storing
		{"302 bare", []func(*StoreInput){cc(""), status(302)}, false, WhyNoFreshness},
		{"500 bare", []func(*StoreInput){cc(""), status(500)}, false, WhyNoFreshness},
		{"302 max-age", []func(*StoreInput){status(302)}, true, ""},
		{"302 public", []func(*StoreInput){cc("public"), status(302)}, true, ""},
		{"302 expires", []func(*StoreInput){cc(""), status(302), func(in *StoreInput) { in.HasExpires = true }}, true, ""},
		{"302 s-maxage shared", []func(*StoreInput){cc("s-maxage=5"), status(302)}, true, ""},
		{"302 s-maxage private", []func(*StoreInput){cc("s-maxage=5"), status(302), private}, false, WhyNoFreshness},
		{"302 extension", []func(*StoreInput){cc(""), status(302), func(in *StoreInput) { in.Extension = true }}, true, ""},
		{"404 bare", []func(*StoreInput){cc(""), status(404)}, true, ""},
		{"206 bare", []func(*StoreInput){cc(""), status(206)}, true, ""},
	}
	for _, tt := range tests {
		in := base
		for _, m := range tt.mods {
			m(&in)
		}
		if ok, why := Storable(in); ok != tt.ok || why != tt.why {
			t.Errorf("%s: Storable = %v, %q; want %v, %q", tt.name, ok, why, tt.ok, tt.why)
		}
	}
}
