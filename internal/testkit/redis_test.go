package testkit

import (
	"os"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core/redistest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.StopAll()
	os.Exit(code)
}

// TestRedisDeletesOnlyItsKeys: the keys a Redis storage set go when its
// test ends; a key someone else set stays.
func TestRedisDeletesOnlyItsKeys(t *testing.T) {
	prefix := redistest.Prefix(t) // and its cleanup, should this test fail
	other := Redis(t)
	if err := other.Storage.Set(prefix+"other", []byte("o"), time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Run("writer", func(t *testing.T) {
		s := Redis(t)
		if err := s.Set(prefix+"mine", []byte("m"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, err := other.Get(prefix + "mine"); string(v) != "m" || err != nil {
			t.Fatalf("Get = %q, %v: another client does not see the key", v, err)
		}
	})
	if v, err := other.Get(prefix + "mine"); v != nil || err != nil {
		t.Fatalf("after the writer's test, its key holds %q (%v)", v, err)
	}
	if v, err := other.Get(prefix + "other"); string(v) != "o" || err != nil {
		t.Fatalf("after the writer's test, another's key holds %q (%v)", v, err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Reset did not panic")
		}
	}()
	_ = other.Reset()
}
