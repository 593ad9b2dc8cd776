package testkit

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/storage/redis/v3"

	"github.com/fiber-caches/cache/internal/core/redistest"
)

// RedisStorage is a client of the test Redis that remembers the keys it
// set. The Redis is shared: it deletes only those keys when the test ends,
// and Reset panics. Its Conn is the embedded storage's, so a cache given a
// RedisStorage takes the Redis fast path (Wrap it for the generic one).
type RedisStorage struct {
	*redis.Storage
	mu   sync.Mutex
	keys map[string]bool
}

// Redis returns a client of the test Redis (redistest.Addr) with its own
// connections, as another app instance has. When t ends, it deletes the
// keys it set and closes.
func Redis(t testing.TB) *RedisStorage {
	t.Helper()
	host, port, err := net.SplitHostPort(redistest.Addr(t))
	if err != nil {
		t.Fatalf("the test Redis address: %v", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("the test Redis port: %v", err)
	}
	s := &RedisStorage{Storage: redis.New(redis.Config{Host: host, Port: p, Reset: false}), keys: map[string]bool{}}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for k := range s.keys {
			_ = s.Storage.Delete(k)
		}
		_ = s.Storage.Close()
	})
	return s
}

// Set sets key in Redis, and remembers it to delete it when the test ends.
func (s *RedisStorage) Set(key string, val []byte, exp time.Duration) error {
	s.mu.Lock()
	s.keys[key] = true
	s.mu.Unlock()
	return s.Storage.Set(key, val, exp)
}

// Reset panics: tests share the Redis, so none may clear it.
func (s *RedisStorage) Reset() error {
	panic("testkit: tests share a Redis: Reset must never be called")
}
