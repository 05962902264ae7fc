package compute

import (
	"fmt"
	"testing"
)

// smallLowRank draws rows×rank and rank×cols factors with entries in
// [−lim, lim] from key (|entry| when pos), so that the product has entries
// within rank·lim².
func smallLowRank(key [32]byte, rows, cols, rank int, lim int32, pos bool) lowRank {
	x := NewXoshiro(key)
	draw := func(count int) []int32 {
		out := make([]int32, count)
		for i := range out {
			out[i] = int32(x.Next()%uint64(2*lim+1)) - lim
			if pos && out[i] < 0 {
				out[i] = -out[i]
			}
		}
		return out
	}
	f := lowRank{Rank: rank}
	f.Left = draw(rows * rank)
	f.Right = draw(rank * cols)
	return f
}

// TestDegenerateDigests plays the degenerate self-job: for zero or low-rank
// A and B, the low-rank route produces exactly the tile digests that
// NoisedMatMul and NoisedTranscript give on the portable and the best CPU
// backend, without an n³ product. Edge tiles, a ragged last chunk, the
// devnet job geometry, both the packed and the scalar path.
func TestDegenerateDigests(t *testing.T) {
	backends := []Backend{Portable()}
	if cpu := CPU(); cpu.Name() != Portable().Name() {
		backends = append(backends, cpu)
	}
	for _, tc := range []struct {
		m, k, n, r int
		qa, qb     int
		lim        int32
		pos        bool
		g          Geometry
	}{
		{128, 128, 128, 8, 0, 0, 0, false, devnetJob},                    // zero A and B, devnet job geometry
		{256, 256, 256, 8, 0, 0, 0, false, devnetJob},                    // zero, several tiles
		{130, 200, 97, 8, 0, 0, 0, false, Geometry{Tile: 64, Chunk: 16}}, // edge tiles, ragged chunk
		{128, 256, 128, 8, 1, 0, 11, false, devnetJob},                   // rank-1 A
		{96, 160, 80, 8, 1, 1, 11, false, Geometry{Tile: 32, Chunk: 8}},  // rank-1 A and B
		{64, 96, 64, 8, 2, 0, 7, false, Geometry{Tile: 64, Chunk: 32}},   // rank-2 A
		{70, 700, 70, 8, 1, 1, 11, true, Geometry{Tile: 64, Chunk: 64}},  // lanes overflow: scalar path
		{50, 90, 40, 3, 0, 0, 0, false, Geometry{Tile: 16, Chunk: 7}},    // odd rank and chunk
	} {
		name := fmt.Sprintf("%dx%dx%d_r%d_qa%d_qb%d_b%d_k%d", tc.m, tc.n, tc.k, tc.r, tc.qa, tc.qb, tc.g.Tile, tc.g.Chunk)
		t.Run(name, func(t *testing.T) {
			fa := smallLowRank([32]byte{5, byte(tc.m)}, tc.m, tc.k, tc.qa, tc.lim, tc.pos)
			fb := smallLowRank([32]byte{6, byte(tc.n)}, tc.k, tc.n, tc.qb, tc.lim, tc.pos)
			a, b := fa.expand(tc.m, tc.k), fb.expand(tc.k, tc.n)
			ti, tj := tc.g.Tiles(tc.m, tc.n)
			nz := NewNoise([32]byte{7, byte(tc.k)}, tc.m, tc.k, tc.n, tc.r)
			if tc.k == 700 {
				if p := newDegeneratePlan(fa, fb, tc.m, tc.k, tc.n, nz, tc.g); p.swar {
					t.Fatal("this case must exercise the scalar path")
				}
			} else if p := newDegeneratePlan(fa, fb, tc.m, tc.k, tc.n, nz, tc.g); !p.swar {
				t.Fatal("this case must exercise the packed path")
			}
			got, ok := digestsOf(func(v TileVisitor) bool {
				return degenerateDigests(fa, fb, tc.m, tc.k, tc.n, nz, tc.g, v, degenerateFull)
			})
			if !ok || len(got) != ti*tj {
				t.Fatalf("shortcut produced %d of %d digests (ok=%v)", len(got), ti*tj, ok)
			}
			for _, be := range backends {
				for _, via := range []string{"NoisedMatMul", "NoisedTranscript"} {
					want, ok := digestsOf(func(v TileVisitor) bool {
						if via == "NoisedTranscript" {
							return NoisedTranscript(be, a, b, nz, tc.g, v)
						}
						_, ok := be.NoisedMatMul(a, b, nz, tc.g, v)
						return ok
					})
					if !ok || len(want) != ti*tj {
						t.Fatalf("%s %s: %d of %d digests", be.Name(), via, len(want), ti*tj)
					}
					for key, d := range want {
						if got[key] != d {
							t.Fatalf("tile %v: shortcut digest %x, %s %s digest %x", key, got[key], be.Name(), via, d)
						}
					}
				}
			}
			floor, ok := digestsOf(func(v TileVisitor) bool {
				return degenerateDigests(fa, fb, tc.m, tc.k, tc.n, nz, tc.g, v, degenerateMixOnly)
			})
			if !ok || len(floor) != ti*tj || floor[[2]int{0, 0}] == got[[2]int{0, 0}] {
				t.Fatalf("mix-only floor: %d tiles, digest matched: it must visit every tile and skip the arithmetic", len(floor))
			}
		})
	}
}

// degenerateKappa is the chunk sizes BenchmarkDegenerate tries: κ = r, the
// devnet job's 16, and 32. The shortcut's arithmetic scales as r/κ of honest.
var degenerateKappa = []int{8, 16, 32}

// BenchmarkDegenerate times, per ticket-equivalent (every tile digest of one
// n³ job product under one seed), honest mining of an all-zero job
// (NoisedTranscript on every CPU backend: what a miner runs per nonce; the
// kernels are dense, so zero operands cost what random ones do) against the
// degenerate shortcut (degenerate: true digests by the low-rank route, pure
// Go) and its mix-only floor (degenerate-mixonly: the same Go mix and hash
// of every P'(t) with no arithmetic). Each reports ratio = its time / the
// fastest honest backend's, measured just before (≥ 1: the shortcut loses).
func BenchmarkDegenerate(b *testing.B) {
	for _, n := range []int{256, 512, 1024} {
		for _, kappa := range degenerateKappa {
			g := Geometry{Tile: 64, Chunk: kappa}
			b.Run(fmt.Sprintf("n=%d/kappa=%d", n, kappa), func(b *testing.B) {
				zero := lowRank{}
				x, y := NewI8(n, n), NewI8(n, n)
				nz := NewNoise([32]byte{3}, n, n, n, devnetRank)
				macs := float64(n) * float64(n) * float64(n)
				honest := 0.0 // ns per op of the fastest honest backend
				perOp := map[string]float64{}
				for _, be := range benchBackends() {
					b.Run("honest-"+be.Name(), func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							NoisedTranscript(be, x, y, nz, g, func(int, int, [32]byte) bool { return true })
						}
						reportGMACs(b, macs)
						perOp[be.Name()] = float64(b.Elapsed().Nanoseconds()) / float64(b.N) // the last (longest) run
					})
				}
				for _, be := range benchBackends() {
					if t := perOp[be.Name()]; t > 0 && (honest == 0 || t < honest) {
						honest = t
					}
				}
				// A miner's other way to earn the same tickets: a synthetic
				// puzzle's transcript (κ_s = 512, fresh random operands; their
				// generation, about 0.9 ms per 1024³ puzzle, left out). Tickets
				// are weighted by MACs whatever the work, so per-MAC cost is the
				// per-ticket cost.
				synthetic := 0.0
				for _, be := range benchBackends() {
					b.Run("synthetic-"+be.Name(), func(b *testing.B) {
						xr, yr := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							NoisedTranscript(be, xr, yr, nz, devnetSynthetic, func(int, int, [32]byte) bool { return true })
						}
						reportGMACs(b, macs)
						if t := float64(b.Elapsed().Nanoseconds()) / float64(b.N); be.Name() != Portable().Name() && (synthetic == 0 || t < synthetic) {
							synthetic = t
						}
					})
				}
				// The product alone on each backend: the only part of honest
				// mining the shortcut can avoid (it still mixes and hashes every
				// P'(t)). Its per-chunk increment P'(t) − P'(t−1) = L·ΔG(t), with
				// ΔG(t) = ΔM(t)·R, fits int8 (|ΔG| ≤ r·κ for zero operands), so an
				// attacker as fast as the honest kernels does r MACs per entry
				// and chunk where honest mining does κ. model = (honest_X −
				// plain_X·(1 − r/κ)) / honest_best is that attacker's ratio on
				// backend X, assuming the rest of honest mining on X (mix, hash,
				// noise) is irreducible; ≥ 1 iff κ ≤ r.
				for _, be := range benchBackends() {
					b.Run("plain-"+be.Name(), func(b *testing.B) {
						xr, yr := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							be.MatMul(xr, yr)
						}
						reportGMACs(b, macs)
						if h := perOp[be.Name()]; h > 0 {
							plain := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
							b.ReportMetric(plain/h, "gemm-share")
							b.ReportMetric((h-plain*(1-float64(devnetRank)/float64(kappa)))/honest, "model")
						}
					})
				}
				for _, v := range []struct {
					name string
					mode degenerateMode
				}{{"degenerate", degenerateFull}, {"degenerate-mixonly", degenerateMixOnly}} {
					b.Run(v.name, func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							degenerateDigests(zero, zero, n, n, n, nz, g, func(int, int, [32]byte) bool { return true }, v.mode)
						}
						reportGMACs(b, macs)
						t := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
						if honest > 0 {
							b.ReportMetric(t/honest, "ratio")
						}
						if synthetic > 0 {
							b.ReportMetric(t/synthetic, "vs-synthetic")
						}
					})
				}
			})
		}
	}
}
