package cache

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/keyauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// purgeSite is a catalogue behind a cache, with PurgeHandler mounted at
// POST /_cache/purge behind an API key.
type purgeSite struct {
	app  *fiber.App
	runs map[string]*atomic.Int64
}

func newPurgeSite(t *testing.T, b testBackend) *purgeSite {
	t.Helper()
	m := newTestCache(t, b, WithTTL(time.Hour), WithClockSkew(0))
	s := &purgeSite{app: fiber.New(), runs: map[string]*atomic.Int64{}}
	for _, p := range []string{"/products/1", "/products/2", "/about"} {
		s.runs[p] = &atomic.Int64{}
	}
	s.app.Post("/_cache/purge", keyauth.New(keyauth.Config{
		Validator: func(_ *fiber.Ctx, key string) (bool, error) { return key == "s3cret", nil },
	}), m.PurgeHandler())
	s.app.Use(m.Handler())
	s.app.Get("/products/:id", func(c *fiber.Ctx) error {
		s.runs[c.Path()].Add(1)
		Tag(c, "product:"+c.Params("id"))
		return c.SendString("product")
	})
	s.app.Get("/about", func(c *fiber.Ctx) error { s.runs[c.Path()].Add(1); return c.SendString("about") })
	for p := range s.runs {
		s.get(t, p)
	}
	return s
}

// get reports whether GET path ran its handler.
func (s *purgeSite) get(t *testing.T, path string) bool {
	t.Helper()
	before := s.runs[path].Load()
	resp, err := s.app.Test(httptest.NewRequest("GET", "http://shop.example"+path, nil), -1)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	return s.runs[path].Load() > before
}

// purge sends a purge request and returns its status and JSON answer.
func (s *purgeSite) purge(t *testing.T, key, target, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("POST", "http://shop.example"+target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := s.app.Test(req, -1)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func TestPurge(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			s := newPurgeSite(t, b)
			status, _ := s.purge(t, "", "/_cache/purge", `{"all":true}`)
			assert.Equal(t, 401, status, "without the key")
			status, _ = s.purge(t, "wrong", "/_cache/purge", `{"all":true}`)
			assert.Equal(t, 401, status)
			for p := range s.runs {
				assert.False(t, s.get(t, p), "%s: nothing purged without the key", p)
			}

			status, out := s.purge(t, "s3cret", "/_cache/purge", `{"tags":["product:1"]}`)
			require.Equal(t, 200, status, "%v", out)
			assert.EqualValues(t, 1, out["tags"])
			assert.True(t, s.get(t, "/products/1"))
			assert.False(t, s.get(t, "/products/2"))

			status, _ = s.purge(t, "s3cret", "/_cache/purge?url=/about&url=http://shop.example/products/2", "")
			require.Equal(t, 200, status)
			assert.True(t, s.get(t, "/about"), "a path is on the purge request's host")
			assert.True(t, s.get(t, "/products/2"))
			assert.False(t, s.get(t, "/products/1"))

			status, _ = s.purge(t, "s3cret", "/_cache/purge", `{"all":true}`)
			require.Equal(t, 200, status)
			for p := range s.runs {
				assert.True(t, s.get(t, p), "%s: everything", p)
			}
		})
	}
}

// A purge request that cannot be carried out whole is refused, and
// invalidates nothing.
func TestPurge_BadRequests(t *testing.T) {
	s := newPurgeSite(t, everyBackend()[0])
	many := make([]string, core.MaxPurgeItems+1)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprint("t", i))
	}
	for name, body := range map[string]string{
		"not JSON":     `tags=a`,
		"nothing":      `{}`,
		"invalid tag":  `{"tags":["product:1","a b"]}`,
		"empty tag":    `{"tags":[""]}`,
		"CR LF":        `{"tags":["a\r\nb"]}`,
		"reserved tag": `{"tags":["fc:route:/x"]}`,
		"empty url":    `{"tags":["product:1"],"urls":[""]}`,
		"soft urls":    `{"urls":["/about"],"soft":true}`,
		"too many":     `{"tags":[` + strings.Join(many, ",") + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			status, out := s.purge(t, "s3cret", "/_cache/purge", body)
			assert.Equal(t, 400, status)
			assert.NotEmpty(t, out["error"])
			for p := range s.runs {
				assert.False(t, s.get(t, p), "%s: nothing purged", p)
			}
		})
	}
}

// soft=1 makes the tags stale (ExpireTags): with no stale window, a
// stale entry is fetched again.
func TestPurge_Soft(t *testing.T) {
	s := newPurgeSite(t, everyBackend()[0])
	status, out := s.purge(t, "s3cret", "/_cache/purge?tag=product:2&soft=1", "")
	require.Equal(t, 200, status)
	assert.Equal(t, true, out["soft"])
	assert.True(t, s.get(t, "/products/2"))
	assert.False(t, s.get(t, "/products/1"))
}
