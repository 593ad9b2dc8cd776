package core

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"
)

// nearBackend is the near tier (WithNearCache): an in-process copy of the
// Redis records a lookup reads (the path record, the entry, the namespace
// record, the entry's tag records) in front of the Redis fast path, kept
// coherent by Redis's client-side caching (nearstore.go) and asked, before
// it answers, whether it may (barrier.go). NewCache wraps it in the guard
// like any shared backend: guarded(near(redis)).
//
// A lookup the near tier can answer from live records makes no storage
// call (relaxed mode) or waits for one barrier round shared with every
// request waiting (strict mode). Otherwise (a near miss) it reads the
// records through rueidis, tracked, in one round trip that also fills the
// near tier, and answers from what it read, which Redis held after the
// request arrived. Whatever it cannot settle by itself (a path record to
// create, a value that does not decode, Vary names or tags it did not
// expect) goes to the Redis backend, which keeps every rule of its own.
// Stores, removals and invalidations go to the Redis backend, and drop
// the records they make old from this instance's near tier at once
// (dropLocal).
type nearBackend struct {
	inner   *redisBackend
	client  rueidis.Client
	cluster bool
	lag     time.Duration // 0: strict
	timeout time.Duration // the storage timeout: bounds a round
	m       *nearMap
	groups  []atomic.Pointer[barrierGroup] // by slot: one on a single node
	tags    []string                       // Cluster: a hash tag per slot, for barrier keys
	nsKey   string
	nsHash  uint64
	// identifyKey is read by identify: never sent.
	identifyKey string
	t0          time.Time // mono's origin
	log         logger

	off      atomic.Bool
	stop     chan struct{}
	beatNow  chan struct{} // relaxed: asks the heartbeat for a round now
	wg       sync.WaitGroup
	once     sync.Once // close
	haltOnce sync.Once

	// For tests: a function run before and after each tracked read (false
	// in Flight, true in Update or Cancel), and a delay applied to every
	// invalidation push.
	testHook  atomic.Pointer[func(after bool)]
	testDelay atomic.Int64
}

// newNearBackend puts a near tier of maxMemory bytes in front of inner,
// whose go-redis client is c. It returns an error when the near tier
// cannot be had (c's options cannot be carried over, Redis cannot track
// keys), which says why.
func newNearBackend(inner *redisBackend, c redis.UniversalClient, maxMemory int, lag, timeout time.Duration, log logger) (*nearBackend, error) {
	n := &nearBackend{inner: inner, lag: lag, timeout: timeout, m: newNearMap(maxMemory), nsKey: inner.s.epochKey(), t0: time.Now(), log: log, stop: make(chan struct{}), beatNow: make(chan struct{}, 1)}
	n.nsHash = nearHash(n.m.seed, nearKindNamespace, stringBytes(n.nsKey))
	n.identifyKey = inner.s.ns + identifySuffix[1:]
	opt, cluster, err := nearClientOption(c, n.newStore)
	if err != nil {
		return nil, err
	}
	n.cluster = cluster
	if cluster {
		n.groups = make([]atomic.Pointer[barrierGroup], 16384)
		n.tags = slotTags()
	} else {
		n.groups = make([]atomic.Pointer[barrierGroup], 1)
	}
	n.client, err = rueidis.NewClient(opt)
	switch {
	case err != nil && nearTrackingRefused(err):
		if n.client != nil {
			n.client.Close()
		}
		return nil, errNearOff{nearRefusal(err)}
	case err != nil && n.client == nil:
		return nil, errNearOff{"the near cache's client could not reach Redis: " + err.Error()}
	case err != nil:
		// A single node not reachable now: rueidis connects when asked.
		log.log(slog.LevelWarn, "near_cache_unreachable", slog.String("error", err.Error()),
			slog.String("detail", "the near cache connects when Redis answers; until then lookups read Redis"))
	}
	if lag > 0 {
		n.wg.Add(1)
		go n.heartbeat()
	}
	return n, nil
}

// newStore makes the store of a new connection. On a single node a new
// connection means the previous one is gone (rueidis replaces its one
// connection only when it broke): its records die now, whether or not its
// Close has run yet.
func (n *nearBackend) newStore(rueidis.CacheStoreOption) rueidis.CacheStore {
	s := &nearStore{n: n}
	if !n.cluster {
		n.m.clear(func(r *nearRecord) bool { return r.owner != s })
	}
	return s
}

// nearHash is the index hash of a record of kind named by b.
func nearHash(seed maphash.Seed, kind uint8, b []byte) uint64 {
	return maphash.Bytes(seed, b) ^ uint64(kind)*0x9e3779b97f4a7c15
}

func nearHashString(seed maphash.Seed, kind uint8, s string) uint64 {
	return maphash.String(seed, s) ^ uint64(kind)*0x9e3779b97f4a7c15
}

// nearUsed lists the records a near answer is made of.
type nearUsed struct {
	recs [3 + entry.MaxTags]*nearRecord
	n    int
}

func (u *nearUsed) add(r *nearRecord) {
	u.recs[u.n] = r
	u.n++
}

// lookupLocal answers from the near tier without a storage call of its
// own. Relaxed: from live records a recent round vouches for, at once.
// Strict: from live records, once a barrier round sent after the request
// arrived has returned (one round for every request waiting; it is bounded
// by the storage timeout). It reports whether it answered, and the error
// of a round that timed out, which the guard counts as the storage's
// failure. The guard tries it before anything else, and calls lookup only
// when it did not answer.
func (n *nearBackend) lookupLocal(k *keys, h *fasthttp.RequestHeader, fold bool, res *lookupResult) (bool, error) {
	if n.off.Load() {
		return false, nil
	}
	var u nearUsed
	if n.local(k, h, fold, res, &u) {
		if n.lag > 0 && n.vouched(&u) {
			return true, nil
		}
		if n.lag == 0 {
			ok, err := n.barrier(&u)
			if ok {
				return true, nil
			}
			if err != nil {
				*res = lookupResult{}
				return false, err
			}
		}
	}
	*res = lookupResult{}
	return false, nil
}

// lookup is a near miss (lookupLocal did not answer): it reads the
// records through rueidis, or through the Redis backend when the near tier
// is off.
func (n *nearBackend) lookup(ctx context.Context, k *keys, h *fasthttp.RequestHeader, fold, create bool, res *lookupResult) error {
	if n.off.Load() {
		return n.inner.lookup(ctx, k, h, fold, create, res)
	}
	return n.miss(ctx, k, h, fold, create, res)
}

// local fills res from live near records alone, and lists them in u; it
// reports whether it found every record a lookup reads (the path record,
// an entry stored for exactly k's material, the namespace record, the
// entry's tag records). Whether they may answer is for the caller to say.
func (n *nearBackend) local(k *keys, h *fasthttp.RequestHeader, fold bool, res *lookupResult, u *nearUsed) bool {
	m := n.m
	now := time.Now()
	nowMs, sec := now.UnixMilli(), now.Unix()
	path := k.path()
	pr := m.find(nearKindPath, nearHash(m.seed, nearKindPath, path), path)
	if pr == nil || !pr.usable(nowMs) {
		return false
	}
	pd := pr.decoded(nearKindPath)
	nr := m.find(nearKindNamespace, n.nsHash, stringBytes(n.nsKey))
	if pd.bad || nr == nil || !nr.usable(nowMs) {
		return false
	}
	nd := nr.decoded(nearKindNamespace)
	if nd.bad {
		return false
	}
	full := k.variant(h, pd.path.Names, fold)
	er := m.find(nearKindEntry, nearHash(m.seed, nearKindEntry, full), nil)
	if er == nil || !er.usable(nowMs) {
		return false
	}
	e := verified(er.decoded(nearKindEntry).e, k)
	if e == nil {
		return false
	}
	u.add(pr)
	u.add(nr)
	u.add(er)
	for i, t := range e.Tags {
		tr := m.find(nearKindTag, nearHashString(m.seed, nearKindTag, t), stringBytes(t))
		if tr == nil || !tr.usable(nowMs) {
			return false
		}
		td := tr.decoded(nearKindTag)
		if td.bad {
			return false
		}
		res.tags[i] = td.tag
		u.add(tr)
	}
	for _, r := range u.recs[:u.n] {
		if r.used.Load() != sec {
			r.used.Store(sec)
		}
	}
	res.gen, res.names, res.epoch, res.seq, res.entry = pd.path.Gen, pd.path.Names, nd.epoch, nd.seq, e
	return true
}

// vouched reports whether, in relaxed mode, the records in u may answer
// now: the last round that returned on each one's slot went through its
// connection and was sent less than the lag ago, and it is alive after
// that round returned.
func (n *nearBackend) vouched(u *nearUsed) bool {
	mono := n.mono()
	for _, r := range u.recs[:u.n] {
		g := n.group(r.slot)
		if n.cluster && mono-g.used.Load() > int64(n.lag)/4 {
			g.used.Store(mono)
		}
		if !g.confirmed(r, mono) {
			return false
		}
	}
	for _, r := range u.recs[:u.n] {
		if !r.alive() {
			return false
		}
	}
	return true
}

// barrier reports whether, in strict mode, the records in u may answer:
// it waits for a round sent from now on, on each of their slots, and
// checks that each record went through its slot's round's connection and
// is alive after the round returned. It returns the error of a round that
// timed out.
func (n *nearBackend) barrier(u *nearUsed) (bool, error) {
	var rounds [2]*nearRound
	var slots [2]uint16
	nr := 0
	for _, r := range u.recs[:u.n] {
		found := false
		for i := range nr {
			found = found || slots[i] == r.slot
		}
		if found {
			continue
		}
		if nr == len(slots) {
			return false, nil // the keys of a lookup live in two slots
		}
		slots[nr] = r.slot
		nr++
	}
	for i := range nr {
		rounds[i] = n.group(slots[i]).join(i == nr-1)
	}
	for _, rd := range rounds[:nr] {
		<-rd.done
		if rd.err != nil {
			if errors.Is(rd.err, context.DeadlineExceeded) {
				return false, rd.err
			}
			return false, nil
		}
	}
	for _, r := range u.recs[:u.n] {
		var rd *nearRound
		for i := range nr {
			if slots[i] == r.slot {
				rd = rounds[i]
			}
		}
		if rd.store != r.owner || !r.alive() {
			return false, nil
		}
	}
	return true, nil
}

// miss reads the records through rueidis, tracked (which fills the near
// tier), and answers from what it read; the Redis backend answers what
// this cannot settle.
func (n *nearBackend) miss(ctx context.Context, k *keys, h *fasthttp.RequestHeader, fold, create bool, res *lookupResult) error {
	b := n.inner
	fallback := func() error {
		*res = lookupResult{}
		return b.lookup(ctx, k, h, fold, create, res)
	}
	// The Vary names: a live near path record's, else the Redis backend's
	// memory of them.
	var hint []string
	path := k.path()
	if pr := n.m.find(nearKindPath, nearHash(n.m.seed, nearKindPath, path), path); pr != nil && !pr.decoded(nearKindPath).bad {
		hint = pr.decoded(nearKindPath).path.Names
	} else {
		hint, _ = b.names.GetIfPresent(maphash.Bytes(b.seed, path))
	}
	sk := b.s.of(keysWith(k, h, hint, fold))
	th, _ := b.tags.GetIfPresent(maphash.Bytes(b.seed, k.full()))
	get := func(key string) rueidis.CacheableTTL {
		return rueidis.CT(n.client.B().Get().Key(key).Cache(), time.Hour)
	}
	cmds := make([]rueidis.CacheableTTL, 0, 3+len(th.keys))
	cmds = append(cmds, get(sk.path), get(sk.entry), get(n.nsKey))
	for _, tk := range th.keys {
		cmds = append(cmds, get(tk))
	}
	rs := n.client.DoMultiCache(ctx, cmds...)
	vals := make([]string, len(rs))
	for i := range rs {
		v, err := rs[i].ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			n.failed(err)
			return fallback()
		}
		vals[i] = v
	}
	pv, ev, nsv := vals[0], vals[1], vals[2]
	if pv == "" {
		if create {
			return fallback() // the record is created there
		}
		return nil // no record, none created
	}
	p, err := entry.DecodePath(stringBytes(pv))
	epoch, seq, ok := parseNamespace(stringBytes(nsv))
	if err != nil || !ok || !sameNames(p.Names, hint) {
		return fallback() // garbage to heal, or Vary names to learn
	}
	res.gen, res.names, res.epoch, res.seq = p.Gen, p.Names, epoch, seq
	n.index(nearKindPath, nearHash(n.m.seed, nearKindPath, path), string(path), sk.path, pv, &nearDecoded{path: p})
	n.index(nearKindNamespace, n.nsHash, n.nsKey, n.nsKey, nsv, &nearDecoded{epoch: epoch, seq: seq})
	if ev == "" {
		return nil
	}
	decoded, err := entry.DecodeOwned(stringBytes(ev)) // a string: never written to
	if err != nil {
		return fallback() // it deletes what does not decode
	}
	e := verified(decoded, k)
	if e == nil {
		return nil
	}
	if len(e.Tags) > 0 && !slices.Equal(th.tags, e.Tags) {
		return fallback() // it reads the tag records, and remembers their keys
	}
	for i, t := range e.Tags {
		v := vals[3+i]
		if v == "" {
			continue // absent: the entry is unusable
		}
		res.tags[i] = parseTagRecord(stringBytes(v))
		if res.tags[i].ok {
			n.index(nearKindTag, nearHashString(n.m.seed, nearKindTag, t), t, th.keys[i], v, &nearDecoded{tag: res.tags[i]})
		}
	}
	res.entry = e
	n.index(nearKindEntry, nearHash(n.m.seed, nearKindEntry, k.full()), "", sk.entry, ev, &nearDecoded{e: decoded})
	return nil
}

// index files the live record of key, if the read just made filled one,
// for lookups to find.
func (n *nearBackend) index(kind uint8, h uint64, material, key, val string, d *nearDecoded) {
	if r := n.m.get(key); r != nil {
		n.m.index(kind, h, material, r, val, d)
	}
}

func (n *nearBackend) put(ctx context.Context, k *keys, e *entry.Entry, names []string) (bool, error) {
	ok, err := n.inner.put(ctx, k, e, names)
	sk := n.inner.s.of(k)
	n.dropLocal(sk.path, sk.entry)
	return ok, err
}

func (n *nearBackend) drop(ctx context.Context, k *keys, e *entry.Entry) error {
	err := n.inner.drop(ctx, k, e)
	n.dropLocal(n.inner.s.of(k).entry)
	return err
}

func (n *nearBackend) invalidate(ctx context.Context, pathMaterial []byte) error {
	err := n.inner.invalidate(ctx, pathMaterial)
	n.dropLocal(n.inner.s.pathKey(pathMaterial))
	return err
}

func (n *nearBackend) bumpEpoch(ctx context.Context) error {
	err := n.inner.bumpEpoch(ctx)
	n.dropLocal(n.nsKey)
	return err
}

func (n *nearBackend) invalidateTags(ctx context.Context, tags []string, soft bool) error {
	err := n.inner.invalidateTags(ctx, tags, soft)
	n.dropLocal(n.nsKey)
	n.dropLocal(n.inner.tagKeys(tags)...)
	return err
}

func (n *nearBackend) identity() any { return n.inner.identity() }

// dropLocal drops keys from the near tier for a write this instance made
// (an invalidation, whether it landed or was kept for later; a store; a
// removal), so that this instance answers what it wrote at once, without
// waiting for the write's push. Strict: their records die, which is all
// it takes: a read sent before the write may still bring back what the
// write replaced, but its push follows its reply on that connection, and a
// request waits for a round sent after it arrived. Relaxed: a request does
// not wait, so the keys are kept out of the near tier (nearMap.drop) until
// a round sent from now on has returned; the heartbeat sends one at once.
func (n *nearBackend) dropLocal(keys ...string) {
	if n.off.Load() {
		return
	}
	for _, key := range keys {
		if n.lag == 0 {
			n.m.delete(key)
			continue
		}
		g := n.group(n.slotOf(key))
		g.used.Store(n.mono())
		n.m.drop(key, g)
	}
	if n.lag > 0 {
		select {
		case n.beatNow <- struct{}{}:
		default:
		}
	}
}

// failed notes an error of the near tier's client: one that says Redis
// cannot track keys turns the near tier off.
func (n *nearBackend) failed(err error) {
	if nearTrackingRefused(err) {
		n.turnOff(nearRefusal(err))
	}
}

// turnOff turns the near tier off for good, with one warning: lookups go
// to the Redis backend, as without WithNearCache.
func (n *nearBackend) turnOff(why string) {
	if !n.off.CompareAndSwap(false, true) {
		return
	}
	n.log.log(slog.LevelWarn, "near_cache_off", slog.String("reason", why))
	n.m.clear(nil)
	n.halt()
	go n.client.Close() // the caller may be the heartbeat, or a request
}

// halt stops the heartbeat (without waiting for it).
func (n *nearBackend) halt() { n.haltOnce.Do(func() { close(n.stop) }) }

// close stops the heartbeat and the client; the records go.
func (n *nearBackend) close() {
	n.once.Do(func() {
		n.halt()
		n.wg.Wait()
		n.client.Close()
		n.m.clear(nil)
	})
}

// bytes reports the near tier's weight, as bounded by WithNearCache.
func (n *nearBackend) bytes() int64 { return n.m.bytes() }

// slotOf returns key's slot: its Cluster slot, or 0 on a single node.
func (n *nearBackend) slotOf(key string) uint16 {
	if !n.cluster {
		return 0
	}
	return keySlot(key)
}

// barrierKey names the key the rounds of slot read on a Cluster: nobody
// writes it.
func (n *nearBackend) barrierKey(slot uint16) string {
	if !n.cluster {
		return ""
	}
	return n.inner.s.prefix + keyVersion + ":{" + n.tags[slot] + "}" + barrierSuffix
}

// mono returns the time since the near tier started (monotonic).
func (n *nearBackend) mono() int64 { return int64(time.Since(n.t0)) }

func (n *nearBackend) hook(after bool) {
	if f := n.testHook.Load(); f != nil {
		(*f)(after)
	}
}

func (n *nearBackend) pushDelay() time.Duration { return time.Duration(n.testDelay.Load()) }
