package main

// These tests need neither Node nor the cache-tests suite: they check the
// forwarding against an in-process loopback origin. The suite itself is run
// by conformance/run.sh, never by go test.

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:1", "127.9.9.9:80", "[::1]:6379", "localhost:8000"} {
		if err := checkLoopback("-x", ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.1:80", "192.168.1.1:6379", "example.com:80", "0.0.0.0:80", ":8080", "127.0.0.1", "127.0.0.1:http"} {
		if err := checkLoopback("-x", bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if _, err := checkOrigin("http://10.1.2.3:8000"); err == nil {
		t.Error("non-loopback origin accepted")
	}
}

// adapters are the Fibers the proxy runs in (-adapter).
var adapters = []string{"v2", "v3"}

// newTestProxy returns the proxy app, without a cache, in Fiber adapter,
// in front of h.
func newTestProxy(t *testing.T, adapter string, h http.HandlerFunc) func(*http.Request) *http.Response {
	return newTestCache(t, options{adapter: adapter, impl: "none", prefix: "test:"}, h)
}

// newTestCache returns the proxy app o describes in front of h.
func newTestCache(t *testing.T, o options, h http.HandlerFunc) func(*http.Request) *http.Response {
	origin := httptest.NewServer(h) // 127.0.0.1:0
	t.Cleanup(origin.Close)
	app := newApp(o, strings.TrimPrefix(origin.URL, "http://"), nil)
	return func(r *http.Request) *http.Response {
		resp, err := app.Test(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
}

func TestForwardsFaithfully(t *testing.T) {
	for _, adapter := range adapters {
		t.Run(adapter, func(t *testing.T) { testForwardsFaithfully(t, adapter) })
	}
}

func testForwardsFaithfully(t *testing.T, adapter string) {
	const date = "Mon, 01 Jan 2001 01:01:01 GMT"
	var seen *http.Request
	do := newTestProxy(t, adapter, func(w http.ResponseWriter, r *http.Request) {
		seen = r.Clone(r.Context())
		w.Header()["Date"] = []string{date}
		w.Header()["Connection"] = []string{"a"}
		w.Header()["A"] = []string{"1"}
		w.Header()["Multi"] = []string{"x", "y"}
		w.WriteHeader(299)
		_, _ = io.WriteString(w, "body")
	})
	req := httptest.NewRequest("M-SEARCH", "/p/%7E/../q?q=1&q=2", nil) // origin-form, as clients send to a reverse proxy
	req.Header.Set("Foo", " 1, 2 ")
	req.Header.Set("Connection", "Drop-Me")
	req.Header.Set("Drop-Me", "1")
	resp := do(req)

	if seen == nil {
		t.Fatal("the origin saw no request")
	}
	if seen.Method != "M-SEARCH" || seen.RequestURI != "/p/%7E/../q?q=1&q=2" || seen.Header.Get("Foo") != "1, 2" {
		t.Errorf("origin saw %s %s Foo=%q", seen.Method, seen.RequestURI, seen.Header.Get("Foo"))
	}
	if v := seen.Header.Get("Drop-Me"); v != "" {
		t.Errorf("a field listed in the request's Connection was forwarded: %q", v)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 299 || string(body) != "body" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Date"); got != date {
		t.Errorf("Date %q, want the origin's %q", got, date)
	}
	if got := resp.Header.Values("Multi"); len(got) != 2 {
		t.Errorf("Multi %q, want both lines", got)
	}
	// Without a cache, the origin's Connection and the field it lists come
	// through: the cache under test is the one to see and drop them.
	if resp.Header.Get("A") != "1" || resp.Header.Get(connectionCarrier) != "" {
		t.Errorf("A=%q carrier=%q", resp.Header.Get("A"), resp.Header.Get(connectionCarrier))
	}
}

func TestInterimResponseIs502(t *testing.T) {
	for _, adapter := range adapters {
		do := newTestProxy(t, adapter, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
		})
		if resp := do(httptest.NewRequest(http.MethodGet, "/", nil)); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s: got %d, want 502", adapter, resp.StatusCode)
		}
	}
}

// TestCaches checks that -impl fibercache and -impl fiber put a cache in
// front of the forwarding on either adapter: a fresh response is served
// from the cache the second time (the origin sees one request), with the
// origin's body and Date.
func TestCaches(t *testing.T) {
	for _, adapter := range adapters {
		for _, impl := range []string{"fibercache", "fiber"} {
			t.Run(adapter+"/"+impl, func(t *testing.T) {
				var runs atomic.Int64
				do := newTestCache(t, options{adapter: adapter, impl: impl, prefix: "test:", fiberConfig: "rfc", fiberExpiration: time.Minute},
					func(w http.ResponseWriter, _ *http.Request) {
						runs.Add(1)
						w.Header().Set("Cache-Control", "max-age=60")
						_, _ = io.WriteString(w, "body")
					})
				for i := range 2 {
					resp := do(httptest.NewRequest(http.MethodGet, "/c?q=1", nil))
					body, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != http.StatusOK || string(body) != "body" {
						t.Fatalf("request %d: got %d %q, want 200 \"body\"", i+1, resp.StatusCode, body)
					}
				}
				if n := runs.Load(); n != 1 {
					t.Errorf("the origin saw %d requests for one fresh URL, want 1 (the second served from the cache)", n)
				}
			})
		}
	}
}

func TestResponseLifetime(t *testing.T) {
	now := time.Date(2001, 1, 1, 1, 1, 1, 0, time.UTC)
	for _, c := range []struct {
		cc, expires, date string
		want              time.Duration
	}{
		{"", "", "", 0},
		{"max-age=60", "", "", time.Minute},
		{"max-age=60, s-maxage=5", "", "", 5 * time.Second},
		{"max-age=60, no-cache", "", "", 0},
		{"private, max-age=60", "", "", 0},
		{"max-age=-1", "", "", 0},
		{"", "Mon, 01 Jan 2001 01:02:01 GMT", "", time.Minute},
		{"", "Mon, 01 Jan 2001 01:02:01 GMT", "Mon, 01 Jan 2001 01:01:31 GMT", 30 * time.Second},
		{"", "0", "", 0},
	} {
		var h fasthttp.ResponseHeader
		if c.cc != "" {
			h.Set("Cache-Control", c.cc)
		}
		if c.expires != "" {
			h.Set("Expires", c.expires)
		}
		if c.date != "" {
			// Set drops Date (fasthttp manages it); parse it in instead.
			raw := "HTTP/1.1 200 OK\r\nDate: " + c.date + "\r\nExpires: " + c.expires + "\r\nContent-Length: 0\r\n\r\n"
			if err := h.Read(bufioReader(raw)); err != nil {
				t.Fatal(err)
			}
		}
		if got := responseLifetime(&h, now); got != c.want {
			t.Errorf("Cache-Control %q Expires %q Date %q: %v, want %v", c.cc, c.expires, c.date, got, c.want)
		}
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
