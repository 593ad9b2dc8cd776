package cache

import (
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
)

// testBackend is one backend the acceptance tests run on: the options
// that select it (a fresh namespace each call).
type testBackend struct {
	name string
	opts func(t *testing.T) []Option
}

// everyBackend lists the backends a guarantee marked "every backend" is
// tested on: the in-process store, a plain fiber.Storage (encoded
// entries, four reads per hit), Redis through its client, and Redis with a
// near cache, strict and relaxed.
func everyBackend() []testBackend {
	return []testBackend{
		{"memory", func(*testing.T) []Option { return nil }},
		{"storage", func(*testing.T) []Option {
			return []Option{WithStorage(testkit.NewStorage()), WithStorageTimeout(testkit.StorageTimeout)}
		}},
		{"redis", func(t *testing.T) []Option {
			s, prefix := redisStorage(t)
			return []Option{WithStorage(s), WithKeyPrefix(prefix), WithStorageTimeout(testkit.StorageTimeout)}
		}},
		{"near", func(t *testing.T) []Option {
			s, prefix := redisStorage(t)
			return []Option{WithStorage(s), WithKeyPrefix(prefix), WithStorageTimeout(testkit.StorageTimeout), WithNearCache(1 << 20)}
		}},
		{"near-relaxed", func(t *testing.T) []Option {
			s, prefix := redisStorage(t)
			return []Option{WithStorage(s), WithKeyPrefix(prefix), WithStorageTimeout(testkit.StorageTimeout),
				WithNearCache(1 << 20), WithNearCacheLag(time.Minute)}
		}},
	}
}

// newTestCache is NewCache on b with opts, closed when the test ends.
func newTestCache(t *testing.T, b testBackend, opts ...Option) *Cache {
	t.Helper()
	m := NewCache(append(b.opts(t), opts...)...)
	t.Cleanup(func() { _ = m.Close() })
	return m
}
