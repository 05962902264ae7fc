package compute

import (
	"testing"
)

// BenchmarkAMXBody times the AMX MatMul kernel's inner step on data that
// stays in L1, per core: the rate AMX runs at right now with memory out of
// the way. On a shared VM it has been seen to move by 3× within minutes
// (docs/benchmarks.md), so scripts/bench.sh logs it beside every round.
func BenchmarkAMXBody(b *testing.B) {
	if ok, _ := amxAvail(); !ok {
		b.Skip("no AMX here")
	}
	x, y := make([]byte, 2048), make([]byte, 2048)
	for i := range x {
		x[i], y[i] = byte(i*7+1), byte(i*13+5)
	}
	const iters = 1 << 12
	for i := 0; i < b.N; i++ {
		amxBody(&amxTileCfg[0], &x[0], &y[0], iters)
	}
	b.ReportMetric(float64(iters)*4*16384*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s/core")
}
