package cache

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/fiber-caches/cache/internal/memstore"
	"github.com/gofiber/fiber/v2"
)

// store is where entries live: the in-process default keeps them decoded,
// any fiber.Storage gets them encoded.
type store interface {
	// get returns the entry under k, or nil when there is none. An error
	// wrapping entry.ErrCorrupt means the stored value did not decode.
	//
	// Keys are passed by value: a pointer passed through an interface
	// escapes, which would cost the hit path an allocation.
	get(k digest) (*entry.Entry, error)
	// set stores e under k. The entry's Expires says until when.
	set(k digest, e *entry.Entry) error
	del(k digest) error
}

// memStore adapts the in-process store.
type memStore struct{ s *memstore.Store }

func (m memStore) get(k digest) (*entry.Entry, error) { return m.s.Get(&k), nil }
func (m memStore) set(k digest, e *entry.Entry) error { m.s.Set(&k, e); return nil }
func (m memStore) del(k digest) error                 { m.s.Delete(&k); return nil }

// storageKeyVersion is part of every storage key, so a change of the key
// derivation or of the entry format never reads old values.
const storageKeyVersion = "v1:"

// fiberStore adapts a fiber.Storage.
type fiberStore struct {
	s      fiber.Storage
	prefix string
}

func (f fiberStore) key(k *digest) string {
	b := make([]byte, 0, len(f.prefix)+len(storageKeyVersion)+base64.RawURLEncoding.EncodedLen(len(k)))
	b = append(append(b, f.prefix...), storageKeyVersion...)
	return string(base64.RawURLEncoding.AppendEncode(b, k[:]))
}

func (f fiberStore) get(k digest) (*entry.Entry, error) {
	b, err := f.s.Get(f.key(&k))
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return entry.Decode(b)
}

func (f fiberStore) set(k digest, e *entry.Entry) error {
	var exp time.Duration
	if e.Expires != 0 {
		exp = time.Until(time.Unix(0, e.Expires))
		if exp < time.Second {
			// Storages count expiry in whole seconds and read 0 as forever.
			exp = time.Second
		}
	}
	return f.s.Set(f.key(&k), entry.Encode(e), exp)
}

func (f fiberStore) del(k digest) error { return f.s.Delete(f.key(&k)) }

// storagePause is how long a failed storage is left alone: requests are
// served by the handler, without the cache, instead of each waiting for the
// storage client's timeouts and retries.
const storagePause = time.Second

// errStoragePaused is returned while the storage is left alone.
var errStoragePaused = errors.New("fibercache: storage failed recently; skipped for a moment")

// loggedStore logs storage calls at LevelTrace and failures at Warn, turns
// undecodable values into misses that are deleted, and after a failure
// leaves the storage alone for storagePause.
type loggedStore struct {
	s         store
	log       logger
	pause     time.Duration // storagePause; shorter in tests
	pausedTil *atomic.Int64 // Unix nanoseconds
}

func (l loggedStore) paused() bool {
	t := l.pausedTil.Load()
	return t != 0 && time.Now().UnixNano() < t
}

func (l loggedStore) failed(op, what string, err error) {
	l.pausedTil.Store(time.Now().Add(l.pause).UnixNano())
	l.log.log(slog.LevelWarn, "storage_error", slog.String("op", op), slog.String("kind", what),
		slog.String("error", err.Error()), slog.Duration("pause", l.pause))
}

func (l loggedStore) get(k *digest, what string) *entry.Entry {
	if l.paused() {
		return nil
	}
	e, err := l.s.get(*k)
	switch {
	case errors.Is(err, entry.ErrCorrupt):
		l.log.log(slog.LevelWarn, "storage_value_corrupt", slog.String("kind", what), slog.String("error", err.Error()))
		if err := l.s.del(*k); err != nil {
			l.log.log(slog.LevelWarn, "storage_error", slog.String("op", "delete"), slog.String("error", err.Error()))
		}
		return nil
	case err != nil:
		l.failed("get", what, err)
		return nil
	}
	if l.log.enabled(LevelTrace) {
		l.log.log(LevelTrace, "storage_get", slog.String("kind", what), slog.String("key", shortKey(k)), slog.Bool("found", e != nil))
	}
	return e
}

func (l loggedStore) set(k *digest, e *entry.Entry, what string) error {
	if l.paused() {
		return errStoragePaused
	}
	err := l.s.set(*k, e)
	if err != nil {
		l.failed("set", what, err)
	} else if l.log.enabled(LevelTrace) {
		l.log.log(LevelTrace, "storage_set", slog.String("kind", what), slog.String("key", shortKey(k)))
	}
	return err
}

func (l loggedStore) del(k *digest, what string) error {
	if l.paused() {
		return errStoragePaused
	}
	err := l.s.del(*k)
	if err != nil {
		l.failed("delete", what, err)
	} else if l.log.enabled(LevelTrace) {
		l.log.log(LevelTrace, "storage_delete", slog.String("kind", what), slog.String("key", shortKey(k)))
	}
	return err
}

// shortKey shows enough of a digest to tell keys apart in logs.
func shortKey(k *digest) string { return base64.RawURLEncoding.EncodeToString(k[:9]) }
