package bench

import (
	"net/http/httptest"
	"testing"

	fibercache "github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/cacheprom"
	fibercachev3 "github.com/fiber-caches/cache/fiberv3"
	"github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// One cacheprom.Metrics observes a cache of either adapter: cacheprom is
// built on the engine, whose Observer both re-export. The test lives here,
// the one module that may hold both Fibers and Prometheus.
func TestCachepromObservesEveryAdapter(t *testing.T) {
	m := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"app": "both"}))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	v2 := fiber.New()
	v2.Use(fibercache.New(fibercache.WithObserver(m)))
	v2.Get("/", func(c *fiber.Ctx) error { return c.SendString("v2") })
	v3 := fiberv3.New()
	v3.Use(fibercachev3.New(fibercachev3.WithObserver(m)))
	v3.Get("/", func(c fiberv3.Ctx) error { return c.SendString("v3") })
	for range 2 {
		_, err := v2.Test(httptest.NewRequest("GET", "/", nil), -1)
		require.NoError(t, err)
		_, err = v3.Test(httptest.NewRequest("GET", "/", nil))
		require.NoError(t, err)
	}

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != cacheprom.DefaultNamespace+"_requests_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "result" {
					got[l.GetValue()] = mt.GetCounter().GetValue()
				}
			}
		}
	}
	require.Equal(t, 2.0, got["miss"], "one miss through each adapter: %v", got)
	require.Equal(t, 2.0, got["hit"], "one hit through each adapter: %v", got)
}
