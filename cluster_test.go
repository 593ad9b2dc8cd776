package cache_test

// Issue 10: the Redis fast path on Redis Cluster. Every key of a path shares
// a hash tag, so the scripts that read and write several of them run on one
// node; the epoch key lives on whichever node its slot says.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/core/redistest"
)

// clusterSite is one instance of a service on the test cluster: its own
// client and cache, a GET /items/:id handler varying on Accept-Language
// that counts its runs per URL and language and answers the data version.
type clusterSite struct {
	m        *cache.Cache
	app      *fiber.App
	cl       *cxClient
	versions map[string]*atomic.Int64 // by path, shared by the instances
	runs     map[string]*atomic.Int64 // by path|language
}

func newClusterSite(t *testing.T, addrs []string, prefix string, versions map[string]*atomic.Int64) *clusterSite {
	t.Helper()
	s := redis.New(redis.Config{Addrs: addrs})
	t.Cleanup(func() { _ = s.Close() })
	_, isCluster := s.Conn().(*goredis.ClusterClient)
	require.True(t, isCluster, "redis.New with the cluster's addresses makes a cluster client")
	site := &clusterSite{versions: versions, runs: map[string]*atomic.Int64{}}
	for _, k := range []string{"/items/1|en", "/items/1|fr", "/items/2|en", "/items/2|fr"} {
		site.runs[k] = &atomic.Int64{}
	}
	site.m = cxCache(t, cache.WithStorage(s), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
	app := cxApp()
	site.app = app
	app.Use(site.m.Handler())
	app.Get("/items/:id", func(c *fiber.Ctx) error {
		lang := c.Get(fiber.HeaderAcceptLanguage)
		if n := site.runs[c.Path()+"|"+lang]; n != nil {
			n.Add(1)
		}
		c.Vary(fiber.HeaderAcceptLanguage)
		cache.Tag(c, "item:"+c.Params("id"), "items")
		return c.SendString(fmt.Sprintf("v%d %s %s", versions[c.Path()].Load(), c.Path(), lang))
	}).Name("item")
	app.Put("/items/:id", func(c *fiber.Ctx) error {
		versions[c.Path()].Add(1)
		return c.SendStatus(fiber.StatusNoContent)
	})
	site.cl = newCxClient(cxListen(t, app))
	site.cl.host = "example.com"
	return site
}

// get asserts that GET path in lang answers the current version, a hit or
// a miss as hit says, and returns nothing.
func (s *clusterSite) get(t *testing.T, path, lang string, hit bool) {
	t.Helper()
	before := s.runs[path+"|"+lang].Load()
	r := s.cl.must(t, fiber.MethodGet, path, fiber.HeaderAcceptLanguage+": "+lang)
	require.Equal(t, fmt.Sprintf("v%d %s %s", s.versions[path].Load(), path, lang), r.body)
	if hit {
		require.Equal(t, "hit", r.xCache, "GET %s [%s]: %s", path, lang, r.cacheStat)
		require.Equal(t, before, s.runs[path+"|"+lang].Load(), "GET %s [%s] ran the handler", path, lang)
	} else {
		require.Equal(t, "miss", r.xCache, "GET %s [%s]: %s", path, lang, r.cacheStat)
		require.Equal(t, before+1, s.runs[path+"|"+lang].Load(), "GET %s [%s] did not run the handler", path, lang)
	}
}

func TestCluster_MissHitVaryInvalidate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.ClusterFor(t)
	prefix := c.Prefix(t)
	versions := map[string]*atomic.Int64{"/items/1": {}, "/items/2": {}}
	a := newClusterSite(t, c.Addrs(), prefix, versions)
	b := newClusterSite(t, c.Addrs(), prefix, versions)

	for _, p := range []string{"/items/1", "/items/2"} {
		for _, lang := range []string{"en", "fr"} {
			a.get(t, p, lang, false)
			a.get(t, p, lang, true)
			b.get(t, p, lang, true) // B answers what A stored
		}
	}

	// The keys are spread over the cluster, those of one path on one node.
	keys := map[string]string{} // key → node
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	var mu sync.Mutex // ForEachMaster calls concurrently
	require.NoError(t, cc.ForEachMaster(t.Context(), func(ctx context.Context, n *goredis.Client) error {
		ks, err := n.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		defer mu.Unlock()
		for _, k := range ks {
			keys[k] = n.Options().Addr
		}
		return err
	}))
	tags := map[string]string{} // hash tag → node
	nsTag := ""
	for k, node := range keys {
		if strings.HasSuffix(k, ":epoch") || strings.Contains(k, ":t:") {
			// The namespace record and the tag records share a hash tag
			// of their own, on whichever node its slot says.
			tag := k[strings.IndexByte(k, '{') : strings.IndexByte(k, '}')+1]
			require.True(t, nsTag == "" || nsTag == tag, "the namespace record and the tag records share a slot: %s", k)
			nsTag = tag
			continue
		}
		open, end := strings.IndexByte(k, '{'), strings.IndexByte(k, '}')
		require.True(t, open >= 0 && end > open, "every key of a path has a hash tag: %s", k)
		tag := k[open : end+1]
		if prev, ok := tags[tag]; ok {
			require.Equal(t, prev, node, "the keys of one path on one node")
		}
		tags[tag] = node
	}
	require.Len(t, tags, 2, "one hash tag per path: %v", keys)

	// An invalidation through B reaches every variant stored by A, and
	// only its path.
	b.cl.must(t, fiber.MethodPut, "/items/1")
	for _, lang := range []string{"en", "fr"} {
		a.get(t, "/items/1", lang, false)
		a.get(t, "/items/1", lang, true)
		b.get(t, "/items/1", lang, true)
	}
	a.get(t, "/items/2", "en", true)
	b.get(t, "/items/2", "fr", true)
	require.NoError(t, a.m.InvalidateURL("http://example.com/items/2"))
	b.get(t, "/items/2", "fr", false)
	a.get(t, "/items/2", "fr", true)

	// Totals: every run accounted for.
	for k, n := range map[string]int64{"/items/1|en": 2, "/items/1|fr": 2, "/items/2|en": 1, "/items/2|fr": 1} {
		require.Equal(t, n, a.runs[k].Load(), "A's runs for %s", k)
	}
	require.EqualValues(t, 1, b.runs["/items/2|fr"].Load())
	require.Zero(t, b.runs["/items/1|en"].Load()+b.runs["/items/1|fr"].Load()+b.runs["/items/2|en"].Load())
}

// TestCluster_Tags: tag and route invalidations on Redis Cluster. The tag
// records share the namespace record's slot (one script bumps the sequence
// and writes them), while the paths they tag live on other nodes: a hit
// reads them there, and an invalidation through one instance reaches what
// the other stored, whatever node holds it.
func TestCluster_Tags(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.ClusterFor(t)
	prefix := c.Prefix(t)
	versions := map[string]*atomic.Int64{"/items/1": {}, "/items/2": {}}
	a := newClusterSite(t, c.Addrs(), prefix, versions)
	b := newClusterSite(t, c.Addrs(), prefix, versions)
	for _, p := range []string{"/items/1", "/items/2"} {
		a.get(t, p, "en", false)
		b.get(t, p, "en", true)
	}
	require.NoError(t, b.m.InvalidateTags("item:1"))
	a.get(t, "/items/1", "en", false)
	a.get(t, "/items/2", "en", true)
	require.NoError(t, a.m.InvalidateTags("items"))
	b.get(t, "/items/1", "en", false)
	b.get(t, "/items/2", "en", false)
	a.get(t, "/items/2", "en", true)
	require.NoError(t, a.m.InvalidateRoute(a.app, "http://example.com", "item", nil))
	b.get(t, "/items/1", "en", false)
	b.get(t, "/items/2", "en", false)

	// Where the records are: the namespace's slot, one node.
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	nodes := map[string]bool{}
	var mu sync.Mutex
	require.NoError(t, cc.ForEachMaster(t.Context(), func(ctx context.Context, n *goredis.Client) error {
		ks, err := n.Keys(ctx, prefix+"*:t:*").Result()
		mu.Lock()
		defer mu.Unlock()
		if len(ks) > 0 {
			nodes[n.Options().Addr] = true
		}
		return err
	}))
	require.Len(t, nodes, 1, "every tag record on the namespace record's node")
}
