package cache

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	"github.com/stretchr/testify/require"
)

// roundTripCases are the responses the round-trip tests store.
var roundTripCases = []struct {
	name string
	vary string // the response's Vary; "" for none
}{
	{name: "no-vary"},
	{name: "vary", vary: "Accept-Encoding"},
	{name: "vary-on-two", vary: "Accept-Encoding, Accept-Language"},
}

// roundTripApp is an app on m whose handler counts its runs and answers
// with vary; get sends a GET of path in language lang and returns X-Cache.
func roundTripApp(t *testing.T, m *Cache, vary string) (get func(path, lang string) string, runs *atomic.Int64) {
	app := fiber.New()
	app.Use(m.Handler())
	runs = &atomic.Int64{}
	app.Get("/*", func(c *fiber.Ctx) error {
		runs.Add(1)
		if vary != "" {
			c.Set(fiber.HeaderVary, vary)
		}
		c.Set(fiber.HeaderETag, `"1"`)
		return c.SendString("body")
	})
	return func(path, lang string) string {
		t.Helper()
		// Each language is a variant of either Vary (the cache keys
		// Accept-Encoding by the coding it selects).
		r := testkit.Do(t, app, fiber.MethodGet, path,
			fiber.HeaderAcceptEncoding+": "+map[string]string{"en": "gzip", "fr": "br"}[lang],
			fiber.HeaderAcceptLanguage+": "+lang)
		require.Equal(t, fiber.StatusOK, r.Status)
		return r.Header.Get(DefaultCacheHeader)
	}, runs
}

// TestHitRoundTrips pins what the Redis fast path (through the storage's
// Conn) costs, counted by a go-redis hook: a hit is one round trip (a
// script reading the path record and the entry, pipelined with a read of
// the epoch), with or without Vary; a miss is at most three (the lookup,
// the fleet's lease, the store; two with WithFleetCoalescing(false)); an
// invalidation is one, whatever the number of variants.
func TestHitRoundTrips(t *testing.T) {
	rs := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
	t.Cleanup(func() { rs.Close() })
	var rt redistest.RoundTrips
	rs.Conn().AddHook(&rt)
	prefix := redistest.Prefix(t)

	for _, fleet := range []bool{true, false} {
		for _, tc := range roundTripCases {
			t.Run(fmt.Sprintf("fleet=%v/%s", fleet, tc.name), func(t *testing.T) { hitRoundTrips(t, rs, &rt, prefix, fleet, tc.name, tc.vary) })
		}
	}
}

func hitRoundTrips(t *testing.T, rs *redis.Storage, rt *redistest.RoundTrips, prefix string, fleet bool, name, vary string) {
	maxMiss := int64(2)
	if fleet {
		maxMiss = 3
	}
	m := NewCache(WithStorage(rs), WithKeyPrefix(prefix), WithTTL(time.Minute), WithStorageTimeout(testkit.StorageTimeout), WithFleetCoalescing(fleet))
	t.Cleanup(func() { _ = m.Close() })
	get, runs := roundTripApp(t, m, vary)
	url := fmt.Sprintf("/roundtrip/%v/%s", fleet, name)
	require.Equal(t, "miss", get(fmt.Sprintf("/warm-up/%v/%s", fleet, name), "en")) // loads the scripts, if Redis lacks them
	rt.Take()

	hits := func(lang string) {
		t.Helper()
		for range 3 {
			require.Equal(t, "hit", get(url, lang))
			require.EqualValues(t, 1, rt.Take(), "round trips per hit [%s]", lang)
		}
	}
	miss := func(lang string) {
		t.Helper()
		before := runs.Load()
		require.Equal(t, "miss", get(url, lang))
		require.Equal(t, before+1, runs.Load())
		n := rt.Take()
		require.LessOrEqual(t, n, maxMiss, "round trips per miss [%s]", lang)
		require.Positive(t, n)
	}
	miss("en")
	hits("en")
	if vary != "" {
		miss("fr") // another variant of a path whose Vary is known
		hits("fr")
		hits("en")
	}

	require.NoError(t, m.InvalidateURL("http://example.com"+url))
	require.EqualValues(t, 1, rt.Take(), "round trips per invalidation")
	miss("en")
	hits("en")
}

// TestHitRoundTripsOtherInstance: an instance that never saw the path's
// Vary names learns them from the path record at the cost of one more
// round trip on its first lookup, and the entry's tags (its route's) from
// the entry at the cost of one more, and hits in one after.
func TestHitRoundTripsOtherInstance(t *testing.T) {
	prefix := redistest.Prefix(t)
	newInstance := func() (*Cache, *redistest.RoundTrips) {
		rs := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
		t.Cleanup(func() { rs.Close() })
		rt := &redistest.RoundTrips{}
		rs.Conn().AddHook(rt)
		m := NewCache(WithStorage(rs), WithKeyPrefix(prefix), WithTTL(time.Minute), WithStorageTimeout(testkit.StorageTimeout))
		t.Cleanup(func() { _ = m.Close() })
		return m, rt
	}
	a, _ := newInstance()
	b, rtB := newInstance()
	getA, runsA := roundTripApp(t, a, "Accept-Language")
	getB, runsB := roundTripApp(t, b, "Accept-Language")
	require.Equal(t, "miss", getA("/p", "en"))
	require.Equal(t, "miss", getB("/warm-up", "en"))
	rtB.Take()
	require.Equal(t, "hit", getB("/p", "en"), "B answers what A stored")
	require.LessOrEqual(t, rtB.Take(), int64(3), "B's first lookup of the path")
	for range 3 {
		require.Equal(t, "hit", getB("/p", "en"))
		require.EqualValues(t, 1, rtB.Take(), "round trips per hit")
	}
	require.EqualValues(t, 1, runsA.Load())
	require.EqualValues(t, 1, runsB.Load(), "B ran only for /warm-up")
}

// TestStorageHitRoundTrips pins what the generic fiber.Storage path costs
// (a storage without atomic updates or multi-key reads: here Redis behind
// a wrapper that hides its Conn): a hit reads the Vary names, the path's
// generation, the epoch and the entry, four Gets, with or without Vary,
// and never a Set or a Delete; an invalidation reads the path record and
// writes a fresh generation, whatever the number of variants.
func TestStorageHitRoundTrips(t *testing.T) {
	rs := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
	t.Cleanup(func() { rs.Close() })
	s := testkit.Wrap(rs) // counts the calls, each one round trip; hides Conn
	prefix := redistest.Prefix(t)

	for _, tc := range roundTripCases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewCache(WithStorage(s), WithKeyPrefix(prefix), WithTTL(time.Minute), WithStorageTimeout(testkit.StorageTimeout))
			t.Cleanup(func() { _ = m.Close() })
			get, runs := roundTripApp(t, m, tc.vary)
			url := "/roundtrip/" + tc.name
			hits := func(lang string) {
				t.Helper()
				for range 3 {
					require.Equal(t, "hit", get(url, lang))
					c := s.TakeCounts()
					require.EqualValues(t, 5, c.Gets, "storage Gets per hit: names, path, epoch, entry, the route's tag")
					require.Zero(t, c.Sets, "storage Sets per hit")
					require.Zero(t, c.Deletes, "storage Deletes per hit")
				}
			}
			require.Equal(t, "miss", get(url, "en"))
			require.Positive(t, s.TakeCounts().Sets, "the miss stored the response")
			hits("en")
			if tc.vary != "" {
				require.Equal(t, "miss", get(url, "fr"))
				s.TakeCounts()
				hits("fr")
			}
			require.NoError(t, m.InvalidateURL("http://example.com"+url))
			c := s.TakeCounts()
			require.Equal(t, [3]int64{1, 1, 0}, [3]int64{c.Gets, c.Sets, c.Deletes}, "an invalidation: Get and Set of the path record")
			require.Equal(t, "miss", get(url, "en"))
			s.TakeCounts()
			hits("en")
			want := int64(2)
			if tc.vary != "" {
				want = 3
			}
			require.Equal(t, want, runs.Load(), "handler runs")
		})
	}
}
