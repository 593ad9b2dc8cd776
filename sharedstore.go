package cache

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"time"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/fiber-caches/cache/internal/memstore"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// ctxStorage is a fiber.Storage whose calls take a context: the storage's
// own *WithContext methods when it has them (gofiber/storage's do), else
// the plain call, which then cannot be stopped.
type ctxStorage struct {
	s   fiber.Storage
	ctx interface {
		GetWithContext(ctx context.Context, key string) ([]byte, error)
		SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error
		DeleteWithContext(ctx context.Context, key string) error
	}
}

func newCtxStorage(s fiber.Storage) ctxStorage {
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
	// rewriting it later could undo an invalidation.
	pathTTL time.Duration
}

func (b *storageBackend) identity() any { return storageIdentity(b.c.s, b.s.prefix) }

// storageIdentity is the same for two caches on the same storage under the
// same prefix.
func storageIdentity(s fiber.Storage, prefix string) any {
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
	if err != nil {
		return 0, err
	}
	if len(v) == 0 {
		if !create {
			return 0, nil
		}
		g := memstore.NewGen()
		return g, b.c.set(ctx, b.s.epochKey(), binary.LittleEndian.AppendUint64(nil, g), 0)
	}
	if len(v) != 8 {
		if !create {
			return 0, nil
		}
		// Garbage: replace it. A fresh epoch invalidates everything, which
		// is safe; keeping the garbage would switch the cache off.
		g := memstore.NewGen()
		return g, b.c.set(ctx, b.s.epochKey(), binary.LittleEndian.AppendUint64(nil, g), 0)
	}
	return binary.LittleEndian.Uint64(v), nil
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
	res.entry = verified(e, k)
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
