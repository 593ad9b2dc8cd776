// Command proxy is the reverse proxy that the HTTP caching test suite
// cache-tests (github.com/http-tests/cache-tests) is run against: a Fiber
// app (v2, or v3 with -adapter v3) with fibercache in RFC 9111
// shared-cache mode in front of Fiber's own proxy middleware, which
// forwards every request to the suite's origin server. conformance/run.sh
// starts it; see conformance/README.md.
//
//	go run ./conformance/proxy -listen 127.0.0.1:8080 -origin http://127.0.0.1:8000 [-adapter v2|v3] [-redis 127.0.0.1:6379] [-prefix P]
//
// fiberv2.go builds the Fiber v2 app (fibercache's root module), fiberv3.go
// the Fiber v3 one (its fiberv3 module); the forwarding below them is
// fasthttp's, shared.
//
// It listens on, forwards to and stores in loopback addresses only.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/storage/redis/v3"
	"github.com/valyala/fasthttp"
)

// upstreamTimeout bounds one exchange with the origin. It is longer than the
// suite client's own 10 s per request, so the client gives up first, as it
// would in front of any other proxy, and longer than the origin's longest
// deliberate delay (5 s, test other-age-delay).
const upstreamTimeout = 15 * time.Second

// hiddenFlags are left out of -h: they exist for conformance/run.sh's
// IMPL=fiber comparison and for experiments, not for everyday use.
var hiddenFlags = map[string]bool{"impl": true, "fiber-expiration": true, "fiber-config": true}

type options struct {
	listen, origin, redis, prefix, impl string
	adapter                             string
	fiberConfig                         string
	fiberExpiration                     time.Duration
}

// proxyApp is the proxy's Fiber app, in either Fiber.
type proxyApp interface {
	// Listener serves on ln until Shutdown.
	Listener(ln net.Listener) error
	// Shutdown stops serving, waiting up to 5 s for requests in flight.
	Shutdown() error
	// Test serves req in process (Fiber's app.Test, 5 s at most).
	Test(req *http.Request) (*http.Response, error)
}

// newApp builds the proxy in o.adapter's Fiber: hop-by-hop request fields
// dropped, then the cache under test, then Fiber's proxy middleware
// forwarding to the origin (at originAddr) through newUpstream.
func newApp(o options, originAddr string, store *redis.Storage) proxyApp {
	if o.adapter == "v3" {
		return newAppV3(o, originAddr, store)
	}
	return newAppV2(o, originAddr, store)
}

// newUpstream is the client of both Fibers' proxy.Balancer: one upstream
// to the origin at originAddr.
func newUpstream(originAddr string) *fasthttp.LBClient {
	up := &upstream{hc: &fasthttp.HostClient{
		Addr:                      originAddr,
		NoDefaultUserAgentHeader:  true, // pass the client's User-Agent (or none) through
		DisablePathNormalizing:    true, // forward the path and query byte for byte
		MaxIdemponentCallAttempts: 1,    // never retry: the origin counts requests
		ReadTimeout:               upstreamTimeout,
		WriteTimeout:              upstreamTimeout,
		ReadBufferSize:            64 << 10,
		WriteBufferSize:           64 << 10,
	}}
	return &fasthttp.LBClient{
		Clients: []fasthttp.BalancingClient{up},
		Timeout: upstreamTimeout,
	}
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8080", "loopback `host:port` to listen on")
	flag.StringVar(&o.origin, "origin", "http://127.0.0.1:8000", "loopback origin `URL` to forward every request to")
	flag.StringVar(&o.redis, "redis", "", "store responses in the Redis at this loopback `host:port` (default: the in-process store)")
	flag.StringVar(&o.prefix, "prefix", "", "storage key `prefix` (default: unique per run, so runs never see each other's entries)")
	flag.StringVar(&o.adapter, "adapter", "v2", "Fiber major version of the app and of the cache under test: v2 (github.com/fiber-caches/cache) or v3 (github.com/fiber-caches/cache/fiberv3)")
	flag.StringVar(&o.impl, "impl", "fibercache", "cache under test: fibercache, fiber (Fiber's middleware/cache of -adapter's version) or none (forwarding only, to check the forwarding)")
	flag.StringVar(&o.fiberConfig, "fiber-config", "rfc", "with -impl fiber: rfc (lifetime from the response's Cache-Control/Expires, key with query) or plain (a fixed -fiber-expiration, key = path)")
	flag.DurationVar(&o.fiberExpiration, "fiber-expiration", time.Minute, "with -impl fiber: its Config.Expiration (whole seconds, at least 1s); with -fiber-config rfc, the longest lifetime")
	flag.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprintf(out, "usage: %s [flags]\n\nA Fiber (v2 or v3) reverse proxy with fibercache (shared-cache mode) in front, for the cache-tests suite.\n\n", os.Args[0])
		flag.VisitAll(func(f *flag.Flag) {
			if hiddenFlags[f.Name] {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(out, "  -%s %s\n    \t%s", f.Name, name, usage)
			if f.DefValue != "" {
				fmt.Fprintf(out, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments %q", flag.Args()))
	}
	if err := run(o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "conformance proxy: %v\n", err)
	os.Exit(1)
}

func run(o options) error {
	originAddr, err := checkOrigin(o.origin)
	if err != nil {
		return err
	}
	if err := checkLoopback("-listen", o.listen); err != nil {
		return err
	}
	if o.redis != "" {
		if err := checkLoopback("-redis", o.redis); err != nil {
			return err
		}
	}
	if o.adapter != "v2" && o.adapter != "v3" {
		return fmt.Errorf("-adapter %q: want v2 or v3", o.adapter)
	}
	if o.impl != "fibercache" && o.impl != "fiber" && o.impl != "none" {
		return fmt.Errorf("-impl %q: want fibercache, fiber or none", o.impl)
	}
	if o.fiberConfig != "rfc" && o.fiberConfig != "plain" {
		return fmt.Errorf("-fiber-config %q: want rfc or plain", o.fiberConfig)
	}
	if o.fiberExpiration < time.Second {
		return fmt.Errorf("-fiber-expiration %v: Fiber's cache needs at least 1s", o.fiberExpiration)
	}
	if o.prefix == "" {
		o.prefix = uniquePrefix()
	}

	var store *redis.Storage
	if o.redis != "" {
		if store, err = openRedis(o.redis); err != nil {
			return err
		}
		defer func() { _ = store.Close() }()
	}

	app := newApp(o, originAddr, store)

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("-listen %s: %w", o.listen, err)
	}
	storeName := "in-process store"
	if store != nil {
		storeName = "redis " + o.redis
	}
	fmt.Fprintf(os.Stderr, "conformance proxy: %s, Fiber %s (%s, key prefix %q) on http://%s -> %s\n", o.impl, o.adapter, storeName, o.prefix, ln.Addr(), o.origin)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()

	select {
	case err = <-served:
		if err != nil {
			err = fmt.Errorf("serving: %w", err)
		}
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "conformance proxy: shutting down")
		if serr := app.Shutdown(); serr != nil {
			err = fmt.Errorf("shutdown: %w", serr)
		}
	}
	if store != nil {
		n, cerr := dropKeys(store, o.prefix)
		if cerr != nil {
			fmt.Fprintf(os.Stderr, "conformance proxy: removing keys %q* from redis: %v\n", o.prefix, cerr)
		} else {
			fmt.Fprintf(os.Stderr, "conformance proxy: removed %d keys %q* from redis\n", n, o.prefix)
		}
	}
	return err
}

// responseLifetime is a shared cache's freshness lifetime of a response
// (RFC 9111 §4.2.1), 0 when it must not be reused without validation. With
// a lifetime of 0, Fiber's cache stores the entry already expired.
func responseLifetime(h *fasthttp.ResponseHeader, now time.Time) time.Duration {
	maxAge, sMaxAge := int64(-1), int64(-1)
	for _, d := range strings.Split(string(h.Peek(fasthttp.HeaderCacheControl)), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache", "private":
			return 0
		case "max-age", "s-maxage":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || n < 0 {
				return 0 // invalid: treat as stale
			}
			if strings.EqualFold(name, "s-maxage") {
				sMaxAge = n
			} else {
				maxAge = n
			}
		}
	}
	const maxSeconds = int64(1<<63-1) / int64(time.Second)
	switch {
	case sMaxAge >= 0:
		return time.Duration(min(sMaxAge, maxSeconds)) * time.Second
	case maxAge >= 0:
		return time.Duration(min(maxAge, maxSeconds)) * time.Second
	}
	if exp := h.Peek(fasthttp.HeaderExpires); len(exp) > 0 {
		t, err := http.ParseTime(string(exp))
		if err != nil {
			return 0 // invalid Expires: already expired
		}
		date := now
		if d, err := http.ParseTime(string(h.Peek(fasthttp.HeaderDate))); err == nil {
			date = d
		}
		return max(t.Sub(date), 0)
	}
	return 0
}

// upstreamError is a failed exchange with the origin: 502, not 500.
type upstreamError struct{ err error }

func (e upstreamError) Error() string { return "upstream: " + e.err.Error() }
func (e upstreamError) Unwrap() error { return e.err }

// upstream is the one server behind Fiber's proxy.Balancer. It makes the
// forwarding faithful where Fiber's proxy middleware and the fasthttp client
// are not, so that the cache under test sees the origin's response as the
// origin sent it:
//
//   - The fasthttp client resets the response it fills, which clears the
//     server's DisableDefaultDate: fasthttp would then replace the origin's
//     Date with the proxy's clock on every miss. The origin's response is
//     read into a separate fasthttp.Response and copied into Fiber's with
//     the server's settings kept.
//   - Fiber's proxy deletes the response's Connection field (and nothing
//     else hop-by-hop). Deleting it before the cache runs would hide from
//     the cache which fields Connection lists, which RFC 9111 §3.1 says it
//     must not store. So Connection travels past proxy.Balancer under
//     connectionCarrier and ModifyResponse puts it back; Keep-Alive, TE,
//     Upgrade, Proxy-Connection and the fields Connection lists reach the
//     cache untouched too. The suite's tests of those fields therefore
//     measure the cache, not this forwarding.
//   - fasthttp (v1.51 as v1.69) reads a 1xx interim response as if it were final and
//     leaves the final response unread on the connection. Each upstream
//     request is therefore sent with Connection: close (no connection is
//     reused, so no stale bytes reach another test), and an interim
//     response is answered with a 502 that says so.
//   - Framing is fasthttp's: the body is read whole (chunked or not) and
//     goes on with a Content-Length; Transfer-Encoding is not copied.
type upstream struct{ hc *fasthttp.HostClient }

// connectionCarrier carries the origin's Connection field past
// proxy.Balancer, which deletes Connection.
const connectionCarrier = "X-Conformance-Origin-Connection"

func (u *upstream) PendingRequests() int { return u.hc.PendingRequests() }

func (u *upstream) DoDeadline(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	in := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(in)

	req.SetConnectionClose()
	err := u.hc.DoDeadline(req, in, deadline)
	// The request is Fiber's own: leave the client's connection alone.
	req.Header.ResetConnectionClose()
	if err != nil {
		return upstreamError{err}
	}
	if in.StatusCode() < 200 {
		return upstreamError{fmt.Errorf("the origin sent an interim %d response; the fasthttp client reads it as final and cannot forward it", in.StatusCode())}
	}
	if err := copyResponse(resp, in); err != nil {
		return upstreamError{err}
	}
	return nil
}

// restoreConnection puts back the origin's Connection field that
// copyResponse set aside: the adapters' proxy.Balancer ModifyResponse.
func restoreConnection(h *fasthttp.ResponseHeader) {
	var vals [][]byte
	h.VisitAll(func(k, v []byte) {
		if bytes.EqualFold(k, []byte(connectionCarrier)) {
			vals = append(vals, append([]byte(nil), v...))
		}
	})
	if len(vals) == 0 {
		return
	}
	h.Del(connectionCarrier)
	for _, v := range vals {
		h.Add(fasthttp.HeaderConnection, string(v))
	}
}

// copyResponse writes in's status, header fields and body into resp. The
// header is re-parsed by fasthttp's own response parser into resp.Header,
// which keeps resp's server-side settings (no default Date, no default
// Content-Type) that Response.Reset would clear.
func copyResponse(resp, in *fasthttp.Response) error {
	status := in.StatusCode()
	b := make([]byte, 0, 1024)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, in.Header.StatusMessage()...)
	b = append(b, "\r\n"...)
	in.Header.VisitAll(func(k, v []byte) {
		switch {
		case bytes.EqualFold(k, []byte(fasthttp.HeaderContentLength)),
			bytes.EqualFold(k, []byte(fasthttp.HeaderTransferEncoding)):
			return // framing, below
		case bytes.EqualFold(k, []byte(fasthttp.HeaderConnection)):
			if bytes.EqualFold(v, []byte("close")) {
				return // the transport's: every upstream request asks for it
			}
			k = []byte(connectionCarrier)
		}
		b = append(b, k...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	})
	// The body has been read whole, so it goes on with a Content-Length.
	// A HEAD response keeps the origin's.
	if n := in.Header.ContentLength(); n >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, "\r\n"...)
	} else if status != fasthttp.StatusNoContent && status != fasthttp.StatusNotModified {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(in.Body())), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	if err := resp.Header.Read(bufio.NewReaderSize(bytes.NewReader(b), len(b)+64)); err != nil {
		return fmt.Errorf("copying the origin's response header: %w", err)
	}
	resp.SetBody(in.Body())
	return nil
}

// hopByHop returns the lower-case names of the fields a proxy must not
// forward (RFC 9110 §7.6.1), given the values of every Connection field in
// the message.
func hopByHop(connection [][]byte) map[string]bool {
	drop := map[string]bool{"connection": true, "keep-alive": true, "proxy-connection": true, "te": true, "transfer-encoding": true, "upgrade": true}
	for _, v := range connection {
		for _, tok := range strings.Split(string(v), ",") {
			if tok = strings.ToLower(strings.TrimSpace(tok)); tok != "" {
				drop[tok] = true
			}
		}
	}
	return drop
}

// targetKey is the Locals key of the request-target as received.
type targetKey struct{}

// dropHopByHop removes the request's connection-specific fields before
// anything else sees them (Fiber's proxy would delete only Connection, and
// forward the fields it lists), and returns a copy of the request-target as
// received, for the adapter's restoreTarget: once anything has parsed the
// request's URI (Fiber's router does), proxy.Balancer forwards the URI
// re-serialised from its normalised, decoded path (/a/%7E/../b would reach
// the origin as /b). Setting the target as received makes Balancer, and
// the fasthttp client (with DisablePathNormalizing), forward it byte for
// byte.
func dropHopByHop(req *fasthttp.Request) (target []byte) {
	target = append([]byte(nil), req.Header.RequestURI()...)
	h := &req.Header
	var connection [][]byte
	h.VisitAll(func(k, v []byte) {
		if bytes.EqualFold(k, []byte(fasthttp.HeaderConnection)) {
			connection = append(connection, append([]byte(nil), v...))
		}
	})
	drop := hopByHop(connection)
	// Connection itself and Transfer-Encoding (framing) are fasthttp's to
	// handle, and Fiber's proxy deletes Connection before forwarding.
	delete(drop, "connection")
	delete(drop, "transfer-encoding")
	var names []string
	h.VisitAll(func(k, _ []byte) {
		if drop[strings.ToLower(string(k))] {
			names = append(names, string(k))
		}
	})
	for _, n := range names {
		h.Del(n)
	}
	return target
}

// writeError answers err in resp: code (a 502 for an upstreamError,
// whatever code the adapter read from a *fiber.Error, else 500) and the
// error's text.
func writeError(resp *fasthttp.Response, code int, err error) {
	var ue upstreamError
	if errors.As(err, &ue) {
		code = fasthttp.StatusBadGateway
	}
	resp.Reset()
	resp.SetStatusCode(code)
	resp.Header.SetContentType("text/plain; charset=utf-8")
	resp.SetBodyString(err.Error())
}

// checkOrigin validates -origin and returns its host:port.
func checkOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("-origin %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("-origin %q: want an http:// URL", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", fmt.Errorf("-origin %q: want scheme, host and port only; the request's path and query are forwarded as they are", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	if err := checkLoopback("-origin", addr); err != nil {
		return "", err
	}
	return addr, nil
}

// checkLoopback refuses any host:port whose host is not a loopback address:
// this program must only ever talk to the machine it runs on.
func checkLoopback(flagName, hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port: %w", flagName, hostport, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%s %q: bad port %q", flagName, hostport, port)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s %q: %q is not a loopback address; only 127.0.0.0/8, ::1 and localhost are allowed", flagName, hostport, host)
	}
	return nil
}

func uniquePrefix() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "conformance:" + strconv.FormatInt(time.Now().Unix(), 10) + "-" + hex.EncodeToString(r[:]) + ":"
}

// openRedis connects to the Redis at addr; redis.New panics when it cannot.
func openRedis(addr string) (s *redis.Storage, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("-redis %s: cannot connect: %v", addr, r)
		}
	}()
	return redis.New(redis.Config{Addrs: []string{addr}}), nil
}

// dropKeys deletes this run's keys (prefix*) from Redis, so a run leaves
// nothing behind; bounded in time and in SCAN rounds.
func dropKeys(s *redis.Storage, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn := s.Conn()
	n := 0
	var cursor uint64
	for round := 0; round < 10000; round++ {
		keys, next, err := conn.Scan(ctx, cursor, escapeGlob(prefix)+"*", 1000).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			if err := conn.Del(ctx, keys...).Err(); err != nil {
				return n, err
			}
			n += len(keys)
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
	return n, errors.New("gave up after 10000 SCAN rounds")
}

// escapeGlob quotes Redis glob metacharacters in s.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
