package redistest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// RoundTrips is a go-redis hook that counts round trips to Redis: each
// Process call (one command) and each ProcessPipeline call (a pipeline or
// transaction, however many commands it holds) is one. It also records the
// names of the commands sent, lower case as go-redis names them ("evalsha").
// Install it with client.AddHook(&rt); the zero value is ready and it is
// safe for concurrent use.
//
// The commands go-redis sends to set up each new connection (HELLO, AUTH,
// SELECT, READONLY, CLIENT SETNAME, CLIENT SETINFO, CLIENT
// MAINT_NOTIFICATIONS) are neither counted nor recorded, so counts do not
// depend on when the pool dials; the same commands sent by hand are skipped
// too.
type RoundTrips struct {
	n    atomic.Int64
	mu   sync.Mutex // guards cmds
	cmds []string
}

var _ redis.Hook = (*RoundTrips)(nil)

// Take returns the number of round trips since the last Take and resets
// it, together with the recorded command names.
func (r *RoundTrips) Take() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = nil
	return r.n.Swap(0)
}

// Commands returns the names of the commands sent since the last Take, in
// order, pipelined ones included. It does not reset them.
func (r *RoundTrips) Commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}

func (r *RoundTrips) record(cmds ...redis.Cmder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counted := false
	for _, c := range cmds {
		if !setup(c) {
			r.cmds = append(r.cmds, c.Name())
			counted = true
		}
	}
	if counted {
		r.n.Add(1)
	}
}

// setup reports whether c is one of the commands go-redis sends to set up
// a new connection.
func setup(c redis.Cmder) bool {
	switch c.Name() {
	case "hello", "auth", "select", "readonly":
		return true
	case "client":
		if args := c.Args(); len(args) > 1 {
			sub, _ := args[1].(string)
			switch strings.ToLower(sub) {
			case "setname", "setinfo", "maint_notifications":
				return true
			}
		}
	}
	return false
}

// DialHook implements redis.Hook; it passes dials through uncounted.
func (r *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook: one command is one round trip.
func (r *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.record(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook: one pipeline is one round trip.
func (r *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.record(cmds...)
		return next(ctx, cmds)
	}
}
