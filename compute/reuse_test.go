package compute

import (
	"fmt"
	"sync"
	"testing"
)

// dense expands a low-rank factor pair into the M×K (or K×N) noise matrix.
func dense(l []int8, rgt []int8, rows, r, cols int) []int32 {
	out := make([]int32, rows*cols)
	for i := 0; i < rows; i++ {
		for q := 0; q < r; q++ {
			if f := int32(l[i*r+q]); f != 0 {
				for j := 0; j < cols; j++ {
					out[i*cols+j] += f * int32(rgt[q*cols+j])
				}
			}
		}
	}
	return out
}

// TestReuseIdentity checks, entry by entry on dense matrices, the identity the
// attack rests on: for every chunk t,
// P'(t) = Σ_{k<tκ} (A+E)(B+F) = S_AB(t) + CX(t)·FR + EL·CY(t) with
// CX(t) = Σ_{k<tκ} A·FL and CY(t) = Σ_{k<tκ} ER·(B+F).
func TestReuseIdentity(t *testing.T) {
	m, k, n, r, kappa := 13, 50, 11, 3, 16
	a, b := RandomI8([32]byte{7}, m, k), RandomI8([32]byte{8}, k, n)
	nz := NewNoise([32]byte{9}, m, k, n, r)
	e, f := dense(nz.EL, nz.ER, m, r, k), dense(nz.FL, nz.FR, k, r, n)
	for t0 := 1; t0 <= (k+kappa-1)/kappa; t0++ {
		kt := min(t0*kappa, k)
		for i := 0; i < m; i++ {
			cx := make([]int32, r)
			for q := 0; q < r; q++ {
				for kk := 0; kk < kt; kk++ {
					cx[q] += int32(a.At(i, kk)) * int32(nz.FL[kk*r+q])
				}
			}
			for j := 0; j < n; j++ {
				var want, s int32
				for kk := 0; kk < kt; kk++ {
					want += (int32(a.At(i, kk)) + e[i*k+kk]) * (int32(b.At(kk, j)) + f[kk*n+j])
					s += int32(a.At(i, kk)) * int32(b.At(kk, j))
				}
				got := s
				for q := 0; q < r; q++ {
					var cy int32
					for kk := 0; kk < kt; kk++ {
						cy += int32(nz.ER[q*k+kk]) * (int32(b.At(kk, j)) + f[kk*n+j])
					}
					got += cx[q]*int32(nz.FR[q*n+j]) + int32(nz.EL[i*r+q])*cy
				}
				if got != want {
					t.Fatalf("t=%d (%d,%d): S+CX·FR+EL·CY = %d, P' = %d", t0, i, j, got, want)
				}
			}
		}
	}
}

// digestsOf collects every tile digest a producer reports.
func digestsOf(run func(TileVisitor) bool) (map[[2]int][32]byte, bool) {
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

// TestReuseDigests plays the attacker: from partial sums stored for A·B it
// produces, for fresh seeds, exactly the tile digests an honest miner gets,
// without multiplying A by B again. Both the SWAR and the scalar correction
// paths, edge tiles and a ragged last chunk included.
func TestReuseDigests(t *testing.T) {
	backends := []Backend{Portable()}
	if cpu := CPU(); cpu.Name() != Portable().Name() {
		backends = append(backends, cpu)
	}
	for _, tc := range []struct {
		m, k, n, r int
		g          Geometry
	}{
		{64, 64, 64, 8, Geometry{Tile: 64, Chunk: 64}},
		{130, 200, 97, 8, Geometry{Tile: 64, Chunk: 64}},  // edge tiles, ragged chunk
		{96, 160, 80, 8, Geometry{Tile: 32, Chunk: 16}},   // small κ
		{70, 700, 70, 8, Geometry{Tile: 64, Chunk: 600}},  // κ·r too big for lanes: scalar path
		{50, 90, 40, 3, Geometry{Tile: 16, Chunk: 7}},     // odd rank and chunk
		{40, 40, 40, 0, Geometry{Tile: 16, Chunk: 8}},     // no noise
		{128, 256, 128, 8, Geometry{Tile: 64, Chunk: 32}}, // two chunk sizes of the devnet family
	} {
		name := fmt.Sprintf("%dx%dx%d_r%d_b%d_k%d", tc.m, tc.n, tc.k, tc.r, tc.g.Tile, tc.g.Chunk)
		t.Run(name, func(t *testing.T) {
			a, b := RandomI8([32]byte{1, byte(tc.m)}, tc.m, tc.k), RandomI8([32]byte{2, byte(tc.n)}, tc.k, tc.n)
			store := newReuseStore(a, b, tc.g)
			ti, tj := tc.g.Tiles(tc.m, tc.n)
			if want := tc.m * tc.n * tc.g.chunks(tc.k); store.words() != want {
				t.Fatalf("store holds %d words, want M·N·⌈K/κ⌉ = %d", store.words(), want)
			}
			for seed := byte(0); seed < 2; seed++ {
				nz := NewNoise([32]byte{3, seed}, tc.m, tc.k, tc.n, tc.r)
				got, ok := digestsOf(func(v TileVisitor) bool { return store.digests(a, b, nz, v, reuseFull) })
				if !ok || len(got) != ti*tj {
					t.Fatalf("reuse produced %d of %d digests (ok=%v)", len(got), ti*tj, ok)
				}
				for _, be := range backends {
					want, ok := digestsOf(func(v TileVisitor) bool { _, ok := be.NoisedMatMul(a, b, nz, tc.g, v); return ok })
					if !ok {
						t.Fatalf("%s: NoisedMatMul stopped", be.Name())
					}
					for key, d := range want {
						if got[key] != d {
							t.Fatalf("seed %d tile %v: reuse digest %x, %s digest %x", seed, key, got[key], be.Name(), d)
						}
					}
				}
			}
			if tc.r > 0 {
				nz := NewNoise([32]byte{4}, tc.m, tc.k, tc.n, tc.r)
				honest, _ := digestsOf(func(v TileVisitor) bool { _, ok := NoisedMatMul(a, b, nz, tc.g, v); return ok })
				for _, mode := range []reuseMode{reuseMixOnly, reuseStreamOnly} {
					floor, ok := digestsOf(func(v TileVisitor) bool { return store.digests(a, b, nz, v, mode) })
					if !ok || len(floor) != ti*tj || floor[[2]int{0, 0}] == honest[[2]int{0, 0}] {
						t.Fatalf("floor mode %d: %d tiles, digest matched honest: it must visit every tile and skip the correction", mode, len(floor))
					}
				}
			}
		})
	}
}

// reuseKappa is the chunk sizes BenchmarkReuse tries: the devnet's 64 and the
// smaller ones that make reuse stream more words.
var reuseKappa = []int{64, 32, 16, 8}

// BenchmarkReuse times, per new seed, producing every tile digest of an n³
// product honestly (NoisedMatMul on each backend) against the reuse attack
// from stored partial sums (reuse: true digests, pure Go), and two floors
// under any reuse attacker: reuse-mixonly (stream and mix the stored words,
// no correction) and reuse-stream (only read them). Each reports
// ratio = its time / the honest time of the best CPU backend, measured just
// before (> 1: the attack loses).
func BenchmarkReuse(b *testing.B) {
	for _, n := range []int{512, 1024, 2048} {
		for _, kappa := range reuseKappa {
			g := Geometry{Tile: 64, Chunk: kappa}
			b.Run(fmt.Sprintf("n=%d/kappa=%d", n, kappa), func(b *testing.B) {
				if testing.Short() && n > 512 {
					b.Skip("-short")
				}
				x, y := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
				nz := NewNoise([32]byte{3}, n, n, n, 8)
				macs := float64(n) * float64(n) * float64(n)
				var honest float64 // ns per op of the best CPU backend
				for _, be := range benchBackends() {
					b.Run("honest-"+be.Name(), func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							be.NoisedMatMul(x, y, nz, g, func(int, int, [32]byte) bool { return true })
						}
						reportGMACs(b, macs)
						if be.Name() == CPU().Name() {
							honest = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
						}
					})
				}
				store := newReuseStore(x, y, g)
				for _, mode := range []struct {
					name string
					mode reuseMode
				}{{"reuse", reuseFull}, {"reuse-mixonly", reuseMixOnly}, {"reuse-stream", reuseStreamOnly}} {
					b.Run(mode.name, func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							store.digests(x, y, nz, func(int, int, [32]byte) bool { return true }, mode.mode)
						}
						perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
						b.ReportMetric(float64(store.words())*4/perOp, "GB/s-streamed")
						b.ReportMetric(float64(store.words())*4/(1<<20), "MiB-stored")
						if honest > 0 {
							b.ReportMetric(perOp/honest, "ratio")
						}
					})
				}
			})
		}
	}
}
