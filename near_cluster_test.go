package cache_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
)

// TestNear_Cluster: near caches on Redis Cluster, strict (A) and relaxed
// (R), with B (no near cache) invalidating what they hold while their
// pushes are held back: as the cluster starts; after the slot of the path
// moved to another master (MIGRATE: clients get MOVED, the old master
// tells A and R as it deletes the keys it hands over); after the path's
// master was replaced by its replica (CLUSTER FAILOVER: the old master
// stays up, demoted, and the pushes of later writes come from the new
// one). A answers the new data at once, R within its lag, each time.
func TestNear_Cluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.ClusterFor(t)
	prefix := c.Prefix(t)
	ctx := context.Background()
	storage := func() nearStorage {
		s := redis.New(redis.Config{Addrs: c.Addrs()})
		t.Cleanup(func() { _ = s.Close() })
		_, ok := s.Conn().(*goredis.ClusterClient)
		require.True(t, ok)
		return s
	}
	var version atomic.Int64
	a := newNearSite(t, storage(), &version, cache.WithKeyPrefix(prefix), cache.WithNearCache(1<<20))
	r := newNearSite(t, storage(), &version, cache.WithKeyPrefix(prefix), cache.WithNearCache(1<<20), cache.WithNearCacheLag(100*time.Millisecond))
	r.lag = 100 * time.Millisecond
	b := newNearSite(t, storage(), &version, cache.WithKeyPrefix(prefix))
	require.True(t, cache.NearOn(a.cache))
	require.True(t, cache.NearOn(r.cache))

	check := func(step string) {
		t.Helper()
		t.Log(step)
		for _, s := range []*nearSite{a, r} {
			s.warmNear(t, "/n/1")
			cache.NearPushDelay(s.cache, 20*time.Millisecond)
		}
		testkit.Do(t, b.app, fiber.MethodPut, "/n/1")
		want := nearBody(version.Load(), "1")
		a.fresh(t, "/n/1", want)
		r.fresh(t, "/n/1", want)
		require.NoError(t, b.cache.InvalidateAll()) // the namespace record, in a slot of its own
		version.Add(1)
		want = nearBody(version.Load(), "1")
		a.fresh(t, "/n/1", want)
		r.fresh(t, "/n/1", want)
		for _, s := range []*nearSite{a, r} {
			cache.NearPushDelay(s.cache, 0)
		}
	}
	check("as started")

	// The slot of the path's records (its path record ends in ":p").
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	var pathKey string
	require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		keys, err := n.Keys(ctx, prefix+"*").Result()
		for _, k := range keys {
			if strings.HasSuffix(k, "}:p") {
				pathKey = k
			}
		}
		return err
	}))
	require.NotEmpty(t, pathKey)
	slot, err := cc.ClusterKeySlot(ctx, pathKey).Result()
	require.NoError(t, err)

	from, err := c.MasterOf(ctx, int(slot))
	require.NoError(t, err)
	masters, err := c.Masters(ctx)
	require.NoError(t, err)
	to := masters[0]
	if to == from {
		to = masters[1]
	}
	require.NoError(t, c.MoveSlot(ctx, int(slot), to))
	check("after the path's slot moved from " + from + " to " + to)

	replica, err := c.AddReplica(ctx, to)
	require.NoError(t, err)
	require.NoError(t, c.Failover(ctx, replica))
	check("after " + replica + " took over from " + to)
}
