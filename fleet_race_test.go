package cache_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/testkit"
)

// --- the fleet's coalescing and invalidation (see the races section of
// invalidate_test.go) ---------------------------------------------------------
//
// L, on instance A, runs the handler for /r holding the fleet's lease; its
// handler read the data (v0) and is held. F, the same request on instance
// B, finds the lease held and waits for it (a fleet follower). I (a change
// of the data, then its invalidation, acknowledged) runs at each point of
// F's wait; then G, sent through A and through B right after the
// acknowledgment, must answer the changed data (through B, it may find
// F's flight in B's process), and so must F unless I came after F's last
// look at the store began; every request after them too.

// fleetTap is a go-redis hook that runs f before and after each round trip
// of the client it is added to (not the commands that set up a
// connection), with the commands.
type fleetTap struct {
	f atomic.Pointer[func(cmds []goredis.Cmder, after bool)]
}

func (h *fleetTap) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *fleetTap) run(cmds []goredis.Cmder, next func() error) error {
	f := h.f.Load()
	if f == nil || invRedisSetup(cmds) {
		return next()
	}
	(*f)(cmds, false)
	err := next()
	(*f)(cmds, true)
	return err
}

func (h *fleetTap) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		return h.run([]goredis.Cmder{cmd}, func() error { return next(ctx, cmd) })
	}
}

func (h *fleetTap) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		return h.run(cmds, func() error { return next(ctx, cmds) })
	}
}

// fleetLeaseCall reports whether cmds is one call of a lease script (its
// one key is a lease key), and whether it took the lease.
func fleetLeaseCall(cmds []goredis.Cmder) (lease, took bool) {
	if len(cmds) != 1 {
		return false, false
	}
	args := cmds[0].Args()
	if n := cmds[0].Name(); (n != "evalsha" && n != "eval") || len(args) < 4 {
		return false, false
	}
	if k, ok := args[3].(string); !ok || !strings.Contains(k, ":l:") {
		return false, false
	}
	c, ok := cmds[0].(*goredis.Cmd)
	if !ok {
		return true, false
	}
	v, err := c.Slice()
	if err != nil || len(v) != 2 {
		return true, false
	}
	n, _ := v[0].(int64)
	return true, n == 1
}

// fleetRacePoints are the points of F's wait at which I runs.
var fleetRacePoints = []string{
	"before-lookup",       // before F's first round trip
	"before-first-take",   // before F finds the lease held
	"while-leader-runs",   // after F found it held; L then stores, across I
	"after-leader-stored", // L stored and released the lease; F has not looked since
	"after-take",          // F took the lease L released, and has not looked yet
	"during-look-again",   // after the first round trip of F's look at the store after its take
	"after-look-again",    // F looked, and found L's entry: before it gives the lease back
}

// TestRedisInvalidate_RaceFleetFollower runs I at every point of a fleet
// follower's wait, for each way of invalidating, with and without Vary.
func TestRedisInvalidate_RaceFleetFollower(t *testing.T) {
	prefixes := invRedisPrefixes(t)
	for _, how := range invRaceHows {
		for _, vary := range []bool{false, true} {
			for _, p := range fleetRacePoints {
				t.Run(fmt.Sprintf("%s/vary=%v/%s", how, vary, p), func(t *testing.T) { fleetRace(t, prefixes(), how, vary, p) })
			}
		}
	}
}

func fleetRace(t *testing.T, prefix, how string, vary bool, point string) {
	e := &invRaceEnv{how: how}
	sa, sb := testkit.Redis(t), testkit.Redis(t)
	tap := &fleetTap{}
	sb.Conn().AddHook(tap)
	opts := func(s fiber.Storage) []cache.Option {
		return []cache.Option{cache.WithStorage(s), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute)}
	}
	e.a = newInvRaceApp(t, vary, &e.version, opts(sa)...)
	e.b = newInvRaceApp(t, vary, &e.version, opts(sb)...) // F's instance, and I's
	// A request before L teaches the path's Vary names (its cookies', and
	// with vary Accept-Language), so that F and a request after it key
	// alike.
	lang := ""
	if vary {
		lang = "en"
		invWait(t, invGo(e.a.app, "fr"), "a request before L")
	} else {
		testkit.Do(t, e.a.app, fiber.MethodGet, "/r?before=1")
	}

	held, release := make(chan struct{}), make(chan struct{})
	hold := func() {
		close(held)
		select {
		case <-release:
		case <-time.After(invRaceTimeout):
			t.Errorf("L was never released")
		}
	}
	e.a.onRead.Store(&hold)
	resL := invGo(e.a.app, lang)
	invWait(t, held, "L's handler")

	var (
		fired, inI   atomic.Bool
		released     atomic.Bool
		leaseCalls   atomic.Int64
		took         atomic.Bool
		afterTake    atomic.Int64 // F's round trips since its take
		firstHeld    = make(chan bool, 1)
		gRes         = make(chan (<-chan string), 1)
		gbRes        = make(chan (<-chan string), 1)
		errs         = make(chan string, 4)
		lAnswer      = make(chan string, 1)
		lAnswerTaken atomic.Bool
	)
	trigger := func() {
		if !fired.CompareAndSwap(false, true) {
			return
		}
		e.version.Add(1)
		inI.Store(true) // I's own round trips through B are not F's
		if err := e.invalidate(); err != nil {
			errs <- err.Error()
		}
		inI.Store(false)
		gRes <- invGo(e.a.app, lang)
		for len(e.b.coalesced) > 0 {
			<-e.b.coalesced // F's
		}
		gbRes <- invGo(e.b.app, lang) // may find F's flight, in F's process
		if point == "after-look-again" {
			// F holds what its look found; give G through B the time to
			// join F's flight, were it still taking followers.
			select {
			case <-e.b.coalesced:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	releaseL := func(wait bool) {
		if released.CompareAndSwap(false, true) {
			close(release)
		}
		if wait && lAnswerTaken.CompareAndSwap(false, true) {
			lAnswer <- invWait(t, resL, "L") // L stored and released the lease
		}
	}
	f := func(cmds []goredis.Cmder, after bool) {
		if inI.Load() {
			return
		}
		lease, takes := fleetLeaseCall(cmds)
		switch {
		case !after && !lease && leaseCalls.Load() == 0 && point == "before-lookup":
			trigger()
		case !after && lease && leaseCalls.Load() == 0 && point == "before-first-take":
			trigger()
		case after && lease && leaseCalls.Add(1) == 1:
			firstHeld <- !takes
			switch point {
			case "while-leader-runs":
				trigger()
				releaseL(false)
			case "after-leader-stored":
				releaseL(true)
				trigger()
			case "after-take", "during-look-again", "after-look-again":
				releaseL(true)
			default:
				releaseL(false)
			}
		case after && lease && takes:
			took.Store(true)
			if point == "after-take" {
				trigger()
			}
		case after && !lease && took.Load() && afterTake.Add(1) == 1 && point == "during-look-again":
			trigger()
		case !after && lease && took.Load() && point == "after-look-again":
			trigger()
		}
	}
	tap.f.Store(&f)
	resF := invGo(e.b.app, lang)
	fAnswer := invWait(t, resF, "F")
	tap.f.Store(nil)
	releaseL(false)
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	require.True(t, invWait(t, firstHeld, "F's first take"), "F found the lease held by L")
	require.True(t, fired.Load(), "F never reached %s", point)
	if !lAnswerTaken.Load() {
		lAnswer <- invWait(t, resL, "L")
	}
	require.Equal(t, e.a.body(0, lang), <-lAnswer, "L answers what its handler read")
	want := e.version.Load()
	if point == "during-look-again" || point == "after-look-again" {
		require.Contains(t, []string{e.a.body(want-1, lang), e.a.body(want, lang)}, fAnswer, "F's own answer")
	} else {
		require.Equal(t, e.a.body(want, lang), fAnswer, "F waited across the invalidation: it is answered by a run that started after it")
	}
	g := invWait(t, invWait(t, gRes, "G to be sent"), "G")
	require.Equal(t, e.a.body(want, lang), g, "G was sent after the invalidation was acknowledged")
	gb := invWait(t, invWait(t, gbRes, "G through B to be sent"), "G through B")
	require.Equal(t, e.a.body(want, lang), gb, "G through B was sent after the invalidation was acknowledged")
	also := []string(nil)
	if vary {
		also = []string{"fr"}
	}
	invRaceAfter(t, e, invRaceScenario{vary: vary, lang: lang, also: also}, fAnswer)
}
