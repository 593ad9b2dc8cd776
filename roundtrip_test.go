package cache

import (
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/redistest"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	"github.com/stretchr/testify/require"
)

// countingStorage counts the calls that reach a fiber.Storage: each is one
// round trip to Redis.
type countingStorage struct {
	fiber.Storage
	gets, sets, dels atomic.Int64
}

func (s *countingStorage) Get(key string) ([]byte, error) {
	s.gets.Add(1)
	return s.Storage.Get(key)
}

func (s *countingStorage) Set(key string, val []byte, exp time.Duration) error {
	s.sets.Add(1)
	return s.Storage.Set(key, val, exp)
}

func (s *countingStorage) Delete(key string) error {
	s.dels.Add(1)
	return s.Storage.Delete(key)
}

// calls returns the counts since the last call, and resets them.
func (s *countingStorage) calls() (gets, sets, dels int64) {
	return s.gets.Swap(0), s.sets.Swap(0), s.dels.Swap(0)
}

// TestHitRoundTrips pins what a hit costs in storage round trips: one Get
// for a response without Vary (the response itself), two for one with Vary
// (the Vary record, then the variant), and never a Set or a Delete.
func TestHitRoundTrips(t *testing.T) {
	rs := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
	t.Cleanup(func() { rs.Close() })
	s := &countingStorage{Storage: rs}
	prefix := fmt.Sprintf("test-roundtrip-%d:", time.Now().UnixNano())

	for _, tc := range []struct {
		name string
		vary string // the response's Vary; "" for none
		gets int64  // per hit
	}{
		{name: "no-vary", gets: 1},
		{name: "vary", vary: "Accept-Encoding", gets: 2},
		{name: "vary-on-two", vary: "Accept-Encoding, Accept-Language", gets: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New()
			app.Use(New(WithStorage(s), WithKeyPrefix(prefix), WithTTL(time.Minute)))
			var runs atomic.Int64
			app.Get("/*", func(c *fiber.Ctx) error {
				runs.Add(1)
				if tc.vary != "" {
					c.Set(fiber.HeaderVary, tc.vary)
				}
				c.Set(fiber.HeaderETag, `"1"`)
				return c.SendString("body")
			})
			url := "/roundtrip/" + tc.name
			get := func() string {
				t.Helper()
				req := httptest.NewRequest(fiber.MethodGet, url, nil)
				req.Header.Set(fiber.HeaderAcceptEncoding, "gzip")
				req.Header.Set(fiber.HeaderAcceptLanguage, "en")
				resp, err := app.Test(req, -1)
				require.NoError(t, err)
				require.Equal(t, fiber.StatusOK, resp.StatusCode)
				return resp.Header.Get(DefaultCacheHeader)
			}

			require.Equal(t, "miss", get())
			_, sets, _ := s.calls()
			require.Positive(t, sets, "the miss stored the response")
			for range 3 {
				require.Equal(t, "hit", get())
				gets, sets, dels := s.calls()
				require.Equal(t, tc.gets, gets, "storage Gets per hit")
				require.Zero(t, sets, "storage Sets per hit")
				require.Zero(t, dels, "storage Deletes per hit")
			}
			require.EqualValues(t, 1, runs.Load(), "handler runs")
		})
	}
}
