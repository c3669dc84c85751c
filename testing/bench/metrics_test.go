package bench

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestNativeQuantiles: quantiles read from a Prometheus native histogram,
// over the observations made since an earlier reading, are within a
// bucket's width (about 9%) of the exact ones.
func TestNativeQuantiles(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:                            "latency_seconds",
		Buckets:                         prometheus.DefBuckets,
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: time.Hour,
	}, []string{"method"})
	reg.MustRegister(h)
	labels := map[string]string{"method": "Create"}
	// Before the window: slow observations that must not count.
	for range 1000 {
		h.WithLabelValues("Create").Observe(2)
	}
	h.WithLabelValues("Get").Observe(5) // another series: ignored
	before, ok := gatherNative(reg, "latency_seconds", labels)
	if !ok {
		t.Fatal("no native histogram gathered")
	}
	// In the window: 1 ms to 100 ms, evenly spaced.
	const n = 10000
	for i := range n {
		h.WithLabelValues("Create").Observe(0.001 + 0.099*float64(i)/(n-1))
	}
	after, _ := gatherNative(reg, "latency_seconds", labels)
	window, ok := after.since(before)
	if !ok {
		t.Fatal("readings not comparable")
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 0.0505}, {0.99, 0.099}, {0.01, 0.00199}} {
		got := window.quantile(c.q)
		if math.Abs(got-c.want)/c.want > 0.1 {
			t.Errorf("q%.2f = %.5f s, want %.5f within 10%%", c.q, got, c.want)
		}
	}
	// Without subtracting, the slow observations dominate the top.
	if got := after.quantile(0.99); got < 1.5 {
		t.Errorf("q0.99 of everything = %.3f s, want about 2 (the earlier observations)", got)
	}
	// A reading older than the other is not a window.
	if _, ok := before.since(after); ok {
		t.Error("since of a later reading: want not comparable")
	}
	if _, ok := gatherNative(reg, "latency_seconds", map[string]string{"method": "Delete"}); ok {
		t.Error("a series that does not exist was found")
	}
}
