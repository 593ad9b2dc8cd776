package cacheprom

import "github.com/prometheus/client_golang/prometheus"

// DefaultNamespace is the prefix of the metric names unless WithNamespace
// changes it.
const DefaultNamespace = "fibercache"

// An Option configures New.
type Option func(*config)

type config struct {
	namespace   string
	constLabels prometheus.Labels
}

// WithNamespace sets the metric name prefix: "shop" names the counters
// shop_requests_total and so on. The empty string drops the prefix.
func WithNamespace(ns string) Option {
	return func(c *config) { c.namespace = ns }
}

// WithConstLabels adds labels with fixed values to every series, such as
// prometheus.Labels{"app": "shop"}. Later calls add to, or override, the
// labels of earlier ones. The names result, reason and cache are taken by
// the metrics' own labels.
func WithConstLabels(l prometheus.Labels) Option {
	return func(c *config) {
		if c.constLabels == nil {
			c.constLabels = make(prometheus.Labels, len(l))
		}
		for k, v := range l {
			c.constLabels[k] = v
		}
	}
}
