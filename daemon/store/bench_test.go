package store

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreateParallel measures durable single-op writes with about 256
// concurrent writers sharing group commits. It reports writes/s.
func BenchmarkCreateParallel(b *testing.B) {
	db, err := Open(b.TempDir(), WithCompaction(0, 0), WithProgressInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	value := make([]byte, 256)
	var seq atomic.Int64
	b.SetParallelism(max(1, 256/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		key := make([]byte, 0, 32)
		for pb.Next() {
			key = strconv.AppendInt(append(key[:0], "bench/"...), seq.Add(1), 10)
			if _, err := db.Create(ctx, string(key), value); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	s := db.Stats()
	if s.Commits > 0 {
		b.ReportMetric(float64(s.CommittedOps)/float64(s.Commits), "writes/commit")
	}
}
