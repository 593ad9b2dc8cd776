// Command load drives fibercache and Fiber's own cache middleware, in
// Fiber v2 and in Fiber v3, over loopback HTTP with a closed-loop client,
// side by side with no cache at all, and prints requests per second, latency percentiles and, for the
// Redis cases, Redis commands per request (INFO commandstats, so exact
// only on a Redis of its own) per case as a markdown table. It then runs a
// stampede: many concurrent requests for one cold URL, counting how often
// the handler ran; the fleet phase: three servers sharing Redis under a
// steady load on one hot URL that expires every second, with per-process
// coalescing and with the fleet's; and the private phase: a hot URL
// answered Cache-Control: private, beside no cache.
//
//	go run ./bench/load [-duration 10s] [-conns 64] [-instances 3] [-cases raw,fibercache-mem,...] [-fleet 10s] [-private]
//
// -cases picks the cases (default: all of them, setup.Impls): raw,
// fibercache-mem, fibercache-redis, fibercache-near, fibercache-lag,
// fiber-mem, fiber-redis in Fiber v2; raw-v3, fibercache-v3-mem,
// fibercache-v3-redis, fiber-v3-mem, fiber-v3-redis in Fiber v3. A case's
// "vs raw" is against the raw case of its framework, when it ran before it.
// The stampede runs every cache of the chosen frameworks.
//
// With -instances n, each case runs n servers (n instances of the app,
// sharing Redis in the Redis cases), and the client spreads its
// connections over them.
//
// The handler behind every case does real work when it runs: it renders 50
// items as JSON and sleeps 2 ms, as a handler waiting on a database would.
// Servers listen on 127.0.0.1 only; Redis is REDIS_ADDR or 127.0.0.1:6379,
// else a throwaway redis-server. Every phase is bounded in time and in
// requests.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fibercache "github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/bench/internal/setup"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/valyala/fasthttp"
)

type options struct {
	duration  time.Duration
	warmup    time.Duration
	conns     int
	instances int
	maxReqs   int
	work      time.Duration
	timeout   time.Duration
	cases     []setup.Impl
	stampede  int
	slowWork  time.Duration
	redisAddr string
	fleet     time.Duration
	fleetTTL  time.Duration
	private   bool
}

func main() {
	var (
		o     options
		cases string
	)
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each case is measured")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "load before each measurement, not measured")
	flag.IntVar(&o.conns, "conns", 64, "concurrent connections, each sending its next request once the previous one is answered")
	flag.IntVar(&o.instances, "instances", 1, "servers (instances of the app) per case, sharing Redis; the connections are spread over them")
	flag.IntVar(&o.maxReqs, "max-requests", 3_000_000, "at most this many requests per case")
	flag.DurationVar(&o.work, "work", 2*time.Millisecond, "how long the handler sleeps, after rendering its JSON")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "timeout of one request")
	flag.StringVar(&cases, "cases", joinImpls(setup.Impls), "comma-separated cases to run")
	flag.IntVar(&o.stampede, "stampede", 200, "concurrent requests of the stampede (0: none)")
	flag.DurationVar(&o.slowWork, "stampede-work", 50*time.Millisecond, "how long the handler takes in the stampede")
	flag.DurationVar(&o.fleet, "fleet", 10*time.Second, "how long the fleet phase (3 servers sharing Redis, expiry under load) runs each configuration (0: none)")
	flag.DurationVar(&o.fleetTTL, "fleet-ttl", time.Second, "the TTL of the fleet phase's hot URL")
	flag.BoolVar(&o.private, "private", true, "run the private-URL phase (a hot URL answered Cache-Control: private)")
	flag.StringVar(&o.redisAddr, "redis", envOr("REDIS_ADDR", "127.0.0.1:6379"), "Redis address for the redis cases; if none answers, a throwaway redis-server is started")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (client and servers) to this file")
	flag.Parse()
	if o.conns < 1 || o.maxReqs < 1 || o.duration <= 0 || o.instances < 1 {
		fatal(errors.New("-conns, -instances, -max-requests and -duration must be positive"))
	}
	for _, name := range strings.Split(cases, ",") {
		impl := setup.Impl(strings.TrimSpace(name))
		if !slices.Contains(setup.Impls, impl) {
			fatal(fmt.Errorf("unknown case %q; cases: %s", name, joinImpls(setup.Impls)))
		}
		o.cases = append(o.cases, impl)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(&o); err != nil {
		pprof.StopCPUProfile()
		fatal(err)
	}
}

func run(o *options) error {
	if slices.ContainsFunc(o.cases, setup.Impl.UsesRedis) || o.stampede > 0 || o.fleet > 0 || o.private {
		stop, err := findRedis(o)
		if err != nil {
			return err
		}
		defer stop()
	}

	fmt.Printf("load: %d connections to %d instance(s), %v per case after %v of warm-up, handler: JSON of 50 items + %v sleep; GOMAXPROCS %d, client and servers share the machine\n\n",
		o.conns, o.instances, o.duration, o.warmup, o.work, runtime.GOMAXPROCS(0))
	fmt.Println("| case | requests | requests/s | vs raw | p50 | p99 | handler runs | Redis commands/request |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	// The rate without a cache, per framework (IsV3): what "vs raw"
	// divides by, once the raw case of the framework has run.
	rawRate := map[bool]float64{}
	for _, impl := range o.cases {
		r, err := loadCase(o, impl)
		if err != nil {
			return fmt.Errorf("%s: %w", impl, err)
		}
		if impl.IsRaw() {
			rawRate[impl.IsV3()] = r.rate
		}
		ratio := "–"
		if raw := rawRate[impl.IsV3()]; raw > 0 {
			ratio = fmt.Sprintf("%.1fx", r.rate/raw)
		}
		cmds := "–"
		if r.redisCmds >= 0 {
			cmds = fmt.Sprintf("%.3f", float64(r.redisCmds)/float64(r.requests))
		}
		fmt.Printf("| %s | %d | %.0f | %s | %v | %v | %d | %s |\n", impl, r.requests, r.rate, ratio, r.p50, r.p99, r.runs, cmds)
	}

	if o.stampede > 0 {
		fmt.Printf("\nstampede: %d concurrent requests for one cold URL, handler takes %v\n\n", o.stampede, o.slowWork)
		fmt.Println("| case | handler runs | slowest response |")
		fmt.Println("|---|---:|---:|")
		for _, impl := range setup.Caches {
			if !slices.ContainsFunc(o.cases, func(c setup.Impl) bool { return c.IsV3() == impl.IsV3() }) {
				continue // a framework none of -cases runs in
			}
			runs, slowest, err := stampede(o, impl)
			if err != nil {
				return fmt.Errorf("stampede %s: %w", impl, err)
			}
			fmt.Printf("| %s | %d | %v |\n", impl, runs, slowest.Round(time.Millisecond))
		}
	}
	if o.fleet > 0 {
		if err := runFleet(o); err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
	}
	if o.private {
		if err := runPrivate(o); err != nil {
			return fmt.Errorf("private: %w", err)
		}
	}
	return nil
}

// runID keeps this run's URLs, hence Redis keys, apart from earlier runs'.
var runID = strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36)

// item is what the handler renders.
type item struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Price float64  `json:"price"`
	Tags  []string `json:"tags"`
}

var items = func() []item {
	out := make([]item, 50)
	for i := range out {
		out[i] = item{ID: i, Name: "item " + strconv.Itoa(i), Price: float64(i) + 0.99, Tags: []string{"a", "b"}}
	}
	return out
}()

// server is one app listening on loopback.
type server struct {
	app  setup.App
	addr string
	runs atomic.Int64
	done chan error
}

func startServer(o *options, impl setup.Impl, work time.Duration) (*server, error) {
	return startServerWith(o, impl, work, false)
}

// startServerWith is startServer whose handler answers Cache-Control:
// private when private is set, with opts added to fibercache's options.
func startServerWith(o *options, impl setup.Impl, work time.Duration, private bool, opts ...fibercache.Option) (*server, error) {
	s := &server{done: make(chan error, 1)}
	app, err := setup.New(impl, o.redisAddr, func(ctx *fasthttp.RequestCtx) error {
		s.runs.Add(1)
		if private {
			ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "private")
		}
		body, err := json.Marshal(items) // as Fiber's c.JSON
		if err != nil {
			return err
		}
		ctx.Response.Header.SetContentType("application/json")
		ctx.Response.SetBodyRaw(body)
		time.Sleep(work)
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.app, s.addr = app, ln.Addr().String()
	go func() { s.done <- app.Listener(ln) }()
	return s, nil
}

func (s *server) stop() {
	_ = s.app.Shutdown()
	<-s.done
}

type result struct {
	requests  int
	rate      float64
	p50, p99  time.Duration
	runs      int64
	redisCmds int64 // commands Redis ran during the measurement; -1: no Redis
}

// target is one server as the client sees it.
type target struct {
	client *fasthttp.HostClient
	url    string
}

func loadCase(o *options, impl setup.Impl) (result, error) {
	var (
		servers []*server
		targets []target
	)
	defer func() {
		for _, t := range targets {
			t.client.CloseIdleConnections()
		}
		for _, s := range servers {
			s.stop()
		}
	}()
	path := "/load/" + runID + "/" + string(impl) + "/items"
	for i := range o.instances {
		srv, err := startServer(o, impl, o.work)
		if err != nil {
			return result{}, err
		}
		servers = append(servers, srv)
		t := target{client: &fasthttp.HostClient{Addr: srv.addr, MaxConns: o.conns, ReadTimeout: o.timeout, WriteTimeout: o.timeout}, url: "http://" + srv.addr + path}
		targets = append(targets, t)
		// An instance's first request stores the response (its in-process
		// store's, or the shared storage's for the first instance); the
		// next must be a hit.
		wants := []string{"miss", "hit"}
		if impl.UsesRedis() && i > 0 {
			wants = []string{"hit", "hit"}
		}
		for j, want := range wants {
			xc, err := get(t.client, t.url, o.timeout)
			if err != nil {
				return result{}, err
			}
			if !impl.IsRaw() && xc != want {
				return result{}, fmt.Errorf("instance %d, request %d: %s: %q, want %q", i+1, j+1, setup.CacheHeader, xc, want)
			}
		}
	}
	if _, err := drive(o, targets, o.warmup, nil); err != nil {
		return result{}, err
	}
	var runs int64
	for _, s := range servers {
		runs += s.runs.Load()
	}
	cmds0 := redisCommands(o, impl)
	lat := make([][]time.Duration, o.conns)
	elapsed, err := drive(o, targets, o.duration, lat)
	if err != nil {
		return result{}, err
	}
	cmds := int64(-1)
	if cmds0 >= 0 {
		cmds = redisCommands(o, impl) - cmds0 - 1 // less the INFO that read cmds0
	}
	for _, s := range servers {
		runs -= s.runs.Load()
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return result{}, errors.New("no request completed")
	}
	return result{
		requests:  len(all),
		rate:      float64(len(all)) / elapsed.Seconds(),
		p50:       all[len(all)/2].Round(time.Microsecond),
		p99:       all[len(all)*99/100].Round(time.Microsecond),
		runs:      -runs,
		redisCmds: cmds,
	}, nil
}

// redisCommands returns how many commands the Redis of the Redis cases has
// run (INFO commandstats), or -1 for a case without Redis or when it cannot
// be read.
func redisCommands(o *options, impl setup.Impl) int64 {
	if !impl.UsesRedis() {
		return -1
	}
	s, err := setup.Redis(o.redisAddr)
	if err != nil {
		return -1
	}
	defer s.Close()
	info, err := s.Conn().Info(context.Background(), "commandstats").Result()
	if err != nil {
		return -1
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		_, rest, ok := strings.Cut(line, ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		v, err := strconv.ParseInt(calls, 10, 64)
		if err == nil {
			n += v
		}
	}
	return n
}

// get sends one GET and returns the response's cache header.
func get(client *fasthttp.HostClient, url string, timeout time.Duration) (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	setHost(req)
	if err := client.DoTimeout(req, resp, timeout); err != nil {
		return "", err
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode())
	}
	return string(resp.Header.Peek(setup.CacheHeader)), nil
}

// setHost makes req name one site, whichever instance it goes to: the
// host is part of every cache's key.
func setHost(req *fasthttp.Request) {
	req.UseHostHeader = true
	req.Header.SetHost("load.example")
}

// drive sends requests from o.conns goroutines, goroutine i to
// targets[i%len(targets)], each sending its next request once the previous
// one is answered, for d or until o.maxReqs requests are answered. With lat
// non-nil, goroutine i records its latencies in lat[i]. It returns how long
// the load ran.
func drive(o *options, targets []target, d time.Duration, lat [][]time.Duration) (time.Duration, error) {
	var (
		wg     sync.WaitGroup
		budget atomic.Int64
		errs   atomic.Int64
		first  atomic.Value
	)
	budget.Store(int64(o.maxReqs))
	start := time.Now()
	deadline := start.Add(d)
	for i := range o.conns {
		if lat != nil {
			lat[i] = make([]time.Duration, 0, min(o.maxReqs/o.conns+1, 1<<16))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			t := targets[i%len(targets)]
			client := t.client
			req.SetRequestURI(t.url)
			setHost(req)
			for budget.Add(-1) >= 0 {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				err := client.DoDeadline(req, resp, t0.Add(o.timeout))
				if err == nil && resp.StatusCode() != fasthttp.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode())
				}
				if err != nil {
					if errs.Add(1) == 1 {
						first.Store(err)
					}
					continue
				}
				if lat != nil {
					lat[i] = append(lat[i], time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := errs.Load(); n > 0 {
		return elapsed, fmt.Errorf("%d requests failed, the first with: %v", n, first.Load())
	}
	return elapsed, nil
}

// stampede sends o.stampede concurrent requests for one URL that nothing
// has stored, to a handler that takes o.slowWork, and returns how often the
// handler ran and how long the slowest request took.
func stampede(o *options, impl setup.Impl) (int64, time.Duration, error) {
	srv, err := startServer(o, impl, o.slowWork)
	if err != nil {
		return 0, 0, err
	}
	defer srv.stop()
	client := &fasthttp.HostClient{Addr: srv.addr, MaxConns: o.stampede, ReadTimeout: o.timeout, WriteTimeout: o.timeout}
	defer client.CloseIdleConnections()
	url := "http://" + srv.addr + "/stampede/" + runID + "/" + string(impl)

	var (
		wg      sync.WaitGroup
		release = make(chan struct{})
		slowest atomic.Int64
		errs    = make(chan error, o.stampede)
	)
	for range o.stampede {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			t0 := time.Now()
			if _, err := get(client, url, o.timeout); err != nil {
				errs <- err
				return
			}
			d := int64(time.Since(t0))
			for cur := slowest.Load(); d > cur && !slowest.CompareAndSwap(cur, d); cur = slowest.Load() {
			}
		}()
	}
	close(release)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	return srv.runs.Load(), time.Duration(slowest.Load()), nil
}

// findRedis makes o.redisAddr a Redis that answers, starting a throwaway
// one if none does, and returns how to stop what it started.
func findRedis(o *options) (stop func(), err error) {
	if s, err := setup.Redis(o.redisAddr); err == nil {
		s.Close()
		return func() {}, nil
	}
	srv, err := redistest.Start()
	if err != nil {
		return nil, fmt.Errorf("no Redis on %s, and none could be started: %w", o.redisAddr, err)
	}
	fmt.Fprintf(os.Stderr, "load: no Redis on %s; started a throwaway redis-server on %s\n", o.redisAddr, srv.Addr)
	o.redisAddr = srv.Addr
	return srv.Stop, nil
}

func joinImpls(impls []setup.Impl) string {
	s := make([]string, len(impls))
	for i, impl := range impls {
		s[i] = string(impl)
	}
	return strings.Join(s, ",")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}
