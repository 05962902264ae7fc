package compute

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

// The reuse attack on noise v2 (docs/protocol.md §3, issue 9), played as well
// as this package's kernels allow, so that its cost per new seed can be
// measured against honest mining (BenchmarkReuse) and its digests checked
// against NoisedTranscript (TestReuseDigests). Nothing in production calls it.
//
// The attacker multiplied A by B once and kept, for every tile and chunk, the
// partial sums of A·B: M·N·T int32 words (T = ⌈K/κ⌉). It keeps them as the
// per-chunk increments ΔS(t) = S(t) − S(t−1), S(t) = Σ_{k<tκ} A·B: the same
// words and the same information, but one add per entry and chunk into a
// running accumulator instead of a read of S(t) and of S(t−1). For a new
// seed, A'B' − AB = A·F + E·B', so with r = κ
//
//	P'(t) = S(t) + X_t·FR + EL·Y_t,
//	X_t[i][c] = Σ_{k<tκ, π_{t(k)}(k mod r) = c} SB[k]·A[i][k]   (M×r),
//	Y_t[c][j] = Σ_{k<tκ, k mod r = c} SA[k]·B'[k][j]            (r×N).
//
// Chunk t adds one k to each column c of X and each row c of Y, so the
// increments ΔX_t and ΔY_t are int8 and the correction's increment is one
// int8 GEMM of inner dimension 2r:
//
//	ΔP'(t) = ΔS(t) + [ΔX_t | EL] · [FR ; ΔY_t].
//
// Laid side by side over all chunks, [ΔX_0 | EL | ΔX_1 | EL | …] (M×2K) times
// [FR ; ΔY_0 ; FR ; ΔY_1 ; …] (2K×N) is a plain product whose transcript in
// chunks of 2r is the cumulative correction; adding ΔS(t) to the running
// accumulators before each chunk's mix gives exactly P'(t). reuseFull runs
// that on the honest SIMD transcript kernel (fusedTranscript: same GEMM, mix
// and chunk walk as a miner's); reuseGEMM runs it as one MatMulInto per
// chunk plus a Go add and mix. Either way the attacker does 2r MACs per
// entry and chunk where an honest miner does κ = r, plus the stream of the
// stored words: reuse loses by construction at κ = r.

// reuseStore is what the attacker keeps of one product A·B.
type reuseStore struct {
	m, k, n        int
	g              Geometry
	chunks, ti, tj int
	// sums holds tile (I, J)'s increments ΔS(t) at offs[I·tj+J]: chunk-major,
	// then the tile's h×w entries row-major.
	sums []int32
	offs []int
}

// newReuseStore multiplies A by B once (chunk by chunk, on be) and keeps every
// tile's per-chunk increments.
func newReuseStore(be Backend, a, b I8, g Geometry) *reuseStore {
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	s := &reuseStore{m: m, k: k, n: n, g: g, chunks: attackChunks(k, g.Chunk)}
	s.ti, s.tj = g.Tiles(m, n)
	s.offs = make([]int, s.ti*s.tj+1)
	for q := 0; q < s.ti*s.tj; q++ {
		h, w := g.TileShape(m, n, q/s.tj, q%s.tj)
		s.offs[q+1] = s.offs[q] + s.chunks*h*w
	}
	s.sums = make([]int32, s.offs[len(s.offs)-1])
	d := NewI32(m, n)
	for t := 0; t < s.chunks; t++ {
		k0, k1 := t*g.Chunk, min((t+1)*g.Chunk, k)
		at := NewI8(m, k1-k0)
		for i := 0; i < m; i++ {
			copy(at.Row(i), a.Row(i)[k0:k1])
		}
		bt := I8{Rows: k1 - k0, Cols: n, Data: b.Data[k0*n : k1*n]}
		MatMulInto(be, d, at, bt)
		for q := 0; q < s.ti*s.tj; q++ {
			I, J := q/s.tj, q%s.tj
			h, w := g.TileShape(m, n, I, J)
			out := s.sums[s.offs[q]+t*h*w:][:h*w]
			for ii := 0; ii < h; ii++ {
				copy(out[ii*w:(ii+1)*w], d.Data[(I*g.Tile+ii)*n+J*g.Tile:])
			}
		}
	}
	return s
}

// words is how many int32 words the attacker stores (and streams per seed).
func (s *reuseStore) words() int { return len(s.sums) }

// tileSums is tile (I, J)'s increment ΔS(t), h×w row-major.
func (s *reuseStore) tileSums(I, J, t int) []int32 {
	h, w := s.g.TileShape(s.m, s.n, I, J)
	return s.sums[s.offs[I*s.tj+J]+t*h*w:][:h*w]
}

// reuseMode says how much of the attack reuseDigests plays.
type reuseMode int

const (
	// reuseFull: the true digests on the SIMD transcript kernel (falls back
	// to reuseGEMM on a backend without one).
	reuseFull reuseMode = iota
	// reuseGEMM: the true digests, one MatMulInto of inner dimension 2r per
	// chunk, Go add and mix.
	reuseGEMM
	// reuseMixOnly adds the stored ΔS(t) into the running sums and mixes
	// them (wrong digests, no correction): on a SIMD backend through the
	// kernel with a one-step zero product per chunk, so the mix is the
	// honest SIMD one. A floor under any reuse attacker.
	reuseMixOnly
	// reuseStream only reads every stored word (wrong digests): the floor
	// set by this machine's memory bandwidth.
	reuseStream
)

// reuseOperands builds, for noise nz, the attacker's two int8 factors of the
// correction: xa = [ΔX_0 | EL | ΔX_1 | EL | …] (M×2K) and yb = [FR ; ΔY_0 ;
// FR ; ΔY_1 ; …] (2K×N); chunk t occupies 2·r_t columns (rows) from 2rt,
// r_t = min(r, K − tr). It needs A, B and the noise, never A·B.
func reuseOperands(a, b I8, nz *Noise) (xa, yb I8) {
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	r := nz.Rank
	el, fr := nz.Factors()
	idx := nz.frRows()
	xa, yb = NewI8(m, 2*k), NewI8(2*k, n)
	T := attackChunks(k, r)
	parallelFor(m, func(_, i int) bool {
		arow, dst := a.Row(i), xa.Row(i)
		for t := 0; t < T; t++ {
			k0, rt := t*r, min(r, k-t*r)
			base := 2 * k0
			p := nz.Perm[t]
			for c := 0; c < rt; c++ {
				dst[base+int(p[c])] = nz.SB[k0+c] * arow[k0+c] // ΔX_t
			}
			copy(dst[base+rt:base+2*rt], el[i*r:i*r+rt]) // EL
		}
		return true
	})
	parallelFor(T, func(_, t int) bool {
		k0, rt := t*r, min(r, k-t*r)
		base := 2 * k0
		copy(yb.Data[base*n:(base+rt)*n], fr[:rt*n]) // FR
		for c := 0; c < rt; c++ {
			kk := k0 + c
			row := yb.Row(base + rt + c) // ΔY_t row c = SA[k]·B'[k]
			addSigned(row, b.Row(kk), fr[int(idx[kk])*n:(int(idx[kk])+1)*n], nz.SB[kk])
			if nz.SA[kk] < 0 {
				for j, v := range row {
					row[j] = -v
				}
			}
		}
		return true
	})
	return xa, yb
}

// reuseDigests produces every tile digest of A'B' for noise nz from the
// stored increments, the correction computed on be, passing each digest to
// visit like NoisedTranscript. The floors (reuseMixOnly, reuseStream) give
// wrong digests.
func (s *reuseStore) reuseDigests(be Backend, a, b I8, nz *Noise, visit TileVisitor, mode reuseMode) bool {
	if a.Rows != s.m || a.Cols != s.k || b.Rows != s.k || b.Cols != s.n {
		panic(fmt.Sprintf("compute: reuse store is %d×%d×%d, operands %d×%d·%d×%d", s.m, s.k, s.n, a.Rows, a.Cols, b.Rows, b.Cols))
	}
	g := s.g
	if nz != nil {
		mustNoiseGeometry(nz, g)
	}
	// preAcc adds ΔS(t) into the kernel's accumulators (rows attackAccStride apart).
	preAcc := func(I, J, t int, acc []int32) {
		_, w := g.TileShape(s.m, s.n, I, J)
		src := s.tileSums(I, J, t)
		for ii := 0; ii*w < len(src); ii++ {
			row := acc[ii*attackAccStride : ii*attackAccStride+w]
			for jj, v := range src[ii*w : (ii+1)*w] {
				row[jj] += v
			}
		}
	}
	// preRun adds ΔS(t) into chunkGEMMTranscript's running sums (h×w).
	preRun := func(I, J, t int, p []int32) {
		for j, v := range s.tileSums(I, J, t) {
			p[j] += v
		}
	}
	switch mode {
	case reuseStream:
		return s.stream(visit)
	case reuseMixOnly:
		// A zero one-column-per-chunk product: the kernel's chunk walk and
		// mix with (next to) no GEMM.
		za, zb := NewI8(s.m, s.chunks), NewI8(s.chunks, s.n)
		if handled, ok := fusedTranscript(be, za, zb, Geometry{Tile: g.Tile, Chunk: 1}, preAcc, visit); handled {
			return ok
		}
		return chunkGEMMTranscript(s.m, s.n, s.chunks, g, func(int, I32) {}, preRun, visit)
	}
	xa, yb := reuseOperands(a, b, nz)
	g2 := Geometry{Tile: g.Tile, Chunk: 2 * g.Chunk}
	if mode == reuseFull {
		if handled, ok := fusedTranscript(be, xa, yb, g2, preAcc, visit); handled {
			return ok
		}
	}
	r, k, m, n := g.Chunk, s.k, s.m, s.n
	var xt I8
	return chunkGEMMTranscript(m, n, s.chunks, g, func(t int, d I32) {
		k0, rt := t*r, min(r, k-t*r)
		if xt.Cols != 2*rt {
			xt = NewI8(m, 2*rt)
		}
		for i := 0; i < m; i++ {
			copy(xt.Row(i), xa.Row(i)[2*k0:2*k0+2*rt])
		}
		MatMulInto(be, d, xt, I8{Rows: 2 * rt, Cols: n, Data: yb.Data[2*k0*n : (2*k0+2*rt)*n]})
	}, preRun, visit)
}

// stream reads every stored word, eight independent sums per tile so that the
// loop is bound by memory, not by an add chain.
func (s *reuseStore) stream(visit TileVisitor) bool {
	var stop atomic.Bool
	return parallelFor(s.ti*s.tj, func(_, q int) bool {
		if stop.Load() {
			return false
		}
		sums := s.sums[s.offs[q]:s.offs[q+1]]
		var x [8]int32
		i := 0
		for ; i+8 <= len(sums); i += 8 {
			v := sums[i : i+8 : i+8]
			x[0] += v[0]
			x[1] += v[1]
			x[2] += v[2]
			x[3] += v[3]
			x[4] += v[4]
			x[5] += v[5]
			x[6] += v[6]
			x[7] += v[7]
		}
		for ; i < len(sums); i++ {
			x[0] += sums[i]
		}
		var d [32]byte
		for l, v := range x {
			binary.LittleEndian.PutUint32(d[4*l:], uint32(v))
		}
		if visit != nil && !visit(q/s.tj, q%s.tj, d) {
			stop.Store(true)
			return false
		}
		return true
	})
}
