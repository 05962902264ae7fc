package compute

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func reportGMACs(b *testing.B, macs float64) {
	b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

// benchShapes are M×N×K; run the big one with -benchtime 1x.
var benchShapes = [][3]int{{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {4096, 4096, 1024}}

func shapeName(s [3]int) string { return fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]) }

// BenchmarkMatMul prints every backend side by side: MatMul/<backend>/<M×N×K>.
func BenchmarkMatMul(b *testing.B) {
	for _, be := range Backends() {
		for _, s := range benchShapes {
			b.Run(be.Name()+"/"+shapeName(s), func(b *testing.B) {
				x, y := RandomI8([32]byte{1}, s[0], s[2]), RandomI8([32]byte{2}, s[2], s[1])
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					be.MatMul(x, y)
				}
				reportGMACs(b, float64(s[0])*float64(s[1])*float64(s[2]))
			})
		}
	}
}

// BenchmarkNoisedMatMul is the miner's cost with the devnet geometry
// (b = 64, κ = r = 256): NoisedMatMul/<backend>/<M×N×K>.
func BenchmarkNoisedMatMul(b *testing.B) {
	for _, be := range Backends() {
		for _, s := range benchShapes {
			b.Run(be.Name()+"/"+shapeName(s), func(b *testing.B) {
				benchNoised(b, be, s, Geometry{Tile: 64, Chunk: 256})
			})
		}
	}
}

// BenchmarkNoisedChunk measures the mining overhead against κ at b = 64:
// compare with BenchmarkMatMul on the same backend and shape.
func BenchmarkNoisedChunk(b *testing.B) {
	for _, be := range Backends() {
		for _, s := range benchShapes[1:3] {
			for _, chunk := range []int{64, 128, 256} {
				b.Run(fmt.Sprintf("%s/%s/k%d", be.Name(), shapeName(s), chunk), func(b *testing.B) {
					benchNoised(b, be, s, Geometry{Tile: 64, Chunk: chunk})
				})
			}
		}
	}
}

func benchNoised(b *testing.B, be Backend, s [3]int, g Geometry) {
	x, y := clampI8(RandomI8([32]byte{1}, s[0], s[2])), clampI8(RandomI8([32]byte{2}, s[2], s[1]))
	nz := NewNoise([32]byte{3}, s[0], s[2], s[1], g)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		be.NoisedMatMul(x, y, nz, g, nil)
	}
	reportGMACs(b, float64(s[0])*float64(s[1])*float64(s[2]))
}

// BenchmarkTileDigest is a validator's cost: one 64×64 tile over K = 512.
func BenchmarkTileDigest(b *testing.B) {
	n := 512
	x, y := clampI8(RandomI8([32]byte{1}, n, n)), clampI8(RandomI8([32]byte{2}, n, n))
	g := Geometry{Tile: 64, Chunk: 128}
	nz := NewNoise([32]byte{3}, n, n, n, g)
	for _, be := range Backends() {
		b.Run(be.Name(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				be.TileDigest(x, y, nz, g, 3, 5)
			}
			reportGMACs(b, 64*64*float64(n))
		})
	}
}

// BenchmarkNaive is the plain triple loop, the baseline the kernels beat.
func BenchmarkNaive(b *testing.B) {
	n := 256
	x, y := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		naiveMatMul(x, y)
	}
	reportGMACs(b, float64(n)*float64(n)*float64(n))
}

func BenchmarkFreivalds(b *testing.B) {
	n := 1024
	x, y := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
	c := MatMul(x, y)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !Freivalds(x, y, c, [32]byte{4}, 2) {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkNoisedOverhead times MatMulInto and a job's mining transcript
// (NoisedTranscript, b = 64, κ = r) alternately on the same backend and
// inputs, so that both see the same machine load, and reports the medians
// and overhead = transcript/MatMulInto − 1:
// NoisedOverhead/<backend>/<M×N×K>/k<κ>. Use -benchtime Nx (N ≥ 5).
func BenchmarkNoisedOverhead(b *testing.B) {
	for _, be := range Backends() {
		if be.Name() == "portable" {
			continue
		}
		for _, s := range benchShapes[1:3] {
			x, y := clampI8(RandomI8([32]byte{1}, s[0], s[2])), clampI8(RandomI8([32]byte{2}, s[2], s[1]))
			for _, chunk := range []int{32, 64, 128, 256} {
				g := Geometry{Tile: 64, Chunk: chunk}
				nz := NewNoise([32]byte{3}, s[0], s[2], s[1], g)
				b.Run(fmt.Sprintf("%s/%s/k%d", be.Name(), shapeName(s), chunk), func(b *testing.B) {
					benchOverhead(b, be, x, y, nz, g)
				})
			}
		}
	}
}

// benchOverhead times MatMul and NoisedMatMul alternately on the same
// inputs and reports both rates and the mining overhead from the medians,
// so load that comes and goes on a shared machine hits both sides alike.
func benchOverhead(b *testing.B, be Backend, x, y I8, nz *Noise, g Geometry) {
	plain := make([]time.Duration, 0, b.N)
	noised := make([]time.Duration, 0, b.N)
	c := NewI32(x.Rows, y.Cols)
	MatMulInto(be, c, x, y)
	NoisedTranscript(be, x, y, nz, g, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		MatMulInto(be, c, x, y)
		t1 := time.Now()
		NoisedTranscript(be, x, y, nz, g, nil)
		plain = append(plain, t1.Sub(t0))
		noised = append(noised, time.Since(t1))
	}
	slices.Sort(plain)
	slices.Sort(noised)
	mp, mn := plain[len(plain)/2].Seconds(), noised[len(noised)/2].Seconds()
	macs := float64(x.Rows) * float64(y.Cols) * float64(x.Cols)
	b.ReportMetric(macs/mp/1e9, "matmul-GMAC/s")
	b.ReportMetric(macs/mn/1e9, "noised-GMAC/s")
	b.ReportMetric(100*(mn/mp-1), "overhead-%")
}
