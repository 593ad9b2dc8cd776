package redistest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/storage/redis/v3"
	goredis "github.com/redis/go-redis/v9"
)

func TestStartClusterNeedsThree(t *testing.T) {
	if c, err := StartCluster(2); err == nil {
		c.Stop()
		t.Fatal("StartCluster(2) succeeded")
	}
}

func TestStartClusterWithoutRedis(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	c, err := StartCluster(3)
	if err == nil {
		c.Stop()
		t.Fatal("StartCluster without redis-server on PATH succeeded")
	}
	if !strings.Contains(err.Error(), "install redis-server") {
		t.Fatalf("error %q does not say to install redis-server", err)
	}
}

func TestCluster(t *testing.T) {
	c := ClusterFor(t)
	if ClusterFor(t) != c {
		t.Fatal("ClusterFor started a second cluster")
	}
	if len(c.Addrs()) != 3 {
		t.Fatalf("Addrs = %q, want 3 nodes", c.Addrs())
	}
	ctx := context.Background()
	s := redis.New(redis.Config{Addrs: c.Addrs()})
	defer s.Close()
	cc, ok := s.Conn().(*goredis.ClusterClient)
	if !ok {
		t.Fatalf("storage.Conn() is a %T, want a *redis.ClusterClient", s.Conn())
	}

	var p string
	t.Run("keys", func(t *testing.T) {
		p = c.Prefix(t)
		nodes := map[string]bool{}
		for i := range 20 {
			k := fmt.Sprintf("%sk%d", p, i)
			if err := s.Set(k, []byte(k), time.Minute); err != nil {
				t.Fatalf("Set %s: %v", k, err)
			}
			if v, err := s.Get(k); err != nil || string(v) != k {
				t.Fatalf("Get %s = %q, %v", k, v, err)
			}
			m, err := cc.MasterForKey(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			nodes[m.Options().Addr] = true
		}
		if len(nodes) < 2 {
			t.Fatalf("20 keys all landed on %v; want several nodes", nodes)
		}

		// Two keys with the same hash tag share a slot, so one script may
		// touch both.
		lua := goredis.NewScript(`redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return redis.call('MGET', KEYS[1], KEYS[2])`)
		got, err := lua.Run(ctx, s.Conn(), []string{p + "{x}a", p + "{x}b"}, "1", "2").StringSlice()
		if err != nil || !slices.Equal(got, []string{"1", "2"}) {
			t.Fatalf("script on {x} keys = %q, %v; want [1 2]", got, err)
		}

		// RoundTrips on the ClusterClient: the script is loaded now.
		var rt RoundTrips
		cc.AddHook(&rt)
		if err := lua.Run(ctx, cc, []string{p + "{x}a", p + "{x}b"}, "3", "4").Err(); err != nil {
			t.Fatal(err)
		}
		if got, n := rt.Commands(), rt.Take(); n != 1 || !slices.Equal(got, []string{"evalsha"}) {
			t.Fatalf("a loaded script on the cluster: %d round trips %q, want 1 [evalsha]", n, got)
		}
	})

	// c.Prefix's cleanup emptied every master.
	for _, a := range c.Addrs() {
		n := goredis.NewClient(&goredis.Options{Addr: a})
		keys, err := scanAll(ctx, n, p+"*")
		n.Close()
		if err != nil || len(keys) != 0 {
			t.Fatalf("keys under %q left on %s after the cleanup: %q (%v)", p, a, keys, err)
		}
	}
}
