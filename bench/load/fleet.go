package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fibercache "github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/bench/internal/setup"
	"github.com/valyala/fasthttp"
)

// fleetServers is the number of servers of the fleet phase.
const fleetServers = 3

// fleetHost is the Host header every request of the fleet phase carries,
// as behind a load balancer: the servers key it alike.
const fleetHost = "fleet.example"

// runFleet runs the fleet phase: three fibercache servers sharing Redis,
// o.conns connections spread over them, one hot URL with a TTL of
// o.fleetTTL, whose handler takes o.slowWork, for o.fleet, once with
// per-process coalescing (WithFleetCoalescing(false), WithEarlyRefresh(0):
// what every instance did before the fleet's) and once with the defaults.
func runFleet(o *options) error {
	fmt.Printf("\nfleet: %d servers sharing Redis, %d connections spread over them, one hot URL with a %v TTL, handler takes %v, %v each\n\n",
		fleetServers, o.conns, o.fleetTTL, o.slowWork, o.fleet)
	fmt.Println("| coalescing | requests | requests/s | p50 | p99 | p99.9 | max | handler runs | runs per TTL | waited for a run |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range []struct {
		name string
		opts []fibercache.Option
	}{
		{"per process", []fibercache.Option{fibercache.WithFleetCoalescing(false), fibercache.WithEarlyRefresh(0)}},
		{"fleet (default)", nil},
	} {
		r, err := fleetCase(o, c.name, c.opts)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		perTTL := float64(r.runs) / (r.elapsed.Seconds() / o.fleetTTL.Seconds())
		fmt.Printf("| %s | %d | %.0f | %v | %v | %v | %v | %d | %.1f | %d |\n", c.name, r.requests, r.rate, r.p50, r.p99, r.p999, r.max, r.runs, perTTL, r.notHits)
	}
	return nil
}

// fleetResult is what one configuration of the fleet phase measured.
type fleetResult struct {
	requests            int
	rate                float64
	p50, p99, p999, max time.Duration
	runs, notHits       int64
	elapsed             time.Duration
}

func fleetCase(o *options, name string, opts []fibercache.Option) (fleetResult, error) {
	opts = append([]fibercache.Option{fibercache.WithTTL(o.fleetTTL)}, opts...)
	servers := make([]*server, fleetServers)
	clients := make([]*fasthttp.HostClient, fleetServers)
	for i := range servers {
		s, err := startServerWith(o, setup.FibercacheRedis, o.slowWork, false, opts...)
		if err != nil {
			return fleetResult{}, err
		}
		defer s.stop()
		servers[i] = s
		clients[i] = &fasthttp.HostClient{Addr: s.addr, MaxConns: o.conns, ReadTimeout: o.timeout, WriteTimeout: o.timeout}
		defer clients[i].CloseIdleConnections()
	}
	path := fmt.Sprintf("/fleet/%s/%d/%s", runID, time.Now().UnixNano(), name)
	runs := func() (n int64) {
		for _, s := range servers {
			n += s.runs.Load()
		}
		return n
	}
	if _, err := fleetDo(clients[0], servers[0].addr, path, o.timeout); err != nil { // stores it
		return fleetResult{}, err
	}
	before := runs()
	var (
		wg      sync.WaitGroup
		budget  atomic.Int64
		notHits atomic.Int64
		errs    atomic.Int64
		first   atomic.Value
		lat     = make([][]time.Duration, o.conns)
	)
	budget.Store(int64(o.maxReqs))
	start := time.Now()
	deadline := start.Add(o.fleet)
	for i := range o.conns {
		lat[i] = make([]time.Duration, 0, min(o.maxReqs/o.conns+1, 1<<16))
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := i % fleetServers
			for budget.Add(-1) >= 0 {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				cs, err := fleetDo(clients[n], servers[n].addr, path, o.timeout)
				if err != nil {
					if errs.Add(1) == 1 {
						first.Store(err)
					}
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
				if !strings.HasPrefix(cs, "fibercache; hit") {
					notHits.Add(1) // a miss, or a request that waited for one (collapsed)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := errs.Load(); n > 0 {
		return fleetResult{}, fmt.Errorf("%d requests failed, the first with: %v", n, first.Load())
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return fleetResult{}, errors.New("no request completed")
	}
	at := func(q float64) time.Duration {
		return all[min(int(float64(len(all))*q), len(all)-1)].Round(time.Microsecond)
	}
	return fleetResult{
		requests: len(all),
		rate:     float64(len(all)) / elapsed.Seconds(),
		p50:      at(0.5), p99: at(0.99), p999: at(0.999), max: all[len(all)-1].Round(time.Microsecond),
		runs:    runs() - before,
		notHits: notHits.Load(),
		elapsed: elapsed,
	}, nil
}

// fleetDo sends one GET of path to the server at addr with the fleet's
// Host header and returns the response's Cache-Status.
func fleetDo(client *fasthttp.HostClient, addr, path string, timeout time.Duration) (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + path)
	req.UseHostHeader = true
	req.Header.SetHost(fleetHost)
	if err := client.DoTimeout(req, resp, timeout); err != nil {
		return "", err
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode())
	}
	return string(resp.Header.Peek("Cache-Status")), nil
}

// runPrivate runs the private phase: a hot URL whose handler answers
// Cache-Control: private (so nothing is stored), under o.conns
// connections, without a cache and through fibercache. Before
// hit-for-miss, fibercache queued such requests behind one another.
func runPrivate(o *options) error {
	fmt.Printf("\nprivate: one hot URL answered Cache-Control: private, %d connections, handler: JSON of 50 items + %v sleep, %v each\n\n", o.conns, o.work, o.duration)
	fmt.Println("| case | requests | requests/s | p50 | p99 | p50 vs raw | handler runs |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	var rawP50 time.Duration
	for _, impl := range []setup.Impl{setup.Raw, setup.FibercacheMem, setup.FibercacheRedis} {
		r, err := privateCase(o, impl)
		if err != nil {
			return fmt.Errorf("%s: %w", impl, err)
		}
		if impl == setup.Raw {
			rawP50 = r.p50
		}
		fmt.Printf("| %s | %d | %.0f | %v | %v | %.2fx | %d |\n", impl, r.requests, r.rate, r.p50, r.p99, float64(r.p50)/float64(rawP50), r.runs)
	}
	return nil
}

func privateCase(o *options, impl setup.Impl) (result, error) {
	srv, err := startServerWith(o, impl, o.work, true)
	if err != nil {
		return result{}, err
	}
	defer srv.stop()
	client := &fasthttp.HostClient{Addr: srv.addr, MaxConns: o.conns, ReadTimeout: o.timeout, WriteTimeout: o.timeout}
	defer client.CloseIdleConnections()
	url := "http://" + srv.addr + "/private/" + runID + "/" + string(impl)
	targets := []target{{client: client, url: url}}
	if _, err := drive(o, targets, o.warmup, nil); err != nil {
		return result{}, err
	}
	runs := srv.runs.Load()
	lat := make([][]time.Duration, o.conns)
	elapsed, err := drive(o, targets, o.duration, lat)
	if err != nil {
		return result{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return result{}, errors.New("no request completed")
	}
	return result{
		requests: len(all),
		rate:     float64(len(all)) / elapsed.Seconds(),
		p50:      all[len(all)/2].Round(time.Microsecond),
		p99:      all[len(all)*99/100].Round(time.Microsecond),
		runs:     srv.runs.Load() - runs,
	}, nil
}
