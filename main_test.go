package cache

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/redistest"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.Stop()
	os.Exit(code)
}

// mapStorage is a fiber.Storage in a map that counts calls and can be told
// to fail.
type mapStorage struct {
	mu           sync.Mutex
	data         map[string][]byte
	gets, sets   int
	dels, resets int
	fail         error
	lastExp      time.Duration
}

func newMapStorage() *mapStorage { return &mapStorage{data: map[string][]byte{}} }

func (s *mapStorage) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.fail != nil {
		return nil, s.fail
	}
	return s.data[key], nil
}

func (s *mapStorage) Set(key string, val []byte, exp time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets++
	if s.fail != nil {
		return s.fail
	}
	s.data[key] = append([]byte(nil), val...)
	s.lastExp = exp
	return nil
}

func (s *mapStorage) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dels++
	if s.fail != nil {
		return s.fail
	}
	delete(s.data, key)
	return nil
}

func (s *mapStorage) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets++
	s.data = map[string][]byte{}
	return nil
}

func (s *mapStorage) Close() error { return nil }

func (s *mapStorage) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *mapStorage) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for k := range s.data {
		ks = append(ks, k)
	}
	return ks
}

var errStorageDown = errors.New("storage down")

// result is what a client sees of one response.
type result struct {
	status int
	header http.Header
	body   string
}

// do sends one request through app. Extra headers come as "Name: value".
func do(t *testing.T, app *fiber.App, method, target string, headers ...string) result {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := app.Test(req, -1)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{resp.StatusCode, resp.Header, string(b)}
}

// counter is a handler that counts its runs and answers with body plus the
// run number, after letting setup shape the response.
type counter struct {
	mu sync.Mutex
	n  int
}

func (k *counter) runs() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

func (k *counter) handler(body string, setup ...func(c *fiber.Ctx)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		k.mu.Lock()
		k.n++
		n := k.n
		k.mu.Unlock()
		for _, f := range setup {
			f(c)
		}
		if c.Response().StatusCode() == 0 {
			c.Status(200)
		}
		return c.SendString(body + "#" + itoa(n))
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

func header(k, v string) func(c *fiber.Ctx) {
	return func(c *fiber.Ctx) { c.Response().Header.Add(k, v) }
}

func status(code int) func(c *fiber.Ctx) {
	return func(c *fiber.Ctx) { c.Status(code) }
}

// testStorageTimeout replaces the 50 ms default storage timeout in tests
// that are not about timeouts: a loaded machine can take longer, which
// would pause the storage and turn hits into bypasses.
const testStorageTimeout = 10 * time.Second
