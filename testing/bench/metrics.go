package bench

import (
	"math"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// nativeHistogram is the sparse (native) part of a Prometheus histogram
// as counts by bucket index: bucket i holds the observations in
// (base^(i-1), base^i], base = 2^(2^-schema).
type nativeHistogram struct {
	schema int32
	zero   uint64 // observations at or below the zero threshold
	counts map[int32]uint64
}

// gatherNative reads the native histogram of the metric family name whose
// labels include all of labels; ok is false when there is none.
func gatherNative(g prometheus.Gatherer, name string, labels map[string]string) (nativeHistogram, bool) {
	for _, m := range gatherMetrics(g, name, labels) {
		if m.GetHistogram() != nil {
			return decodeNative(m.GetHistogram())
		}
	}
	return nativeHistogram{}, false
}

// gatherMetrics returns the metrics of the family name whose labels
// include all of labels.
func gatherMetrics(g prometheus.Gatherer, name string, labels map[string]string) []*dto.Metric {
	families, err := g.Gather()
	if err != nil {
		return nil
	}
	var out []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				out = append(out, m)
			}
		}
	}
	return out
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

// decodeNative unpacks the spans and delta-encoded counts of h's positive
// buckets (latencies have no negative ones).
func decodeNative(h *dto.Histogram) (nativeHistogram, bool) {
	if len(h.GetPositiveSpan()) == 0 && h.GetZeroCount() == 0 {
		return nativeHistogram{}, false
	}
	out := nativeHistogram{schema: h.GetSchema(), zero: h.GetZeroCount(), counts: map[int32]uint64{}}
	deltas := h.GetPositiveDelta()
	var idx int32
	var count int64
	d := 0
	for i, s := range h.GetPositiveSpan() {
		if i == 0 {
			idx = s.GetOffset()
		} else {
			idx += s.GetOffset()
		}
		for range s.GetLength() {
			if d >= len(deltas) {
				return nativeHistogram{}, false
			}
			count += deltas[d]
			d++
			out.counts[idx] = uint64(count)
			idx++
		}
	}
	return out, true
}

// since returns the observations h has that earlier had not; ok is false
// when the two cannot be compared (the histogram changed its schema or
// was reset in between).
func (h nativeHistogram) since(earlier nativeHistogram) (nativeHistogram, bool) {
	if earlier.counts == nil {
		return h, true
	}
	if h.schema != earlier.schema || h.zero < earlier.zero {
		return nativeHistogram{}, false
	}
	out := nativeHistogram{schema: h.schema, zero: h.zero - earlier.zero, counts: map[int32]uint64{}}
	for i, c := range earlier.counts {
		if h.counts[i] < c {
			return nativeHistogram{}, false
		}
	}
	for i, c := range h.counts {
		out.counts[i] = c - earlier.counts[i]
	}
	return out, true
}

// quantile returns the q-quantile (0 to 1), interpolating within its
// bucket on a log scale; 0 when h is empty.
func (h nativeHistogram) quantile(q float64) float64 {
	var total uint64 = h.zero
	idx := make([]int32, 0, len(h.counts))
	for i, c := range h.counts {
		total += c
		idx = append(idx, i)
	}
	if total == 0 {
		return 0
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	rank := q * float64(total)
	seen := float64(h.zero)
	if rank <= seen {
		return 0
	}
	base := math.Pow(2, math.Pow(2, -float64(h.schema)))
	for _, i := range idx {
		c := float64(h.counts[i])
		if c == 0 {
			continue
		}
		if seen+c >= rank {
			lo, hi := math.Pow(base, float64(i-1)), math.Pow(base, float64(i))
			return lo * math.Pow(hi/lo, (rank-seen)/c)
		}
		seen += c
	}
	return math.Pow(base, float64(idx[len(idx)-1]))
}
