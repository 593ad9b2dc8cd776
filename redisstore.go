package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"time"
	"unsafe"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/fiber-caches/cache/internal/memstore"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
)

// redisBackend keeps records in Redis through the client of a
// gofiber/storage/redis storage (its Conn method), so that what the generic
// fiber.Storage path does in several round trips takes one: a hit is one
// pipeline of three plain commands (the path record, created when absent
// by SET NX GET; the entry; the epoch), which costs Redis a fraction of
// what a script call does; a miss adds one script call that stores the
// entry only if the path's generation is unchanged; an invalidation is one
// script call. Every key of a path shares a hash tag, so it all runs on
// Redis Cluster. SET with both NX and GET needs Redis 7.0 or later.
type redisBackend struct {
	s       sharedKeys
	c       redis.UniversalClient
	storage any // the fiber.Storage, for identity
	// names remembers, per path, the Vary names last seen in its record,
	// so that a hit can name its variant in the same round trip. A stale
	// memory costs one more round trip, never a wrong answer.
	names *otter.Cache[uint64, []string]
	seed  maphash.Seed
}

// The scripts. A path record is "fc", version, kind, 8 bytes of
// generation (bytes 5 to 12 in Lua's 1-based strings), then the names.
var (
	// KEYS: path, entry. ARGV: generation (8 bytes), entry, entry TTL in
	// ms (0: none), Vary names. Stores the entry and the names only if the
	// path's generation is still the given one, and keeps the path record
	// at least as long as the entry. Returns 1 when stored.
	redisPut = redis.NewScript(`
local p = redis.call('GET', KEYS[1])
if not p or string.sub(p, 5, 12) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl) else redis.call('SET', KEYS[2], ARGV[2]) end
local np = string.sub(p, 1, 12) .. ARGV[4]
local pttl = redis.call('PTTL', KEYS[1])
if ttl == 0 then
  redis.call('SET', KEYS[1], np)
elseif pttl >= 0 and pttl < ttl then
  redis.call('SET', KEYS[1], np, 'PX', ttl)
else
  redis.call('SET', KEYS[1], np, 'KEEPTTL')
end
return 1`)

	// KEYS: path. ARGV: a new generation (8 bytes). Replaces the
	// generation of an existing path record; an absent one stays absent.
	redisInvalidate = redis.NewScript(`
local p = redis.call('GET', KEYS[1])
if not p then return 0 end
redis.call('SET', KEYS[1], string.sub(p, 1, 4) .. ARGV[1] .. string.sub(p, 13), 'KEEPTTL')
return 1`)
)

// pendingPathTTL is how long a path record created by a lookup lives
// before a store extends it. A handler that runs longer stores nothing
// (ReasonTooSlow): its record, and an invalidation made meanwhile, may be
// gone.
const pendingPathTTL = 5 * time.Minute

func newRedisBackend(c redis.UniversalClient, storage any, prefix string) (*redisBackend, error) {
	names, err := otter.New(&otter.Options[uint64, []string]{MaximumSize: 1 << 16})
	if err != nil {
		return nil, err
	}
	return &redisBackend{s: newSharedKeys(prefix), c: c, storage: storage, names: names, seed: maphash.MakeSeed()}, nil
}

func (b *redisBackend) identity() any { return [2]any{b.storage, b.s.prefix} }

// run runs cmds in one pipeline, loading the scripts once if Redis does
// not know them yet (a restart, a new node).
func (b *redisBackend) run(ctx context.Context, cmds func(p redis.Pipeliner)) ([]redis.Cmder, error) {
	for attempt := 0; ; attempt++ {
		// go-redis bounds a call by its own timeouts (seconds, retried),
		// not by ctx, unless the client has ContextTimeoutEnabled, which
		// gofiber/storage's does not: give up at ctx's deadline (call).
		res, err := call(ctx, func() ([]redis.Cmder, error) {
			return b.c.Pipelined(ctx, func(p redis.Pipeliner) error { cmds(p); return nil })
		})
		if err == nil || attempt > 0 || !redis.HasErrorPrefix(err, "NOSCRIPT") {
			return res, err
		}
		for _, s := range []*redis.Script{redisPut, redisInvalidate} {
			if _, err := call(ctx, func() (string, error) { return s.Load(ctx, b.c).Result() }); err != nil {
				return nil, err
			}
		}
	}
}

func (b *redisBackend) lookup(ctx context.Context, k *keys, h *fasthttp.RequestHeader, fold, create bool, res *lookupResult) error {
	ph := maphash.Bytes(b.seed, k.path())
	hint, _ := b.names.GetIfPresent(ph)
	sk := b.s.of(keysWith(k, h, hint, fold))
	var newPath []byte
	var path, ev interface{ Result() (string, error) }
	var epoch *redis.StatusCmd
	// The epoch is created with a random value when absent, never read as
	// 0: an evicted epoch then makes every entry unusable rather than
	// bringing back those stored before the last bump.
	newEpoch := binary.LittleEndian.AppendUint64(nil, memstore.NewGen())
	_, err := b.run(ctx, func(p redis.Pipeliner) {
		if create {
			// The record is created when absent, so that an invalidation
			// that comes while the handler runs has a generation to change;
			// GET returns the one that was there.
			newPath = entry.EncodePath(&entry.Path{Gen: memstore.NewGen()})
			path = p.SetArgs(ctx, sk.path, newPath, redis.SetArgs{Mode: "NX", Get: true, TTL: pendingPathTTL})
		} else {
			path = p.Get(ctx, sk.path)
		}
		ev = p.Get(ctx, sk.entry)
		epoch = p.SetArgs(ctx, b.s.epochKey(), newEpoch, redis.SetArgs{Mode: "NX", Get: true})
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return redisVersionHint(err)
	}
	old, err := epoch.Result()
	switch {
	case errors.Is(err, redis.Nil):
		old = string(newEpoch)
	case err != nil:
		return err
	}
	if len(old) != 8 {
		// Garbage: replace it. A fresh epoch invalidates everything, which
		// is safe; keeping the garbage would switch the cache off.
		if _, err := call(ctx, func() (string, error) { return b.c.Set(ctx, b.s.epochKey(), newEpoch, 0).Result() }); err != nil {
			return err
		}
		old = string(newEpoch)
	}
	res.epoch = binary.LittleEndian.Uint64([]byte(old))
	pv, err := path.Result()
	switch {
	case errors.Is(err, redis.Nil) && create:
		p, _ := entry.DecodePath(newPath)
		res.gen, res.created = p.Gen, true
		return nil // a new record: no entry can be usable under it
	case errors.Is(err, redis.Nil):
		return nil // no record, none created
	case err != nil:
		return err
	}
	p, err := entry.DecodePath(stringBytes(pv))
	if err != nil {
		if !create {
			return err
		}
		// A record that does not decode is replaced as an absent one is
		// created, with a fresh generation that no stored entry has; left
		// there, it would keep the path from being cached for good.
		newPath = entry.EncodePath(&entry.Path{Gen: memstore.NewGen()})
		if _, err := call(ctx, func() (string, error) { return b.c.Set(ctx, sk.path, newPath, pendingPathTTL).Result() }); err != nil {
			return err
		}
		p, _ = entry.DecodePath(newPath)
		res.gen, res.created = p.Gen, true
		return nil
	}
	res.gen, res.names = p.Gen, p.Names
	e, err := ev.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if !sameNames(p.Names, hint) {
		// The path's Vary names are not those remembered: name the variant
		// again and read it.
		b.names.Set(ph, p.Names)
		sk = b.s.of(keysWith(k, h, p.Names, fold))
		if e, err = call(ctx, func() (string, error) { return b.c.Get(ctx, sk.entry).Result() }); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	if e == "" {
		return nil
	}
	decoded, err := entry.DecodeOwned(stringBytes(e)) // a string: never written to
	if err != nil {
		_, _ = call(ctx, func() (int64, error) { return b.c.Del(ctx, sk.entry).Result() })
		return err
	}
	res.entry = verified(decoded, k)
	return nil
}

func decodeEpoch(cmd *redis.StringCmd) (uint64, error) {
	v, err := cmd.Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, nil
	case err != nil:
		return 0, err
	case len(v) != 8:
		return 0, errors.New("fibercache: the epoch record is not 8 bytes; delete it")
	}
	return binary.LittleEndian.Uint64(v), nil
}

func (b *redisBackend) put(ctx context.Context, k *keys, e *entry.Entry, names []string) (bool, error) {
	sk := b.s.of(k)
	var gen [8]byte
	binary.LittleEndian.PutUint64(gen[:], e.Gen)
	ttl := int64(0)
	if e.KeepUntil != entry.Forever {
		ttl = max(time.Until(time.Unix(0, e.KeepUntil)).Milliseconds(), 1)
	}
	var script *redis.Cmd
	var epoch *redis.StringCmd
	_, err := b.run(ctx, func(p redis.Pipeliner) {
		script = redisPut.EvalSha(ctx, p, []string{sk.path, sk.entry}, gen[:], entry.Encode(e), ttl, strings.Join(names, ","))
		epoch = p.Get(ctx, b.s.epochKey())
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	n, err := script.Int64()
	if err != nil {
		return false, err
	}
	b.names.Set(maphash.Bytes(b.seed, k.path()), names)
	ep, err := decodeEpoch(epoch)
	return n == 1 && err == nil && ep == e.Epoch, err
}

func (b *redisBackend) drop(ctx context.Context, k *keys, _ *entry.Entry) error {
	_, err := call(ctx, func() (int64, error) { return b.c.Del(ctx, b.s.of(k).entry).Result() })
	return err
}

func (b *redisBackend) invalidate(ctx context.Context, pathMaterial []byte) error {
	var gen [8]byte
	binary.LittleEndian.PutUint64(gen[:], memstore.NewGen())
	_, err := b.run(ctx, func(p redis.Pipeliner) {
		redisInvalidate.EvalSha(ctx, p, []string{b.s.pathKey(pathMaterial)}, gen[:])
	})
	return err
}

func (b *redisBackend) bumpEpoch(ctx context.Context) error {
	_, err := call(ctx, func() (string, error) {
		return b.c.Set(ctx, b.s.epochKey(), binary.LittleEndian.AppendUint64(nil, memstore.NewGen()), 0).Result()
	})
	return err
}

// redisVersionHint explains the error Redis before 7.0 gives to SET with
// both NX and GET, which every lookup sends.
func redisVersionHint(err error) error {
	if strings.Contains(err.Error(), "syntax error") {
		return fmt.Errorf("%w: the Redis fast path needs Redis 7.0 or later (SET with NX and GET); "+
			"upgrade Redis, or hide the storage's Conn method (cache.WithStorage(struct{ fiber.Storage }{s})) to use the plain fiber.Storage path", err)
	}
	return err
}

// stringBytes views s as bytes without copying; the result must not be
// modified (entry.Decode only reads it, and copies what it keeps).
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
