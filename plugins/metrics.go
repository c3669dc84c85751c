package plugins

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfhq/wharf/plugins/wasm"
)

// metrics are the host's Prometheus metrics, per plugin (the Plugin
// object's name) and extension point.
type metrics struct {
	calls     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	discarded *prometheus.CounterVec
	loaded    *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_plugin_calls_total",
			Help: "Plugin calls by plugin, extension point and outcome (ok, denied, timeout, crash, bad_response, plugin_error, busy).",
		}, []string{"plugin", "point", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wharf_plugin_call_duration_seconds",
			Help:    "Time a plugin call took, by plugin and extension point.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 2.5, 12), // 10us .. ~600ms
		}, []string{"plugin", "point"}),
		discarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_plugin_instances_discarded_total",
			Help: "Plugin instances closed after a trap, a timeout or a garbage answer.",
		}, []string{"plugin"}),
		loaded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wharf_plugin_loaded",
			Help: "1 while a version of the plugin is loaded and serving.",
		}, []string{"plugin"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.latency, m.discarded, m.loaded)
	}
	return m
}

// outcome names an error for the calls metric.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, wasm.ErrTimeout):
		return "timeout"
	case errors.Is(err, wasm.ErrTrap):
		return "crash"
	case errors.Is(err, wasm.ErrBadResponse):
		return "bad_response"
	case errors.Is(err, wasm.ErrPlugin):
		return "plugin_error"
	case errors.Is(err, wasm.ErrBusy):
		return "busy"
	case errors.Is(err, errDenied):
		return "denied"
	}
	return "error"
}

func (m *metrics) observe(plugin, point string, start time.Time, err error) {
	m.calls.WithLabelValues(plugin, point, outcome(err)).Inc()
	m.latency.WithLabelValues(plugin, point).Observe(time.Since(start).Seconds())
	if wasm.Discarded(err) {
		m.discarded.WithLabelValues(plugin).Inc()
	}
}
