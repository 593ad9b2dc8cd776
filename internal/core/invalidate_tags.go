package core

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// InvalidateTags makes every stored response carrying any of tags unusable
// (see Tag): in this cache, in every other cache of the process and on
// every instance sharing the storage, at once. It costs a constant number
// of storage operations per tag, whatever the number of entries that carry
// it: one script call on Redis, a write per tag elsewhere. A response whose
// handler started before the call returned is never served after it.
//
// An invalidation that cannot reach the storage now is kept and retried
// until it lands (meanwhile this instance serves none of the tag's
// entries), so it returns an error only for an invalid tag, naming it, in
// which case nothing is invalidated.
func (m *Cache) InvalidateTags(tags ...string) error {
	if err := checkTags("InvalidateTags", tags); err != nil {
		return err
	}
	m.invalidateTags(tags, false)
	return nil
}

// ExpireTags makes every stored response carrying any of tags stale
// instead of unusable (a soft purge, as Fastly and Varnish call it): it is
// then served as a stale response may be, under its stale-while-revalidate
// window or WithGrace, while one request refreshes it in the background,
// and otherwise not at all (a response with a validator is revalidated).
// Everything else is as InvalidateTags.
func (m *Cache) ExpireTags(tags ...string) error {
	if err := checkTags("ExpireTags", tags); err != nil {
		return err
	}
	m.invalidateTags(tags, true)
	return nil
}

// checkTags returns an error naming the first tag that is not valid.
func checkTags(op string, tags []string) error {
	for _, t := range tags {
		if !validUserTag(t) {
			return fmt.Errorf("fibercache: %s(%q): a tag is 1 to %d bytes of visible characters, without space, comma or control characters, and does not start with %q",
				op, t, MaxTagLength, tagPrefix)
		}
	}
	return nil
}

// invalidateTags invalidates tags (soft: makes them stale) in every cache
// of the process, one call per storage.
func (m *Cache) invalidateTags(tags []string, soft bool) {
	if len(tags) == 0 {
		return
	}
	for _, x := range everyCache(m) {
		x.invalidateOwnTags(tags, soft)
	}
	m.observe(EventInvalidation, ReasonNone)
	if m.log.enabled(slog.LevelDebug) {
		m.log.log(slog.LevelDebug, "invalidate", slog.String("tags", strings.Join(tags, " ")), slog.Bool("soft", soft))
	}
}

// invalidateOwnTags invalidates tags in m's own backend (the guard keeps
// what does not land).
func (m *Cache) invalidateOwnTags(tags []string, soft bool) {
	_ = m.b.invalidateTags(context.Background(), tags, soft)
}

// InvalidateTags invalidates the tags as Cache.InvalidateTags does.
func (h *CacheHelper) InvalidateTags(tags ...string) error { return h.m.InvalidateTags(tags...) }

// ExpireTags makes the tags stale as Cache.ExpireTags does.
func (h *CacheHelper) ExpireTags(tags ...string) error { return h.m.ExpireTags(tags...) }
