package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DB returns the Redis database number for tests: REDIS_DB, default 0. It
// fails the test if REDIS_DB is not a non-negative number.
func DB(t testing.TB) int {
	t.Helper()
	v := os.Getenv("REDIS_DB")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("REDIS_DB=%q: want a database number such as 0 or 15, or unset it for 0", v)
	}
	return n
}

// Prefix returns a key prefix unique to this test, "test:<name>:<random>:",
// and registers a cleanup that deletes every key starting with it from
// database DB(t) of the Redis at Addr(t), and no other key.
func Prefix(t testing.TB) string {
	t.Helper()
	a, db := Addr(t), DB(t)
	return prefix(t, func() redis.UniversalClient {
		return redis.NewClient(&redis.Options{Addr: a, DB: db, DisableIdentity: true})
	})
}

// Prefix is the package-level Prefix for the cluster: it returns a key
// prefix unique to this test and registers a cleanup that deletes every key
// starting with it from every master of c. The prefix has no hash tag, so
// keys under it spread over the slots unless the caller adds one, as in
// prefix+"{x}a".
func (c *Cluster) Prefix(t testing.TB) string {
	t.Helper()
	addrs := c.Addrs()
	return prefix(t, func() redis.UniversalClient {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DisableIdentity: true})
	})
}

// prefix makes the prefix and registers its cleanup, which opens its own
// client so that it does not depend on clients the test has closed.
func prefix(t testing.TB, dial func() redis.UniversalClient) string {
	t.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	p := "test:" + sanitize(t.Name()) + ":" + hex.EncodeToString(r[:]) + ":"
	t.Cleanup(func() {
		rc := dial()
		defer rc.Close()
		if err := deletePrefix(rc, p); err != nil {
			t.Errorf("redistest: delete the keys under %q: %v", p, err)
		}
	})
	return p
}

// sanitize keeps the letters, digits and "-_./" of a test name and turns
// everything else into "_", so the prefix holds no glob metacharacters
// (* ? [ ] \) for SCAN MATCH and no braces that would make a hash tag.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '-', r == '_', r == '.', r == '/':
			return r
		}
		return '_'
	}, name)
}

// deletePrefix SCANs each master for p* and UNLINKs what it finds, one key
// per command in pipelined batches, so no command spans two cluster slots.
// Each SCAN visits 10,000 keys: the test Redis may be a shared one holding
// many others (a benchmark's), which 100 at a time made 140 ms a test. It
// gives up after 10 seconds.
func deletePrefix(rc redis.UniversalClient, p string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	each := func(ctx context.Context, c *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, p+"*", 10000).Result()
			if err != nil {
				return fmt.Errorf("SCAN %s: %w", c.Options().Addr, err)
			}
			if len(keys) > 0 {
				pipe := c.Pipeline()
				for _, k := range keys {
					pipe.Unlink(ctx, k)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					return fmt.Errorf("UNLINK on %s: %w", c.Options().Addr, err)
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := rc.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, each)
	}
	return each(ctx, rc.(*redis.Client))
}
