package plugins

import (
	"errors"
	"sync"
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

	// The metrics of each plugin's successful calls at each point, looked
	// up once: the label lookup checks and hashes the label values, which
	// on the scheduler's hot path cost as much as the host's own work.
	mu     sync.RWMutex
	points map[pointKey]*pointMetrics
}

type pointKey struct{ plugin, point string }

type pointMetrics struct {
	ok      prometheus.Counter
	latency prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		points: map[pointKey]*pointMetrics{},
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
	took := time.Since(start).Seconds()
	if err == nil {
		pm := m.point(plugin, point)
		pm.ok.Inc()
		pm.latency.Observe(took)
		return
	}
	m.calls.WithLabelValues(plugin, point, outcome(err)).Inc()
	m.latency.WithLabelValues(plugin, point).Observe(took)
	if wasm.Discarded(err) {
		m.discarded.WithLabelValues(plugin).Inc()
	}
}

// point returns the metrics of plugin's successful calls at point.
func (m *metrics) point(plugin, point string) *pointMetrics {
	k := pointKey{plugin, point}
	m.mu.RLock()
	pm := m.points[k]
	m.mu.RUnlock()
	if pm != nil {
		return pm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if pm = m.points[k]; pm == nil {
		pm = &pointMetrics{ok: m.calls.WithLabelValues(plugin, point, "ok"), latency: m.latency.WithLabelValues(plugin, point)}
		m.points[k] = pm
	}
	return pm
}
