package core

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/memstore"
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
	// tags remembers, per entry (the hash of its key material), its tags
	// and their records' keys, so that a hit reads the tag records in the
	// same round trip as the entry. A stale memory costs one more round
	// trip, never a wrong answer.
	tags *otter.Cache[uint64, tagHint]
	seed maphash.Seed
}

// The scripts. A path record is "fc", version, kind, 8 bytes of
// generation (bytes 5 to 12 in Lua's 1-based strings), then the names.
var (
	// KEYS: path, entry[, lease]. ARGV: generation (8 bytes), entry,
	// entry TTL in ms (0: none), Vary names[, lease token, the note of
	// this store, lease life in ms]. Stores the entry and the names only
	// if the path's generation is still the given one, and keeps the path
	// record at least as long as the entry. Releases the lease, if given
	// (redislease.go). Returns 1 when stored.
	redisPut = redis.NewScript(`
local p = redis.call('GET', KEYS[1])
local stored = p and string.sub(p, 5, 12) == ARGV[1]
if KEYS[3] then
  local v = redis.call('GET', KEYS[3])
  if not v or v == ARGV[5] or v == '!' or string.byte(v, 1) == 61 then
    if stored then redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[7]) else redis.call('DEL', KEYS[3]) end
  end
end
if not stored then return 0 end
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

// The namespace record is the epoch (8 bytes) then the tag sequence in
// decimal; a tag record is "hard:soft", both in decimal. They share a hash
// tag, so each of these scripts runs on one Cluster slot.
var (
	// KEYS: namespace, tag records. ARGV: entry TTL in ms (0: none).
	// Creates each absent tag record at the current sequence (so a record
	// that was lost never brings back an entry stored before it was
	// written), keeps each at least as long as the entry, and returns the
	// namespace record and the tag records.
	redisTags = redis.NewScript(`
local ns = redis.call('GET', KEYS[1])
local seq = 0
if ns and #ns > 8 then seq = tonumber(string.sub(ns, 9)) or 0 end
local ttl = tonumber(ARGV[1])
local out = {ns or ''}
for i = 2, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if not v or not string.match(v, '^%d+:%d+$') then
    -- absent, or garbage: (re)created at the current sequence
    v = string.format('%d:0', seq)
    if ttl > 0 then redis.call('SET', KEYS[i], v, 'PX', ttl) else redis.call('SET', KEYS[i], v) end
  else
    local pttl = redis.call('PTTL', KEYS[i])
    if ttl == 0 then
      if pttl >= 0 then redis.call('PERSIST', KEYS[i]) end
    elseif pttl >= 0 and pttl < ttl then
      redis.call('PEXPIRE', KEYS[i], ttl)
    end
  end
  out[#out + 1] = v
end
return out`)

	// KEYS: namespace, tag records. ARGV: "1" for a soft invalidation,
	// the least TTL in ms of a record it writes, a fresh epoch (8 bytes)
	// should the namespace record be missing. Raises the sequence past
	// every one read before (and to at least the server's time in
	// microseconds, so that it keeps growing if the record is lost) and
	// writes it into each tag record, absent or not. Returns it.
	redisInvalidateTags = redis.NewScript(`
local ns = redis.call('GET', KEYS[1])
local epoch, seq = ARGV[3], 0
if ns and #ns > 8 then
  local s = tonumber(string.sub(ns, 9))
  if s then epoch, seq = string.sub(ns, 1, 8), s end
end
local t = redis.call('TIME')
seq = math.max(seq + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('SET', KEYS[1], epoch .. string.format('%d', seq))
local minttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  local hard, soft = 0, 0
  local v = redis.call('GET', KEYS[i])
  if v and string.match(v, '^%d+:%d+$') then
    local c = string.find(v, ':', 1, true)
    hard = tonumber(string.sub(v, 1, c - 1))
    soft = tonumber(string.sub(v, c + 1))
  end
  if ARGV[1] == '1' then soft = math.max(soft, seq) else hard = math.max(hard, seq) end
  local nv = string.format('%d:%d', hard, soft)
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl == -1 then
    redis.call('SET', KEYS[i], nv)
  elseif pttl >= minttl then
    redis.call('SET', KEYS[i], nv, 'KEEPTTL')
  else
    redis.call('SET', KEYS[i], nv, 'PX', minttl)
  end
end
return string.format('%d', seq)`)

	// KEYS: namespace. ARGV: a fresh epoch (8 bytes). Replaces the epoch,
	// keeping the sequence (raised to at least the server's time in
	// microseconds), which the tag records are compared with.
	redisBumpEpoch = redis.NewScript(`
local ns = redis.call('GET', KEYS[1])
local seq = 0
if ns and #ns > 8 then seq = tonumber(string.sub(ns, 9)) or 0 end
local t = redis.call('TIME')
seq = math.max(seq, tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('SET', KEYS[1], ARGV[1] .. string.format('%d', seq))
return 1`)
)

// redisScripts are loaded again when Redis does not know them.
var redisScripts = []*redis.Script{redisPut, redisInvalidate, redisTags, redisInvalidateTags, redisBumpEpoch}

// tagRecordMinTTL is the least a tag record written by an invalidation is
// kept: longer than any handler that read the tag before it may run
// (pendingPathTTL), so that its store finds the record.
const tagRecordMinTTL = pendingPathTTL + time.Minute

// newNamespace returns a fresh namespace record: a random epoch and a
// sequence of now, in microseconds.
func newNamespace(now time.Time) []byte {
	b := binary.LittleEndian.AppendUint64(make([]byte, 0, 28), memstore.NewGen())
	return strconv.AppendInt(b, now.UnixMicro(), 10)
}

// parseNamespace parses a namespace record.
func parseNamespace(v []byte) (epoch, seq uint64, ok bool) {
	if len(v) < 9 {
		return 0, 0, false
	}
	seq, ok = parseUint(v[8:])
	return binary.LittleEndian.Uint64(v[:8]), seq, ok
}

// pendingPathTTL is how long a path record created by a lookup lives
// before a store extends it. A handler that runs longer stores nothing
// (ReasonTooSlow): its record, and an invalidation made meanwhile, may be
// gone.
const pendingPathTTL = 5 * time.Minute

// tagHint is what redisBackend remembers of an entry's tags.
type tagHint struct {
	tags []string
	keys []string // the keys of their records
}

func newRedisBackend(c redis.UniversalClient, storage any, prefix string) (*redisBackend, error) {
	names, err := otter.New(&otter.Options[uint64, []string]{MaximumSize: 1 << 16})
	if err != nil {
		return nil, err
	}
	tags, err := otter.New(&otter.Options[uint64, tagHint]{MaximumSize: 1 << 16})
	if err != nil {
		return nil, err
	}
	return &redisBackend{s: newSharedKeys(prefix), c: c, storage: storage, names: names, tags: tags, seed: maphash.MakeSeed()}, nil
}

// rememberTags remembers the tags of the entry whose key material hashes
// to eh, and returns the keys of their records.
func (b *redisBackend) rememberTags(eh uint64, tags []string) []string {
	if hint, ok := b.tags.GetIfPresent(eh); ok && slices.Equal(hint.tags, tags) {
		return hint.keys
	}
	keys := b.tagKeys(tags)
	b.tags.Set(eh, tagHint{tags: tags, keys: keys})
	return keys
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
		for _, s := range redisScripts {
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
	eh := maphash.Bytes(b.seed, k.full())
	th, _ := b.tags.GetIfPresent(eh)
	var newPath []byte
	var path, ev interface{ Result() (string, error) }
	var epoch *redis.StatusCmd
	var tv *redis.SliceCmd
	// The namespace record is created when absent, with a random epoch,
	// never read as 0: an evicted one then makes every entry unusable
	// rather than bringing back those stored before the last bump.
	newNs := newNamespace(time.Now())
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
		epoch = p.SetArgs(ctx, b.s.epochKey(), newNs, redis.SetArgs{Mode: "NX", Get: true})
		if len(th.keys) > 0 {
			tv = p.MGet(ctx, th.keys...)
		}
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return redisVersionHint(err)
	}
	old, err := epoch.Result()
	switch {
	case errors.Is(err, redis.Nil):
		old = string(newNs)
	case err != nil:
		return err
	}
	ep, seq, ok := parseNamespace(stringBytes(old))
	if !ok {
		// Garbage: replace it. A fresh epoch invalidates everything, which
		// is safe; keeping the garbage would switch the cache off.
		if _, err := call(ctx, func() (string, error) { return b.c.Set(ctx, b.s.epochKey(), newNs, 0).Result() }); err != nil {
			return err
		}
		ep, seq, _ = parseNamespace(newNs)
	}
	res.epoch, res.seq = ep, seq
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
		eh, tv = maphash.Bytes(b.seed, k.full()), nil
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
	if decoded = verified(decoded, k); decoded != nil && len(decoded.Tags) > 0 {
		// The entry's tag records: read with it when its tags were
		// remembered, else in one more round trip (they live in the
		// namespace's slot, not the path's).
		var vs []any
		if tv != nil && slices.Equal(th.tags, decoded.Tags) {
			vs, err = tv.Result()
		} else {
			keys := b.rememberTags(eh, decoded.Tags)
			vs, err = call(ctx, func() ([]any, error) { return b.c.MGet(ctx, keys...).Result() })
		}
		if err != nil {
			return err
		}
		for i, v := range vs {
			if s, ok := v.(string); ok {
				res.tags[i] = parseTagRecord(stringBytes(s))
			}
		}
	}
	res.entry = decoded
	return nil
}

// tagKeys returns the keys of the records of tags.
func (b *redisBackend) tagKeys(tags []string) []string {
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = b.s.tagKey(t)
	}
	return keys
}

func (b *redisBackend) put(ctx context.Context, k *keys, e *entry.Entry, names []string) (bool, error) {
	sk := b.s.of(k)
	var gen [8]byte
	binary.LittleEndian.PutUint64(gen[:], e.Gen)
	ttl := int64(0)
	if e.KeepUntil != entry.Forever {
		ttl = max(time.Until(time.Unix(0, e.KeepUntil)).Milliseconds(), 1)
	}
	keys, args := []string{sk.path, sk.entry}, []any{gen[:], entry.Encode(e), ttl, strings.Join(names, ",")}
	l := leaseFromContext(ctx)
	if l != nil {
		keys, args = append(keys, l.key), append(args, l.token, leaseNote(e), l.life.Milliseconds())
	}
	var script, tags *redis.Cmd
	_, err := b.run(ctx, func(p redis.Pipeliner) {
		script = redisPut.EvalSha(ctx, p, keys, args...)
		tags = redisTags.EvalSha(ctx, p, append([]string{b.s.epochKey()}, b.rememberTags(maphash.Bytes(b.seed, k.full()), e.Tags)...), ttl)
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	n, err := script.Int64()
	if err != nil {
		return false, err
	}
	if l != nil {
		l.released = true
	}
	b.names.Set(maphash.Bytes(b.seed, k.path()), names)
	vs, err := tags.StringSlice()
	if err != nil || len(vs) != len(e.Tags)+1 {
		return false, err
	}
	ep, _, ok := parseNamespace(stringBytes(vs[0]))
	var st [entry.MaxTags]tagState
	for i, v := range vs[1:] {
		st[i] = parseTagRecord(stringBytes(v))
	}
	return n == 1 && ok && ep == e.Epoch && tagsValid(e, &st), nil
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
	_, err := b.run(ctx, func(p redis.Pipeliner) {
		redisBumpEpoch.EvalSha(ctx, p, []string{b.s.epochKey()}, binary.LittleEndian.AppendUint64(nil, memstore.NewGen()))
	})
	return err
}

func (b *redisBackend) invalidateTags(ctx context.Context, tags []string, soft bool) error {
	flag := "0"
	if soft {
		flag = "1"
	}
	_, err := b.run(ctx, func(p redis.Pipeliner) {
		redisInvalidateTags.EvalSha(ctx, p, append([]string{b.s.epochKey()}, b.tagKeys(tags)...),
			flag, tagRecordMinTTL.Milliseconds(), binary.LittleEndian.AppendUint64(nil, memstore.NewGen()))
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
