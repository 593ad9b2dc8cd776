package cache

import (
	"context"
	"errors"
	"slices"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/fiber-caches/cache/internal/memstore"
	"github.com/valyala/fasthttp"
)

// A backend keeps entries and path records: the in-process store, a Redis
// reached through its client, or any other fiber.Storage. NewCache wraps
// every shared one in guarded (guard.go), which bounds its calls, pauses
// it after a failure and keeps the invalidations that did not land: a
// backend itself does none of that.
//
// The protocol that keeps invalidations from being lost or undone, on every
// backend (see generation.go for the argument):
//   - a lookup that may lead to a store creates the path record, with a
//     fresh random generation, if it is absent, before any handler runs;
//   - an invalidation replaces the generation of an existing path record
//     with a fresh random one, and does nothing when there is none;
//   - an entry records the generation and epoch read before its handler
//     ran, and is only ever served while both are still current.
type backend interface {
	// lookup fills res: the path's generation and Vary names (creating the
	// record when create is set and it is absent), the namespace epoch,
	// and the entry stored for the request's values of those names,
	// verified against its whole key. It leaves the entry material in k.
	lookup(ctx context.Context, k *keys, h *fasthttp.RequestHeader, fold, create bool, res *lookupResult) error
	// put stores e under k's entry material if the path's generation is
	// still e.Gen, and adds names to the path's. It reports whether e is
	// stored with its generation and epoch still current.
	put(ctx context.Context, k *keys, e *entry.Entry, names []string) (bool, error)
	// drop removes e, found unusable for good (kept past KeepUntil).
	drop(ctx context.Context, k *keys, e *entry.Entry) error
	// invalidate gives the path a fresh generation, if it has a record.
	// (guarded returns nil for one it keeps to land later.)
	invalidate(ctx context.Context, pathMaterial []byte) error
	// bumpEpoch makes every entry of the namespace unusable (guarded:
	// nil when kept, as invalidate).
	bumpEpoch(ctx context.Context) error
	// identity tells two caches that share one backend apart from others,
	// so one invalidation is not sent twice to the same storage.
	identity() any
}

// lookupResult is what a lookup found.
type lookupResult struct {
	gen     uint64   // the path's generation; 0 when unknown
	names   []string // the request headers the path's responses vary on
	epoch   uint64
	entry   *entry.Entry
	created bool // the path record was created by this lookup
}

// memBackend is the default in-process store.
type memBackend struct{ s *memstore.Store }

func (b memBackend) lookup(_ context.Context, k *keys, h *fasthttp.RequestHeader, fold, create bool, res *lookupResult) error {
	p, created := b.s.PathHashed(k.path(), k.pathHash, create)
	if p == nil {
		k.variant(h, nil, fold)
		return nil
	}
	res.gen, res.names, res.created = p.Gen(), p.Names(), created
	res.epoch = b.s.Epoch()
	if !created {
		res.entry, _ = b.s.Entry(k.variant(h, res.names, fold))
	} else {
		k.variant(h, res.names, fold)
	}
	return nil
}

func (b memBackend) put(_ context.Context, k *keys, e *entry.Entry, names []string) (bool, error) {
	p, _ := b.s.Path(k.path(), false)
	if p == nil || p.Gen() != e.Gen {
		return false, nil
	}
	b.s.SetEntry(e, nil)
	p.AddNames(names)
	// An invalidation that came meanwhile left e unusable; say so, so that
	// no waiting request is handed it.
	return p.Gen() == e.Gen && b.s.Epoch() == e.Epoch, nil
}

func (b memBackend) drop(_ context.Context, _ *keys, e *entry.Entry) error {
	b.s.DeleteEntry(e)
	return nil
}

func (b memBackend) invalidate(_ context.Context, pathMaterial []byte) error {
	b.s.Invalidate(pathMaterial)
	return nil
}

func (b memBackend) bumpEpoch(context.Context) error { b.s.BumpEpoch(); return nil }
func (b memBackend) identity() any                   { return b.s }

// usable reports whether e may answer a request whose lookup found res:
// stored under the current generation and epoch, and not past KeepUntil.
func (res *lookupResult) usable(e *entry.Entry, now int64) bool {
	return e != nil && res.gen != 0 && e.Gen == res.gen && e.Epoch == res.epoch && now < e.KeepUntil
}

func sameNames(a, b []string) bool { return slices.Equal(a, b) }

// errCorrupt marks a stored value that did not decode.
var errCorrupt = entry.ErrCorrupt

func isCorrupt(err error) bool { return errors.Is(err, errCorrupt) }
