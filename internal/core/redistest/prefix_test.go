package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestDB(t *testing.T) {
	t.Setenv("REDIS_DB", "")
	if DB(t) != 0 {
		t.Fatal("DB without REDIS_DB is not 0")
	}
	t.Setenv("REDIS_DB", "3")
	if DB(t) != 3 {
		t.Fatal("DB with REDIS_DB=3 is not 3")
	}
}

func TestPrefix(t *testing.T) {
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: Addr(t), DB: DB(t)})
	defer rc.Close()

	var p string
	t.Run("a*b?[c]{d}", func(t *testing.T) {
		p = Prefix(t)
		if q := Prefix(t); q == p {
			t.Fatalf("two Prefix calls gave %q twice", p)
		}
		// 250 keys: more than one SCAN batch.
		pipe := rc.Pipeline()
		for i := range 250 {
			pipe.Set(ctx, fmt.Sprintf("%s%d", p, i), "x", time.Minute)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if want := "test:TestPrefix/a_b__c__d_:"; !strings.HasPrefix(p, want) || !strings.HasSuffix(p, ":") {
		t.Fatalf("Prefix = %q, want %q<random>:", p, want)
	}
	// Keys that only look alike must survive the cleanup.
	near := []string{strings.TrimSuffix(p, ":"), "x" + p + "1"}
	for _, k := range near {
		rc.Set(ctx, k, "keep", time.Minute)
		defer rc.Del(ctx, k)
	}
	if keys, err := scanAll(ctx, rc, p+"*"); err != nil || len(keys) != 0 {
		t.Fatalf("keys under %q left after the cleanup: %q (%v)", p, keys, err)
	}
	if n, err := rc.Exists(ctx, near...).Result(); err != nil || n != int64(len(near)) {
		t.Fatalf("the cleanup deleted keys outside its prefix: %d of %d left (%v)", n, len(near), err)
	}
}

// scanAll returns the keys on one server matching a SCAN pattern.
func scanAll(ctx context.Context, rc *redis.Client, match string) ([]string, error) {
	var all []string
	var cursor uint64
	for range 100_000 {
		keys, next, err := rc.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return nil, err
		}
		all = append(all, keys...)
		if cursor = next; cursor == 0 {
			return all, nil
		}
	}
	return all, fmt.Errorf("SCAN MATCH %s did not finish", match)
}
