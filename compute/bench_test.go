package compute

import (
	"fmt"
	"testing"
)

func reportGMACs(b *testing.B, macs float64) {
	b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

func BenchmarkMatMul(b *testing.B) {
	for _, n := range []int{512, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x, y := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				MatMul(x, y)
			}
			reportGMACs(b, float64(n)*float64(n)*float64(n))
		})
	}
}

func BenchmarkNoisedMatMul(b *testing.B) {
	for _, n := range []int{512} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x, y := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
			nz := NewNoise([32]byte{3}, n, n, n, 8)
			g := Geometry{Tile: 64, Chunk: 64}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				NoisedMatMul(x, y, nz, g, nil)
			}
			reportGMACs(b, float64(n)*float64(n)*float64(n))
		})
	}
}

// BenchmarkTileDigest is a validator's cost: one 64×64 tile over K = 512.
func BenchmarkTileDigest(b *testing.B) {
	n := 512
	x, y := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
	nz := NewNoise([32]byte{3}, n, n, n, 8)
	g := Geometry{Tile: 64, Chunk: 64}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		TileDigest(x, y, nz, g, 3, 5)
	}
	reportGMACs(b, 64*64*float64(n))
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
