package compute

import (
	"fmt"
	"testing"
)

// TestDegenerateDigests plays the degenerate self-job: for the zero job both
// shortcuts (fused: NoisedTranscript of ELtiled·Gstacked with no noise; gemm:
// EL·G_t per chunk by MatMulInto) give NoisedTranscript's digests on every
// backend; for a rank-q A = L·R the low-rank route does too (and saves
// nothing: see degenerate.go).
func TestDegenerateDigests(t *testing.T) {
	for _, tc := range []struct {
		m, k, n, q int
		g          Geometry
	}{
		{128, 384, 128, 0, Geometry{Tile: 64, Chunk: 128}},
		{130, 300, 97, 0, Geometry{Tile: 64, Chunk: 128}}, // edge tiles, ragged chunk
		{50, 90, 40, 0, Geometry{Tile: 16, Chunk: 7}},
		{128, 256, 64, 4, Geometry{Tile: 64, Chunk: 128}}, // rank-4 A
		{70, 200, 66, 1, Geometry{Tile: 64, Chunk: 64}},   // rank-1 A, edge tiles
	} {
		t.Run(fmt.Sprintf("%dx%dx%d_q%d_b%d_k%d", tc.m, tc.n, tc.k, tc.q, tc.g.Tile, tc.g.Chunk), func(t *testing.T) {
			ti, tj := tc.g.Tiles(tc.m, tc.n)
			nz := NewNoise([32]byte{7, byte(tc.k)}, tc.m, tc.k, tc.n, tc.g)
			a, b := NewI8(tc.m, tc.k), NewI8(tc.k, tc.n)
			var l, rgt []int32
			if tc.q > 0 {
				x := NewXoshiro([32]byte{8, byte(tc.q)})
				l, rgt = make([]int32, tc.m*tc.q), make([]int32, tc.q*tc.k)
				for i := range l {
					l[i] = int32(x.Next()%11) - 5
				}
				for i := range rgt {
					rgt[i] = int32(x.Next()%11) - 5
				}
				for i := 0; i < tc.m; i++ { // |A| ≤ 4·25 = 100 ≤ OperandMax
					for kk := 0; kk < tc.k; kk++ {
						var s int32
						for p := 0; p < tc.q; p++ {
							s += l[i*tc.q+p] * rgt[p*tc.k+kk]
						}
						a.Data[i*tc.k+kk] = int8(s)
					}
				}
				b = clampI8(RandomI8([32]byte{9}, tc.k, tc.n))
			}
			for _, be := range attackBackends() {
				want, ok := attackDigests(func(v TileVisitor) bool { return NoisedTranscript(be, a, b, nz, tc.g, v) })
				if !ok || len(want) != ti*tj {
					t.Fatalf("%s: %d of %d honest digests", be.Name(), len(want), ti*tj)
				}
				check := func(what string, run func(TileVisitor) bool) {
					got, ok := attackDigests(run)
					if !ok || len(got) != ti*tj {
						t.Fatalf("%s %s: %d of %d digests", be.Name(), what, len(got), ti*tj)
					}
					for key, d := range want {
						if got[key] != d {
							t.Fatalf("%s %s tile %v: %x, honest %x", be.Name(), what, key, got[key], d)
						}
					}
				}
				if tc.q == 0 {
					check("fused", func(v TileVisitor) bool { return degenerateDigests(be, nz, tc.g, v, degenerateFused) })
					check("gemm", func(v TileVisitor) bool { return degenerateDigests(be, nz, tc.g, v, degenerateGEMM) })
				} else {
					check("low-rank", func(v TileVisitor) bool { return lowRankTranscript(l, rgt, tc.q, b, nz, tc.g, v) })
				}
			}
		})
	}
}

// TestSignDifference shows why π_t exists. In a hypothetical variant with
// π_t = identity, the zero job's chunk increment is ΔP(t) = EL·diag(s_t)·FR
// with s_t[c] = SA[tr+c]·SB[tr+c], so
//
//	ΔP(t) − ΔP(t−1) = Σ_{c : s_t[c] ≠ s_{t−1}[c]} 2·s_t[c]·EL[:,c]·FR[c,:],
//
// a product of inner dimension ≈ r/2 (the columns whose sign flipped): the
// attacker would do half the honest work per chunk. The test plays that
// attacker against NoisedTranscript of the variant's noise (digests equal),
// counts the flipped columns (≈ r/2), and checks that with the real π_t the
// difference G_t − G_{t−1} has (nearly) all r rows nonzero, so the trick
// buys nothing.
func TestSignDifference(t *testing.T) {
	m, k, n := 64, 512, 64
	g := Geometry{Tile: 64, Chunk: 128}
	r := g.Chunk
	T := k / r
	nz := NewNoise([32]byte{11}, m, k, n, g)
	el, fr := nz.Factors()

	// The real π_t: rows of G_t − G_{t−1} that vanish.
	gs := func(t, c int) (int, int8) { kk := t*r + c; return int(nz.Perm[t][c]), nz.SA[kk] * nz.SB[kk] }
	for tt := 1; tt < T; tt++ {
		same := 0
		for c := 0; c < r; c++ {
			p1, s1 := gs(tt, c)
			p0, s0 := gs(tt-1, c)
			if p1 == p0 && s1 == s0 {
				same++
			}
		}
		if same > r/8 {
			t.Fatalf("chunk %d: %d of %d rows of G_t − G_{t−1} vanish with the real π_t", tt, same, r)
		}
	}

	// The variant: π_t = identity (set before the noise is first used).
	id := NewNoise([32]byte{11}, m, k, n, g)
	for tt := range id.Perm {
		for c := range id.Perm[tt] {
			id.Perm[tt][c] = uint8(c)
		}
	}
	want, _ := attackDigests(func(v TileVisitor) bool { return NoisedTranscript(CPU(), NewI8(m, k), NewI8(k, n), id, g, v) })
	s := func(kk int) int32 { return int32(id.SA[kk] * id.SB[kk]) }
	dp := make([]int32, m*n) // ΔP(t)
	p := make([]int32, m*n)  // P(t)
	z := make([]uint32, T)
	flipped := 0
	for tt := 0; tt < T; tt++ {
		for c := 0; c < r; c++ {
			kk := tt * r
			var coef int32
			switch {
			case tt == 0:
				coef = s(kk + c)
			case s(kk+c) != s(kk-r+c):
				coef = 2 * s(kk+c)
				flipped++
			default:
				continue
			}
			for i := 0; i < m; i++ {
				e := coef * int32(el[i*r+c])
				for j := 0; j < n; j++ {
					dp[i*n+j] += e * int32(fr[c*n+j])
				}
			}
		}
		for i := range p {
			p[i] += dp[i]
		}
		z[tt] = mix(p, m, n, n, g.Tile)
	}
	if d := digestWords(z); d != want[[2]int{0, 0}] {
		t.Fatalf("sign-difference digest %x, NoisedTranscript %x", d, want[[2]int{0, 0}])
	}
	if per := float64(flipped) / float64(T-1); per < float64(r)/4 || per > 3*float64(r)/4 {
		t.Fatalf("%.1f flipped columns per chunk, want ≈ r/2 = %d", per, r/2)
	}
	t.Logf("identity π_t: %.1f of %d columns per chunk flip sign (inner dimension of the update)", float64(flipped)/float64(T-1), r)
}

// BenchmarkDegenerate times, per ticket-equivalent (every tile digest of one
// n³ job product under one new seed, the noise drawn inside the loop),
// honest mining of the all-zero job (NoisedTranscript with noise, every
// backend) against the shortcuts on the best backend: shortcut-gemm (EL·G_t
// per chunk by MatMulInto, Go add and mix) and shortcut-fused
// (NoisedTranscript of ELtiled·Gstacked without noise). ratio = time / the
// best honest backend's in the same run (≥ 1: the shortcut loses).
func BenchmarkDegenerate(b *testing.B) {
	visit := func(int, int, [32]byte) bool { return true }
	for _, n := range []int{256, 512, 1024} {
		g := devnetJob // κ = r = 256
		b.Run(fmt.Sprintf("n=%d/kappa=%d", n, g.Chunk), func(b *testing.B) {
			x, y := NewI8(n, n), NewI8(n, n)
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
			for _, v := range []struct {
				name string
				mode degenerateMode
			}{{"shortcut-gemm", degenerateGEMM}, {"shortcut-fused", degenerateFused}} {
				b.Run(v.name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						nz := NewNoise([32]byte{3, byte(i), byte(i >> 8)}, n, n, n, g)
						degenerateDigests(be, nz, g, visit, v.mode)
					}
					reportGMACs(b, macs)
					if honest > 0 {
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/honest, "ratio")
					}
				})
			}
		})
	}
}
