package compute

import (
	"fmt"
	"sync"
	"testing"
)

// attackDigests collects every tile digest a producer reports.
func attackDigests(run func(TileVisitor) bool) (map[[2]int][32]byte, bool) {
	var mu sync.Mutex
	out := map[[2]int][32]byte{}
	ok := run(func(ti, tj int, d [32]byte) bool {
		mu.Lock()
		out[[2]int{ti, tj}] = d
		mu.Unlock()
		return true
	})
	return out, ok
}

// attackBackends is the portable backend and the best CPU one.
func attackBackends() []Backend {
	out := []Backend{Portable()}
	if CPU().Name() != Portable().Name() {
		out = append(out, CPU())
	}
	return out
}

// TestReuseDigests plays the reuse attacker: from increments of A·B stored
// once, it produces for fresh seeds exactly NoisedTranscript's tile digests
// (both routes: the SIMD transcript kernel and MatMulInto per chunk, on every
// backend), and the floors visit every tile with wrong digests.
func TestReuseDigests(t *testing.T) {
	for _, tc := range []struct {
		m, k, n int
		g       Geometry
	}{
		{128, 384, 128, Geometry{Tile: 64, Chunk: 128}}, // κ = r = 128, three chunks
		{130, 300, 97, Geometry{Tile: 64, Chunk: 128}},  // edge tiles, ragged last chunk
		{64, 128, 64, Geometry{Tile: 64, Chunk: 64}},    // κ = 64
		{50, 90, 40, Geometry{Tile: 16, Chunk: 7}},      // odd tile and chunk: MatMulInto route only
	} {
		name := fmt.Sprintf("%dx%dx%d_b%d_k%d", tc.m, tc.n, tc.k, tc.g.Tile, tc.g.Chunk)
		t.Run(name, func(t *testing.T) {
			a := clampI8(RandomI8([32]byte{1, byte(tc.m)}, tc.m, tc.k))
			b := clampI8(RandomI8([32]byte{2, byte(tc.n)}, tc.k, tc.n))
			ti, tj := tc.g.Tiles(tc.m, tc.n)
			for _, be := range attackBackends() {
				store := newReuseStore(be, a, b, tc.g)
				if want := tc.m * tc.n * attackChunks(tc.k, tc.g.Chunk); store.words() != want {
					t.Fatalf("store holds %d words, want M·N·T = %d", store.words(), want)
				}
				for seed := byte(0); seed < 2; seed++ {
					nz := NewNoise([32]byte{3, seed}, tc.m, tc.k, tc.n, tc.g)
					want, ok := attackDigests(func(v TileVisitor) bool { return NoisedTranscript(be, a, b, nz, tc.g, v) })
					if !ok || len(want) != ti*tj {
						t.Fatalf("%s: NoisedTranscript gave %d of %d digests", be.Name(), len(want), ti*tj)
					}
					for _, mode := range []reuseMode{reuseFull, reuseGEMM} {
						got, ok := attackDigests(func(v TileVisitor) bool { return store.reuseDigests(be, a, b, nz, v, mode) })
						if !ok || len(got) != ti*tj {
							t.Fatalf("%s mode %d: %d of %d digests", be.Name(), mode, len(got), ti*tj)
						}
						for key, d := range want {
							if got[key] != d {
								t.Fatalf("%s mode %d seed %d tile %v: reuse %x, honest %x", be.Name(), mode, seed, key, got[key], d)
							}
						}
					}
					if seed > 0 {
						continue
					}
					for _, mode := range []reuseMode{reuseMixOnly, reuseStream} {
						floor, ok := attackDigests(func(v TileVisitor) bool { return store.reuseDigests(be, a, b, nz, v, mode) })
						if !ok || len(floor) != ti*tj || floor[[2]int{0, 0}] == want[[2]int{0, 0}] {
							t.Fatalf("%s floor %d: %d tiles; it must visit every tile and skip the correction", be.Name(), mode, len(floor))
						}
					}
				}
			}
		})
	}
}

// BenchmarkReuse times, per new seed (all tile digests of one n³ product,
// the noise drawn inside the loop), honest mining (NoisedTranscript on every
// backend) against the reuse attacker on the best backend: reuse (the SIMD
// transcript kernel over the 2r-deep correction plus the stored ΔS(t)),
// reuse-gemm (MatMulInto per chunk, Go add and mix), and two floors under
// any reuse attacker: reuse-mixonly (add the stored words and mix them with
// the kernel's mix, no correction) and reuse-stream (only read them).
// ratio = time / the best honest backend's in the same run (> 1: the attack
// loses).
func BenchmarkReuse(b *testing.B) {
	visit := func(int, int, [32]byte) bool { return true }
	for _, n := range []int{256, 512, 1024} {
		for _, kappa := range []int{devnetJob.Chunk, 128} {
			g := Geometry{Tile: 64, Chunk: kappa}
			b.Run(fmt.Sprintf("n=%d/kappa=%d", n, kappa), func(b *testing.B) {
				x := clampI8(RandomI8([32]byte{1}, n, n))
				y := clampI8(RandomI8([32]byte{2}, n, n))
				macs := float64(n) * float64(n) * float64(n)
				honest := 0.0
				for _, be := range benchBackends() {
					b.Run("honest-"+be.Name(), func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							nz := NewNoise([32]byte{3, byte(i), byte(i >> 8)}, n, n, n, g)
							NoisedTranscript(be, x, y, nz, g, visit)
						}
						reportGMACs(b, macs)
						if t := float64(b.Elapsed().Nanoseconds()) / float64(b.N); honest == 0 || t < honest {
							honest = t
						}
					})
				}
				be := CPU()
				store := newReuseStore(be, x, y, g)
				for _, v := range []struct {
					name string
					mode reuseMode
				}{{"reuse", reuseFull}, {"reuse-gemm", reuseGEMM}, {"reuse-mixonly", reuseMixOnly}, {"reuse-stream", reuseStream}} {
					b.Run(v.name, func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							nz := NewNoise([32]byte{3, byte(i), byte(i >> 8)}, n, n, n, g)
							store.reuseDigests(be, x, y, nz, visit, v.mode)
						}
						t := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
						b.ReportMetric(float64(store.words())*4/t, "GB/s-streamed")
						b.ReportMetric(float64(store.words())*4/(1<<20), "MiB-stored")
						if honest > 0 {
							b.ReportMetric(t/honest, "ratio")
						}
					})
				}
			})
		}
	}
}
