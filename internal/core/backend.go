package core

import (
	"context"
	"errors"
	"slices"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/memstore"
	"github.com/valyala/fasthttp"
)

// A backend keeps entries and path records: the in-process store, a Redis
// reached through its client, or any other fiber.Storage. NewCache wraps
// every shared one in guarded (guard.go), which bounds its calls, pauses
// it after a failure and keeps the invalidations that did not land: a
// backend itself does none of that.
//
// Every backend keeps the generation protocol (generation.go), and
// reports what it read in a lookupResult.
type backend interface {
	// lookup fills res: the path's generation and Vary names (creating the
	// record when create is set and it is absent), the namespace epoch and
	// sequence, the entry stored for the request's values of those names,
	// verified against its whole key, and the records of its tags. It
	// leaves the entry material in k.
	lookup(ctx context.Context, k *keys, h *fasthttp.RequestHeader, fold, create bool, res *lookupResult) error
	// put stores e under k's entry material if the path's generation is
	// still e.Gen, adds names to the path's, and creates (or keeps alive
	// as long as e) the records of e's tags. It reports whether e is
	// stored and valid. ctx may carry the fleet's lease of the entry
	// (leaseFromContext), which a leaser releases in the same step: a
	// backend that wraps another passes ctx on.
	put(ctx context.Context, k *keys, e *entry.Entry, names []string) (bool, error)
	// drop removes e, found unusable for good (kept past KeepUntil).
	drop(ctx context.Context, k *keys, e *entry.Entry) error
	// invalidate gives the path a fresh generation, if it has a record.
	// (guarded returns nil for one it keeps to land later.)
	invalidate(ctx context.Context, pathMaterial []byte) error
	// bumpEpoch makes every entry of the namespace unusable (guarded:
	// nil when kept, as invalidate).
	bumpEpoch(ctx context.Context) error
	// invalidateTags makes every entry carrying one of tags unusable, or
	// with soft stale (guarded: nil when kept, as invalidate).
	invalidateTags(ctx context.Context, tags []string, soft bool) error
	// identity tells two caches that share one backend apart from others,
	// so one invalidation is not sent twice to the same storage.
	identity() any
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
	res.epoch, res.seq = b.s.Epoch(), b.s.Seq()
	if created {
		k.variant(h, res.names, fold)
		return nil
	}
	e, tags := b.s.Entry(k.variant(h, res.names, fold))
	if e != nil && len(tags) != len(e.Tags) {
		return nil // not stored by put: treat as absent
	}
	res.entry = e
	for i, t := range tags {
		hard, soft, alive := t.State()
		res.tags[i] = tagState{hard: hard, soft: soft, ok: alive}
	}
	return nil
}

func (b memBackend) put(_ context.Context, k *keys, e *entry.Entry, names []string) (bool, error) {
	p, _ := b.s.Path(k.path(), false)
	if p == nil || p.Gen() != e.Gen {
		return false, nil
	}
	var tags []*memstore.Tag
	if len(e.Tags) > 0 {
		tags = make([]*memstore.Tag, len(e.Tags))
		for i, t := range e.Tags {
			tags[i] = b.s.Tag(t, true)
		}
	}
	b.s.SetEntry(e, tags)
	p.AddNames(names)
	// An invalidation that came meanwhile left e unusable; say so, so that
	// no waiting request is handed it.
	var st [entry.MaxTags]tagState
	for i, t := range tags {
		hard, soft, alive := t.State()
		st[i] = tagState{hard: hard, soft: soft, ok: alive}
	}
	return p.Gen() == e.Gen && b.s.Epoch() == e.Epoch && tagsValid(e, &st), nil
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

func (b memBackend) invalidateTags(_ context.Context, tags []string, soft bool) error {
	b.s.InvalidateTags(tags, soft)
	return nil
}
func (b memBackend) identity() any { return b.s }

func sameNames(a, b []string) bool { return slices.Equal(a, b) }

// errCorrupt marks a stored value that did not decode.
var errCorrupt = entry.ErrCorrupt

func isCorrupt(err error) bool { return errors.Is(err, errCorrupt) }
