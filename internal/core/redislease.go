package core

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/redis/go-redis/v9"
)

// The fleet's lease on Redis (lease.go tells the protocol). Its key is the
// entry's with "l:" for "e:": one per entry key material, in the path's
// hash tag, so that the put script, which runs on the path's slot,
// releases it in the step that stores the entry. Its value is one of:
//
//	<token>           16 hex digits: a request runs the handler (PX: the lease's life, renewed)
//	=<gen><stored>    a note: an entry was stored a moment ago, under that generation, at that time (8 bytes each; PX: the lease's life)
//	!                 the last response could not be stored (PX: notStorableFor)
//
// Taking it cannot be folded into a hit's pipeline: it writes, and a hit
// writes nothing it can avoid. So a miss costs one more round trip (the
// take) between its lookup and its store.
var (
	// KEYS: lease. ARGV: a fresh token, the lease's life in ms. Takes the
	// lease when it is absent or holds a note. Returns {1, the note or
	// ""} when taken, {0, the value} when not.
	redisLeaseTake = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.byte(v, 1) ~= 61 then return {0, v} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, v or ''}`)

	// KEYS: lease. ARGV: token, the lease's life in ms. Extends the lease
	// if the token still holds it.
	redisLeaseRenew = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

	// KEYS: lease. ARGV: token, what to leave ("" for nothing), its life
	// in ms. Frees the lease if the token holds it, leaving the marker or
	// the note given.
	redisLeaseRelease = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) else redis.call('DEL', KEYS[1]) end
return 1`)
)

// The put script (redisPut) releases the lease a put carries: KEYS[3] the
// lease, ARGV[5] the token ("" when the put holds none), ARGV[6] the note
// of the entry (leaseNote), ARGV[7] the lease's life in ms. When the lease
// is free, held by the token, or holds a marker or a note, it leaves the
// note (or deletes it, when the put stored nothing); a lease another
// request holds is left alone.

// leaseNote is the note a store of e leaves on its lease.
func leaseNote(e *entry.Entry) []byte { return appendNote(make([]byte, 0, 17), e.Gen, e.Stored) }

// appendNote appends a note: "=", the generation and Stored, 8 bytes
// each.
func appendNote(b []byte, gen uint64, stored int64) []byte {
	b = append(b, '=')
	b = binary.LittleEndian.AppendUint64(b, gen)
	return binary.LittleEndian.AppendUint64(b, uint64(stored))
}

func (b *redisBackend) leaseFor(k *keys, life time.Duration) *lease {
	e := b.s.of(k).entry
	n := len(e) - len("e:") - 32 // the entry key ends with "e:" and 32 hex digits
	return &lease{key: e[:n] + "l:" + e[n+2:], life: life}
}

func (b *redisBackend) take(ctx context.Context, l *lease) (leaseState, error) {
	token := strconv.FormatUint(rand.Uint64()|1<<63, 16) // 16 hex digits
	v, err := call(ctx, func() ([]any, error) {
		return redisLeaseTake.Run(ctx, b.c, []string{l.key}, token, l.life.Milliseconds()).Slice()
	})
	if err != nil {
		return leaseHeld, err
	}
	taken, _ := v[0].(int64)
	prev, _ := v[1].(string)
	switch {
	case taken == 1:
		l.token, l.noted = token, note{}
		if len(prev) == 17 && prev[0] == '=' {
			l.noted = note{ok: true, gen: binary.LittleEndian.Uint64([]byte(prev[1:9])), stored: int64(binary.LittleEndian.Uint64([]byte(prev[9:])))}
		}
		return leaseTaken, nil
	case prev == "!":
		return leaseNotStorable, nil
	}
	return leaseHeld, nil
}

func (b *redisBackend) renew(ctx context.Context, l *lease) error {
	_, err := call(ctx, func() (any, error) {
		return redisLeaseRenew.Run(ctx, b.c, []string{l.key}, l.token, l.life.Milliseconds()).Result()
	})
	return err
}

func (b *redisBackend) release(ctx context.Context, l *lease, notStorable time.Duration) error {
	// The not-storable marker, or the note the take found: a store that
	// landed a moment ago stays noted for the requests that looked before
	// it.
	leave, life := []byte(nil), l.life
	switch {
	case notStorable > 0:
		leave, life = []byte("!"), notStorable
	case l.noted.ok:
		leave = appendNote(nil, l.noted.gen, l.noted.stored)
	}
	_, err := call(ctx, func() (any, error) {
		return redisLeaseRelease.Run(ctx, b.c, []string{l.key}, l.token, leave, life.Milliseconds()).Result()
	})
	return err
}
