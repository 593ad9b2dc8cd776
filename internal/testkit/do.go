package testkit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// Result is what a client sees of one response.
type Result struct {
	Status int
	Header http.Header
	Body   string
}

// Do sends one request through app (app.Test, without a timeout) and
// returns the response. Extra headers come as "Name: value", added in
// order. A failure to send or read fails the test.
func Do(t testing.TB, app *fiber.App, method, target string, headers ...string) Result {
	t.Helper()
	r, err := send(app, method, target, headers)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Burst sends n GETs of target through app and returns what each got, in
// order: the first alone, until started is closed (its handler has
// started), then the other n-1 at once. A failure to send or read fails
// the test.
func Burst(t testing.TB, app *fiber.App, n int, started <-chan struct{}, target string, headers ...string) []Result {
	t.Helper()
	out := make([]Result, n)
	var wg sync.WaitGroup
	get := func(i int) {
		defer wg.Done()
		r, err := send(app, fiber.MethodGet, target, headers)
		if err != nil {
			t.Error(err) // not Fatal: this is not the test's goroutine
		}
		out[i] = r
	}
	wg.Add(1)
	go get(0)
	<-started
	for i := 1; i < n; i++ {
		wg.Add(1)
		go get(i)
	}
	wg.Wait()
	return out
}

// send is Do, returning the error.
func send(app *fiber.App, method, target string, headers []string) (Result, error) {
	req := httptest.NewRequest(method, target, nil)
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return Result{}, fmt.Errorf("%s %s: header %q is not \"Name: value\"", method, target, h)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: reading the body: %w", method, target, err)
	}
	return Result{resp.StatusCode, resp.Header, string(b)}, nil
}
