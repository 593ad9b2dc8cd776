package core

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/memstore"
	"github.com/valyala/fasthttp"
)

// ctxStorage is a fiber.Storage whose calls take a context: the storage's
// own *WithContext methods when it has them (gofiber/storage's do), else
// the plain call, which then cannot be stopped.
type ctxStorage struct {
	s   Storage
	ctx interface {
		GetWithContext(ctx context.Context, key string) ([]byte, error)
		SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error
		DeleteWithContext(ctx context.Context, key string) error
	}
}

func newCtxStorage(s Storage) ctxStorage {
	cs := ctxStorage{s: s}
	cs.ctx, _ = s.(interface {
		GetWithContext(ctx context.Context, key string) ([]byte, error)
		SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error
		DeleteWithContext(ctx context.Context, key string) error
	})
	return cs
}

// call runs f, giving up when ctx is done: a storage without context
// methods may go on in the background, but the request does not wait.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("fibercache: storage call: %w", ctx.Err())
	}
}

func (s ctxStorage) get(ctx context.Context, key string) ([]byte, error) {
	if s.ctx != nil {
		return s.ctx.GetWithContext(ctx, key)
	}
	return call(ctx, func() ([]byte, error) { return s.s.Get(key) })
}

func (s ctxStorage) set(ctx context.Context, key string, val []byte, exp time.Duration) error {
	if s.ctx != nil {
		return s.ctx.SetWithContext(ctx, key, val, exp)
	}
	_, err := call(ctx, func() (struct{}, error) { return struct{}{}, s.s.Set(key, val, exp) })
	return err
}

func (s ctxStorage) del(ctx context.Context, key string) error {
	if s.ctx != nil {
		return s.ctx.DeleteWithContext(ctx, key)
	}
	_, err := call(ctx, func() (struct{}, error) { return struct{}{}, s.s.Delete(key) })
	return err
}

// storageBackend keeps records in any fiber.Storage, which offers neither
// atomic updates nor multi-key reads. So the path's generation lives alone
// in its record, written only with fresh values (at creation and by
// invalidations), and the learnt Vary names live in a record of their own
// that may be rewritten freely: losing a name there costs a miss, never a
// wrong answer. A hit reads the names, the entry, the generation and the
// epoch: four round trips, each bounded by WithStorageTimeout.
type storageBackend struct {
	s sharedKeys
	c ctxStorage
	// pathTTL is how long a path record is kept: as long as its entries
	// may be (0: forever). It is fixed when the record is written, since
	// rewriting it later could undo an invalidation. Tag records are kept
	// as long.
	pathTTL time.Duration
	// now is the cache's clock (Unix ns): the tag sequence of a storage
	// without atomic operations is time (generation.go); skew is
	// clockSkew (tests set another).
	now  func() int64
	skew time.Duration
	// creating serialises this process's creation of an absent epoch:
	// requests racing to create it would each write a random value, and
	// all but the last would store entries under an epoch that is gone.
	creating sync.Mutex
}

// clockSkew is how far apart the clocks of instances sharing a plain
// fiber.Storage may be for tag invalidations to keep their order: a
// lookup's sequence is its clock less clockSkew, and an invalidation
// writes its own clock (read-modify-write: two at once keep the larger).
// An entry whose tag was invalidated less than clockSkew before its
// lookup is therefore not stored (one more miss).
const clockSkew = time.Second

// clockSeq is the tag sequence of a plain storage at ns: microseconds.
func clockSeq(ns int64) uint64 { return uint64(max(ns/1e3, 1)) }

func (b *storageBackend) identity() any { return storageIdentity(b.c.s, b.s.prefix) }

// storageIdentity is the same for two caches on the same storage under the
// same prefix.
func storageIdentity(s Storage, prefix string) any {
	if reflect.TypeOf(s).Comparable() {
		return [2]any{s, prefix}
	}
	return nil
}

func (b *storageBackend) readPath(ctx context.Context, key string) (*entry.Path, error) {
	v, err := b.c.get(ctx, key)
	if err != nil || len(v) == 0 {
		return nil, err
	}
	return entry.DecodePath(v)
}

// epoch reads the namespace epoch; with create, an absent one is written
// with a random value first, so that it is never read as 0 (an evicted
// epoch then invalidates everything instead of reviving entries).
func (b *storageBackend) epoch(ctx context.Context, create bool) (uint64, error) {
	v, err := b.c.get(ctx, b.s.epochKey())
	if err != nil || len(v) == 8 {
		return epochValue(v), err
	}
	if !create {
		return 0, nil
	}
	// Absent, or garbage (replaced: a fresh epoch invalidates everything,
	// which is safe; keeping the garbage would switch the cache off). Read
	// again under the lock: another request of this process may have
	// written it meanwhile. Instances racing here cost each other a miss.
	b.creating.Lock()
	defer b.creating.Unlock()
	if v, err = b.c.get(ctx, b.s.epochKey()); err != nil || len(v) == 8 {
		return epochValue(v), err
	}
	g := memstore.NewGen()
	return g, b.c.set(ctx, b.s.epochKey(), binary.LittleEndian.AppendUint64(nil, g), 0)
}

// epochValue decodes an epoch record (0 when v is not one).
func epochValue(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

func (b *storageBackend) lookup(ctx context.Context, k *keys, h *fasthttp.RequestHeader, fold, create bool, res *lookupResult) error {
	tag := b.s.pathKey(k.path())
	namesKey := tag[:len(tag)-1] + "n"
	names, err := b.readPath(ctx, namesKey)
	if err != nil && !isCorrupt(err) {
		return err
	}
	if names != nil {
		res.names = names.Names
	}
	sk := b.s.of(keysWith(k, h, res.names, fold))
	p, err := b.readPath(ctx, sk.path)
	if err != nil && !isCorrupt(err) {
		return err
	}
	if p == nil { // absent, or not decoding: (re)written with a fresh generation
		if !create {
			return nil
		}
		p = &entry.Path{Gen: memstore.NewGen()}
		if err := b.c.set(ctx, sk.path, entry.EncodePath(p), b.pathTTL); err != nil {
			return err
		}
		res.created = true
	}
	res.gen = p.Gen
	res.seq = clockSeq(b.now() - int64(b.skew))
	if res.epoch, err = b.epoch(ctx, true); err != nil {
		return err
	}
	if res.created {
		return nil
	}
	v, err := b.c.get(ctx, sk.entry)
	if err != nil || len(v) == 0 {
		return err
	}
	e, err := entry.Decode(v)
	if err != nil {
		_ = b.c.del(ctx, sk.entry)
		return err
	}
	if e = verified(e, k); e == nil {
		return nil
	}
	if err := b.readTags(ctx, e, &res.tags); err != nil {
		return err
	}
	res.entry = e
	return nil
}

// readTag reads the record of a tag. A plain storage has no atomic
// operation to create one safely while an invalidation writes it, so its
// records are written by invalidations only, and an absent one means the
// tag was never invalidated (within the records' lifetime, which is that
// of the path records: as long as entries may be kept). One that does not
// parse is rewritten as invalidated now.
func (b *storageBackend) readTag(ctx context.Context, tag string) (tagState, error) {
	v, err := b.c.get(ctx, b.s.tagKey(tag))
	if err != nil {
		return tagState{}, err
	}
	if len(v) == 0 {
		return tagState{ok: true}, nil
	}
	if st := parseTagRecord(v); st.ok {
		return st, nil
	}
	// Garbage: what it held is lost, so it is rewritten as an
	// invalidation made now, which leaves no older entry usable.
	st := tagState{hard: clockSeq(b.now()), ok: true}
	return st, b.c.set(ctx, b.s.tagKey(tag), appendTagRecord(nil, st), b.pathTTL)
}

// readTags reads the records of e's tags into st.
func (b *storageBackend) readTags(ctx context.Context, e *entry.Entry, st *[entry.MaxTags]tagState) error {
	for i, t := range e.Tags {
		var err error
		if st[i], err = b.readTag(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// keysWith builds k's entry material for names and returns k.
func keysWith(k *keys, h *fasthttp.RequestHeader, names []string, fold bool) *keys {
	k.variant(h, names, fold)
	return k
}

// verified returns e if it was stored for exactly the material in k.
func verified(e *entry.Entry, k *keys) *entry.Entry {
	if e == nil || string(e.Key) != string(k.full()) {
		return nil
	}
	return e
}

func (b *storageBackend) put(ctx context.Context, k *keys, e *entry.Entry, names []string) (bool, error) {
	sk := b.s.of(k)
	if err := b.c.set(ctx, sk.entry, entry.Encode(e), ttlUntil(e.KeepUntil)); err != nil {
		return false, err
	}
	if !sameNames(names, k.learnt) {
		rec := entry.Path{Names: names}
		if err := b.c.set(ctx, sk.names, entry.EncodePath(&rec), b.pathTTL); err != nil {
			return false, err
		}
	}
	var st [entry.MaxTags]tagState
	if err := b.readTags(ctx, e, &st); err != nil || !tagsValid(e, &st) {
		return false, err
	}
	// No atomic check-and-set here: read the generation and the epoch
	// again. Either way a hit checks them, so an entry stored across an
	// invalidation is never served; this only decides whether requests
	// waiting for this one may be handed it.
	p, err := b.readPath(ctx, sk.path)
	if err != nil || p == nil || p.Gen != e.Gen {
		return false, err
	}
	ep, err := b.epoch(ctx, false)
	return err == nil && ep == e.Epoch, err
}

func (b *storageBackend) drop(ctx context.Context, k *keys, _ *entry.Entry) error {
	return b.c.del(ctx, b.s.of(k).entry)
}

func (b *storageBackend) invalidate(ctx context.Context, pathMaterial []byte) error {
	key := b.s.pathKey(pathMaterial)
	p, err := b.readPath(ctx, key)
	if err != nil && !isCorrupt(err) {
		return err
	}
	if p == nil && err == nil {
		return nil // no record: nothing stored, no handler running
	}
	return b.c.set(ctx, key, entry.EncodePath(&entry.Path{Gen: memstore.NewGen()}), b.pathTTL)
}

func (b *storageBackend) invalidateTags(ctx context.Context, tags []string, soft bool) error {
	// A microsecond past now: above the sequence of any lookup this
	// clock has read so far.
	seq := clockSeq(b.now()) + 1
	for _, t := range tags {
		st, err := b.readTag(ctx, t)
		if err != nil {
			return err
		}
		if !st.ok { // garbage: rewritten
			st = tagState{hard: seq, soft: seq}
		}
		if soft {
			st.soft = max(st.soft, seq)
		} else {
			st.hard = max(st.hard, seq)
		}
		if err := b.c.set(ctx, b.s.tagKey(t), appendTagRecord(nil, st), b.pathTTL); err != nil {
			return err
		}
	}
	return nil
}

func (b *storageBackend) bumpEpoch(ctx context.Context) error {
	return b.c.set(ctx, b.s.epochKey(), binary.LittleEndian.AppendUint64(nil, memstore.NewGen()), 0)
}

// ttlUntil returns the storage expiry of something kept until t (Unix ns;
// entry.Forever: 0, no expiry). Storages count whole seconds and read 0 as
// forever, so it is at least a second.
func ttlUntil(t int64) time.Duration {
	if t == entry.Forever {
		return 0
	}
	return max(time.Until(time.Unix(0, t)), time.Second)
}
