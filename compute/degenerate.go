package compute

// The degenerate self-job on noise v2 (docs/protocol.md §3, issue 9): a miner
// submits its own all-zero (or low-rank) job, pays the burn once and grinds
// nonces over it. Played as well as this package's kernels allow, so that its
// cost per ticket-equivalent can be measured against honest mining
// (BenchmarkDegenerate) and its digests checked against NoisedTranscript
// (TestDegenerateDigests). Nothing in production calls it.
//
// For A = B = 0 the noised operands are E and F, and chunk t (k = tr + c,
// c < r_t) adds
//
//	ΔP'(t) = Σ_c E[:,k]·F[k,:] = EL · G_t,
//	G_t[c][:] = SA[k]·SB[k]·FR[π_t(c)][:]   (r_t×N int8: Π_t·FR, a signed
//	                                         row permutation of FR),
//
// so the attacker's best known shortcut forms G_t (O(rN), cheap) and runs one
// int8 GEMM of inner dimension r_t = κ per chunk: exactly the honest work.
// degenerateGEMM does that with one MatMulInto per chunk plus a Go add and
// mix. The fused form is better still and is what degenerateFused plays:
// stacked over chunks, ELtiled = [EL EL … EL] (M×K, ELtiled[i][k] =
// EL[i][k mod r]) times Gstacked = [G_0 ; G_1 ; …] (K×N) is a plain int8
// product whose honest transcript (NoisedTranscript with no noise) is
// exactly the attacker's P'(t). So the shortcut costs one honest transcript
// minus the noise application (and it has to build ELtiled and Gstacked,
// which is the same O(MK + KN) pass): parity by construction, plus the burn.
//
// Low rank does not help either: for A = L·R (rank q), chunk t of A' is
// A_t + EL·ER_t = [L | EL]·[R_t ; ER_t], inner dimension q + r_t > κ, and
// forming [R_t ; ER_t]·B'_t costs (q + r_t)·r_t·N per chunk before the
// (q + r_t)-deep product: more than honest κ-deep mining (see
// lowRankTranscript, checked in TestDegenerateDigests).

// degenerateOperands returns ELtiled (M×K) and Gstacked (K×N) for noise nz:
// the fused shortcut's factors of the zero job's noised product.
func degenerateOperands(nz *Noise) (elTiled, gStacked I8) {
	m, k, n, r := nz.M, nz.K, nz.N, nz.Rank
	el, fr := nz.Factors()
	idx := nz.frRows()
	elTiled, gStacked = NewI8(m, k), NewI8(k, n)
	parallelFor(m, func(_, i int) bool {
		row := elTiled.Row(i)
		for k0 := 0; k0 < k; k0 += r {
			copy(row[k0:min(k0+r, k)], el[i*r:])
		}
		return true
	})
	parallelFor(attackChunks(k, r), func(_, t int) bool {
		for kk := t * r; kk < min((t+1)*r, k); kk++ {
			src := fr[int(idx[kk])*n : (int(idx[kk])+1)*n]
			dst := gStacked.Row(kk)
			if s := nz.SA[kk] * nz.SB[kk]; s > 0 {
				copy(dst, src)
			} else {
				for j, v := range src {
					dst[j] = -v
				}
			}
		}
		return true
	})
	return elTiled, gStacked
}

// degenerateMode says which shortcut degenerateDigests plays.
type degenerateMode int

const (
	// degenerateFused: NoisedTranscript(be, ELtiled, Gstacked, nil, …).
	degenerateFused degenerateMode = iota
	// degenerateGEMM: per chunk ΔP = EL·G_t by MatMulInto, Go add and mix.
	degenerateGEMM
)

// degenerateDigests produces every tile digest of the zero job's noised
// product under nz (A = B = 0, M×K by K×N as nz says) on be, without
// applying noise to operands, passing each to visit like NoisedTranscript.
func degenerateDigests(be Backend, nz *Noise, g Geometry, visit TileVisitor, mode degenerateMode) bool {
	mustNoiseGeometry(nz, g)
	elTiled, gStacked := degenerateOperands(nz)
	if mode == degenerateFused {
		return NoisedTranscript(be, elTiled, gStacked, nil, g, visit)
	}
	m, k, n, r := nz.M, nz.K, nz.N, nz.Rank
	var elt I8
	return chunkGEMMTranscript(m, n, attackChunks(k, r), g, func(t int, d I32) {
		k0, rt := t*r, min(r, k-t*r)
		if elt.Cols != rt {
			elt = NewI8(m, rt)
			for i := 0; i < m; i++ {
				copy(elt.Row(i), elTiled.Row(i)[:rt]) // EL[:, :r_t]
			}
		}
		MatMulInto(be, d, elt, I8{Rows: rt, Cols: n, Data: gStacked.Data[k0*n : (k0+rt)*n]})
	}, nil, visit)
}

// lowRankTranscript is a correct low-rank route for A = L·R (L M×q, R q×K,
// int32 factors) and any B: per chunk H_t = [R_t ; ER_t]·B'_t ((q+r_t)×N)
// and ΔP'(t) = [L | EL]·H_t. It saves nothing (inner dimension q + r_t > κ
// on top of forming H_t); it exists to check that claim's algebra against
// the honest digests. Scalar Go, for tests on small sizes.
func lowRankTranscript(l, rgt []int32, q int, b I8, nz *Noise, g Geometry, visit TileVisitor) bool {
	m, k, n, r := nz.M, nz.K, nz.N, nz.Rank
	el, _ := nz.Factors()
	bp := nz.noisedBWhole(b) // B' = B + F
	return chunkGEMMTranscript(m, n, attackChunks(k, r), g, func(t int, d I32) {
		k0, rt := t*r, min(r, k-t*r)
		h := make([]int32, (q+rt)*n)
		for p := 0; p < q; p++ { // R_t·B'_t
			for c := 0; c < rt; c++ {
				f := rgt[p*k+k0+c]
				for j, v := range bp.Row(k0 + c) {
					h[p*n+j] += f * int32(v)
				}
			}
		}
		for c := 0; c < rt; c++ { // ER_t·B'_t: row c is SA[k]·B'[k]
			for j, v := range bp.Row(k0 + c) {
				h[(q+c)*n+j] = int32(nz.SA[k0+c]) * int32(v)
			}
		}
		for i := 0; i < m; i++ {
			out := d.Data[i*n : (i+1)*n]
			clear(out)
			for p := 0; p < q+rt; p++ {
				var f int32
				if p < q {
					f = l[i*q+p]
				} else {
					f = int32(el[i*r+p-q])
				}
				for j, v := range h[p*n : (p+1)*n] {
					out[j] += f * v
				}
			}
		}
	}, nil, visit)
}
