package compute

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/crypto/keccak"
)

// The int8 noised transcript ("option (b)") of the avx512-vnni backend.
//
// P'(t) = Σ_{k<tκ} (A+E)[:,k]·(B+F)[k,:] is never built from A' = A+E and
// B' = B+F. Writing F = FL·FR and E = EL·ER,
//
//	P'(t) = Σ_{k<tκ} A·B + CX'_t·FR + EL·CYB_t,
//	CX'_t = Σ_{k<tκ} A'[:,k]·FL[k,:] = Σ_{k<tκ} A·FL + EL·(ER·FL)   (M×r)
//	CYB_t = Σ_{k<tκ} ER[:,k]·B[k,:]                                  (r×N)
//
// so the main loop is MatMul's VPDPBUSD on int8 A against B+128 (which adds
// 128·rowsum(A) per chunk), and after each chunk the kernel adds the chunk's
// increments ΔCX'·FR + EL·ΔCYB − 128·Δrowsum(A) as a few int16 pair steps
// (VPDPWSSD) before mixing. Integer sums are exact, so the accumulators hold
// exactly the P'(t) of the portable path at every mix.
//
// The increments themselves are O(n²r) and computed with VPDPBUSD too
// (noiseRows512, noiseCols512). Correction pair steps per chunk:
//   - packed (every |ΔCX'|, |ΔCYB| fits int16): r steps (ΔCX'_q, EL_q)·(FR_q, ΔCYB_q);
//   - radix (otherwise): 2r steps (lo, hi)(ΔCX'_q)·(FR_q, 4096·FR_q) and
//     (EL_q, 4096·EL_q)·(lo, hi)(ΔCYB_q);
//
// plus one step (lo, hi)(−128·Δrowsum)·(1, 4096). Which one is used changes
// the speed only, never a bit of the result.
const (
	quadMaxRank  = 8    // noiseRows512 / noiseCols512 hold 8 ranks
	quadMaxChunk = 8191 // keeps G = ER·FL per chunk and −128·Δrowsum>>12 inside int16
	rowOuts      = quadMaxRank + 1
	rowBlock     = 16 // rows per noiseRows512 call
)

// forceRadix makes every product use the radix correction steps (tests).
var forceRadix = false

// quadNoise is the noise laid out for the int8 kernels.
type quadNoise struct {
	l        kLayout
	r, pairs int
	fl       []int8   // steps × 9 signed quads: FL[k, q] (q < r), 1 (q = 8)
	er       []int8   // steps × 8 signed quads: ER[q, k]
	flBias   []int32  // chunks × 9: −128·Σ_chunk fl (undoes A+128)
	erBias   []int32  // chunks × 8: −128·Σ_chunk er (undoes B+128)
	g        []uint32 // chunks × pairs × 8 int16 pairs (G[2p, q], G[2p+1, q]), G = ER·FL per chunk
}

func newQuadNoise(nz *Noise, l kLayout) *quadNoise {
	r := nz.Rank
	qn := &quadNoise{l: l, r: r, pairs: (r + 1) / 2}
	qn.fl = make([]int8, l.steps*4*rowOuts)
	qn.er = make([]int8, l.steps*4*quadMaxRank)
	qn.flBias = make([]int32, l.chunks*rowOuts)
	qn.erBias = make([]int32, l.chunks*quadMaxRank)
	gsum := make([]int32, l.chunks*quadMaxRank*quadMaxRank)
	// Chunks write disjoint slots, biases and G sums: one task per chunk.
	parallelFor(l.chunks, func(_, t int) bool {
		qn.chunkNoise(nz, t, gsum)
		return true
	})
	qn.g = make([]uint32, l.chunks*qn.pairs*quadMaxRank)
	for t := 0; t < l.chunks; t++ {
		for p := 0; p < qn.pairs; p++ {
			for q := 0; q < r; q++ {
				x := int16(gsum[(t*quadMaxRank+2*p)*quadMaxRank+q])
				var y int16
				if 2*p+1 < r {
					y = int16(gsum[(t*quadMaxRank+2*p+1)*quadMaxRank+q])
				}
				qn.g[(t*qn.pairs+p)*quadMaxRank+q] = pair(x, y)
			}
		}
	}
	return qn
}

// chunkNoise lays out chunk t's FL and ER quads, adds their −128·Σ biases
// and sums G = ER·FL into gsum.
func (qn *quadNoise) chunkNoise(nz *Noise, t int, gsum []int32) {
	l, r, k := qn.l, qn.r, qn.l.k
	var (
		g      [quadMaxRank][quadMaxRank]int32 // G[q][p], this chunk
		fb, eb [quadMaxRank]int32              // Σ FL[·, q], Σ ER[q, ·]
		fr     [quadMaxRank]int32
	)
	for kk := t * l.chunk; kk < min(k, (t+1)*l.chunk); kk++ {
		slot := l.slot(kk)
		s, bt := slot/4, slot%4
		fl := qn.fl[s*4*rowOuts : (s+1)*4*rowOuts]
		er := qn.er[s*4*quadMaxRank : (s+1)*4*quadMaxRank]
		for q, f := range nz.FL[kk*r : kk*r+r] {
			fl[q*4+bt] = f
			fr[q] = int32(f)
			fb[q] += int32(f)
		}
		fl[quadMaxRank*4+bt] = 1
		for q := 0; q < r; q++ {
			e := nz.ER[q*k+kk]
			er[q*4+bt] = e
			ev := int32(e)
			eb[q] += ev
			for p := range fr { // branch-free: e is 0 a third of the time
				g[q][p] += ev * fr[p]
			}
		}
	}
	n := min(k, (t+1)*l.chunk) - t*l.chunk
	for q := 0; q < r; q++ {
		qn.flBias[t*rowOuts+q] = -128 * fb[q]
		qn.erBias[t*quadMaxRank+q] = -128 * eb[q]
		copy(gsum[(t*quadMaxRank+q)*quadMaxRank:], g[q][:r])
	}
	qn.flBias[t*rowOuts+quadMaxRank] = -128 * int32(n)
}

// at is a pointer to s[i], or nil past the end (for arguments a kernel will not read).
func at[T any](s []T, i int) *byte {
	if i >= len(s) {
		return nil
	}
	return ptr(s[i:])
}

// quadRows is one tile row's A side: packed int8 A, the per-chunk ΔCX' and
// Δrowsum (raw: blocks × chunks × 9 × 16 lanes), and then its correction stream.
type quadRows struct {
	pan  []byte // from planBufs: quadPlan.release returns it
	raw  []int32
	ca   []uint32 // 16 groups × chunks × csteps × 4 rows
	corr []byte   // final denoising steps (corrA)
}

type quadCols struct {
	pan  []byte   // from planBufs, like quadRows.pan
	raw  []int32  // chunks × 8 × 64: ΔCYB
	cb   []uint32 // chunks × csteps × 64
	corr []byte
}

func fitsInt16(v int32) bool { return v == int32(int16(v)) }

// buildRows packs rows [i0, i0+h) and computes their increments; it adds
// their CX'_T into afl and reports whether every ΔCX' fits int16.
func (qn *quadNoise) buildRows(a I8, nz *Noise, i0, h int, afl []int32) (*quadRows, bool) {
	l, r, T := qn.l, qn.r, qn.l.chunks
	// packAGroups8 writes every group it packs: all of them for a full tile.
	qr := &quadRows{pan: getPlanBuf(blockGrps*l.stride*16, h < blockGrps*groupRows)}
	packAGroups8(l, qr.pan, h, func(i int) []int8 { return a.Row(i0 + i) })
	blocks := (h + rowBlock - 1) / rowBlock
	qr.raw = make([]int32, blocks*T*rowOuts*rowBlock)
	elp := make([]uint32, qn.pairs*rowBlock)
	fits := true
	aStride := l.stride * 16
	for b := 0; b < blocks; b++ {
		clear(elp)
		for lane := 0; lane < rowBlock && b*rowBlock+lane < h; lane++ {
			i := i0 + b*rowBlock + lane
			for p := 0; p < qn.pairs; p++ {
				x := int16(nz.EL[i*r+2*p])
				var y int16
				if 2*p+1 < r {
					y = int16(nz.EL[i*r+2*p+1])
				}
				elp[p*rowBlock+lane] = pair(x, y)
			}
		}
		apan := qr.pan[b*4*aStride:]
		raw := qr.raw[b*T*rowOuts*rowBlock:]
		if T > 1 {
			noiseRows512(&apan[0], aStride, at(qn.fl, 0), at(elp, 0), at(qn.g, 0), &qn.flBias[0], &raw[0], T-1, l.chunkSteps, qn.pairs)
		}
		s0 := (T - 1) * l.chunkSteps
		noiseRows512(&apan[s0*16], aStride, at(qn.fl, s0*4*rowOuts), at(elp, 0), at(qn.g, (T-1)*qn.pairs*quadMaxRank),
			&qn.flBias[(T-1)*rowOuts], &raw[(T-1)*rowOuts*rowBlock], 1, l.lastSteps, qn.pairs)
		for lane := 0; lane < rowBlock && b*rowBlock+lane < h; lane++ {
			i := i0 + b*rowBlock + lane
			for q := 0; q < r; q++ {
				var sum int32
				for t := 0; t < T; t++ {
					v := raw[(t*rowOuts+q)*rowBlock+lane]
					fits = fits && fitsInt16(v)
					sum += v
				}
				afl[i*r+q] = sum
			}
		}
	}
	return qr, fits
}

// buildCols packs columns [j0, j0+w) and computes their ΔCYB; it fills those
// columns of CYB_T in erb and reports whether every ΔCYB fits int16.
func (qn *quadNoise) buildCols(b I8, j0, w int, erb []int32) (*quadCols, bool) {
	l, r, T, n := qn.l, qn.r, qn.l.chunks, b.Cols
	qc := &quadCols{pan: getPlanBuf(l.steps*256, false)} // packBPanel8 writes every step
	packBPanel8(l, qc.pan, b, j0, w)
	if r == 0 {
		return qc, true
	}
	qc.raw = make([]int32, T*quadMaxRank*panelCols)
	if T > 1 {
		noiseCols512(&qc.pan[0], at(qn.er, 0), &qn.erBias[0], &qc.raw[0], T-1, l.chunkSteps)
	}
	s0 := (T - 1) * l.chunkSteps
	noiseCols512(&qc.pan[s0*256], at(qn.er, s0*4*quadMaxRank), &qn.erBias[(T-1)*quadMaxRank],
		&qc.raw[(T-1)*quadMaxRank*panelCols], 1, l.lastSteps)
	fits := true
	for q := 0; q < r; q++ {
		for jj := 0; jj < w; jj++ {
			var sum int32
			for t := 0; t < T; t++ {
				v := qc.raw[(t*quadMaxRank+q)*panelCols+jj]
				fits = fits && fitsInt16(v)
				sum += v
			}
			erb[q*n+j0+jj] = sum
		}
	}
	return qc, fits
}

// corrSteps is the number of pair steps added after each chunk.
func corrSteps(r int, packed bool) int {
	if packed {
		return r + 1
	}
	return 2*r + 1
}

// streamRows writes the A side of the per-chunk correction steps.
func (qn *quadNoise) streamRows(qr *quadRows, nz *Noise, i0, h int, packed bool) {
	r, T := qn.r, qn.l.chunks
	cs := corrSteps(r, packed)
	qr.ca = make([]uint32, blockGrps*T*cs*groupRows)
	for ii := 0; ii < h; ii++ {
		i := i0 + ii
		b, lane := ii/rowBlock, ii%rowBlock
		raw := qr.raw[b*T*rowOuts*rowBlock:]
		for t := 0; t < T; t++ {
			out := qr.ca[((ii/groupRows*T+t)*cs)*groupRows+ii%groupRows:]
			for q := 0; q < r; q++ {
				v := raw[(t*rowOuts+q)*rowBlock+lane]
				e := int16(nz.EL[i*r+q])
				if packed {
					out[q*groupRows] = pair(int16(v), e)
				} else {
					out[q*groupRows] = pair(splitRadix(v))
					out[(r+q)*groupRows] = pair(e, corrRadix*e)
				}
			}
			rs := raw[(t*rowOuts+quadMaxRank)*rowBlock+lane]
			out[(cs-1)*groupRows] = pair(splitRadix(-128 * rs))
		}
	}
}

// streamCols writes the B side of the per-chunk correction steps.
func (qn *quadNoise) streamCols(qc *quadCols, nz *Noise, n, j0, w int, packed bool) {
	r, T := qn.r, qn.l.chunks
	cs := corrSteps(r, packed)
	qc.cb = make([]uint32, T*cs*panelCols)
	one := pair(1, corrRadix)
	for t := 0; t < T; t++ {
		out := qc.cb[t*cs*panelCols:]
		for q := 0; q < r; q++ {
			fr := nz.FR[q*n+j0 : q*n+j0+w]
			raw := qc.raw[(t*quadMaxRank+q)*panelCols:]
			for jj, f := range fr {
				v := raw[jj]
				if packed {
					out[q*panelCols+jj] = pair(int16(f), int16(v))
				} else {
					out[q*panelCols+jj] = pair(int16(f), corrRadix*int16(f))
					out[(r+q)*panelCols+jj] = pair(splitRadix(v))
				}
			}
		}
		last := out[(cs-1)*panelCols : cs*panelCols]
		for jj := range last {
			last[jj] = one
		}
	}
}

// quadTile runs one tile's transcript on the int8 layout.
func quadTile(l kLayout, qr *quadRows, qc *quadCols, cs, h, w int, acc []int32, stop *atomic.Bool) ([32]byte, bool) {
	var digest [32]byte
	gs := (h + groupRows - 1) / groupRows
	clear(acc[:gs*groupRows*panelCols])
	salt := fullSalt()
	if h < panelCols || w < panelCols {
		salt = saltTable(h, w)
	}
	T := l.chunks
	z := make([]uint64, T)
	per := max(1, blockSteps/(l.chunkSteps+cs)) // chunks per call
	caStride := T * cs * 16
	if l.chunkSteps > blockSteps {
		// Long chunks: K-blocks of blockSteps steps (B stays in L1 across the
		// groups), the chunk's corrections and mix with its last block.
		for t := 0; t < T; t++ {
			steps := l.chunkSteps
			if t == T-1 {
				steps = l.lastSteps
			}
			s0 := t * l.chunkSteps
			for ; steps > blockSteps; steps -= blockSteps {
				noisedQuads512(&qr.pan[s0*16], &qc.pan[s0*256], &acc[0], &salt[0], nil, l.stride*16, gs, 1, blockSteps,
					nil, nil, caStride, 0)
				s0 += blockSteps
			}
			noisedQuads512(&qr.pan[s0*16], &qc.pan[s0*256], &acc[0], &salt[0], &z[t], l.stride*16, gs, 1, steps,
				ptr(qr.ca[t*cs*groupRows:]), ptr(qc.cb[t*cs*panelCols:]), caStride, cs)
			if stop != nil && stop.Load() {
				return digest, false
			}
		}
		return transcriptDigest(z), true
	}
	for c0 := 0; c0 < T; {
		nc, steps := min(per, T-1-c0), l.chunkSteps
		if nc == 0 {
			nc, steps = 1, l.lastSteps
		}
		s0 := c0 * l.chunkSteps
		noisedQuads512(&qr.pan[s0*16], &qc.pan[s0*256], &acc[0], &salt[0], &z[c0], l.stride*16, gs, nc, steps,
			ptr(qr.ca[c0*cs*groupRows:]), ptr(qc.cb[c0*cs*panelCols:]), caStride, cs)
		c0 += nc
		if stop != nil && stop.Load() {
			return digest, false
		}
	}
	return transcriptDigest(z), true
}

// transcriptDigest is Keccak-256(z(1) ‖ … ‖ z(T)), each z big-endian.
func transcriptDigest(z []uint64) (digest [32]byte) {
	h3 := keccak.NewLegacyKeccak256()
	buf := make([]byte, 8*len(z))
	for t, v := range z {
		binary.BigEndian.PutUint64(buf[8*t:], v)
	}
	h3.Write(buf)
	h3.Sum(digest[:0])
	return digest
}

// quadsUsable reports whether the int8 transcript handles this product.
func (s *simd) quadsUsable(nz *Noise, g Geometry, k int) bool {
	return s.quads != nil && g.Tile == panelCols && k > 0 && nz != nil &&
		nz.Rank >= 0 && nz.Rank <= quadMaxRank && min(g.Chunk, k) <= quadMaxChunk
}

// quadPlan is the prepared int8 transcript of one product: the packed
// operands, their per-chunk correction streams (cs pair steps per chunk, the
// last one the −128·Δrowsum step) and the final denoising (final steps).
type quadPlan struct {
	l         kLayout
	rows      []*quadRows
	cols      []*quadCols
	cs, final int
}

// planBufs recycles the plans' packed panels (a few MiB per product, and
// allocating them fresh costs as much as the transcript's corrections).
var planBufs sync.Pool

// getPlanBuf returns an n-byte buffer from planBufs, zeroed if zero is set
// (callers that write every byte leave it unset).
func getPlanBuf(n int, zero bool) []byte {
	if p, ok := planBufs.Get().(*[]byte); ok && cap(*p) >= n {
		b := (*p)[:n]
		if zero {
			clear(b)
		}
		return b
	}
	return make([]byte, n)
}

// release hands the plan's panels back to planBufs; p is unusable after.
func (p *quadPlan) release() {
	for _, qr := range p.rows {
		if qr != nil {
			planBufs.Put(&qr.pan)
		}
	}
	for _, qc := range p.cols {
		if qc != nil {
			planBufs.Put(&qc.pan)
		}
	}
	p.rows, p.cols = nil, nil
}

// planQuads prepares the int8 transcript, and with wantC the final
// denoising; callers check quadsUsable and the shapes first.
func (s *simd) planQuads(a, b I8, nz *Noise, g Geometry, wantC bool) *quadPlan {
	m, k, n := a.Rows, a.Cols, b.Cols
	r := nz.Rank
	ti, tj := g.Tiles(m, n)
	l := newKLayout(k, g.Chunk, 4)
	qn := newQuadNoise(nz, l)

	afl := make([]int32, m*r)
	erb := make([]int32, r*n)
	rows := make([]*quadRows, ti)
	cols := make([]*quadCols, tj)
	fits := make([]bool, ti+tj)
	parallelFor(ti+tj, func(_, t int) bool {
		if t < ti {
			h, _ := g.TileShape(m, n, t, 0)
			rows[t], fits[t] = qn.buildRows(a, nz, t*g.Tile, h, afl)
		} else {
			J := t - ti
			_, w := g.TileShape(m, n, 0, J)
			cols[J], fits[t] = qn.buildCols(b, J*g.Tile, w, erb)
		}
		return true
	})
	packed := !forceRadix
	for _, f := range fits {
		packed = packed && f
	}
	cs := corrSteps(r, packed)
	// The final denoising takes r packed steps when CX'_T and CYB_T fit int16
	// (negated), else 2r radix steps.
	final := r
	if forceRadix {
		final = 2 * r
	}
	for _, v := range afl {
		if v < -32767 || v > 32767 {
			final = 2 * r
			break
		}
	}
	for _, v := range erb {
		if final == 2*r || v < -32767 || v > 32767 {
			final = 2 * r
			break
		}
	}
	parallelFor(ti+tj, func(_, t int) bool {
		if t < ti {
			h, _ := g.TileShape(m, n, t, 0)
			qn.streamRows(rows[t], nz, t*g.Tile, h, packed)
			if !wantC {
				return true
			}
			if final == r {
				rows[t].corr = corrAPacked(nz, afl, t*g.Tile, h)
			} else {
				rows[t].corr = corrA(nz, afl, t*g.Tile, h)
			}
		} else {
			J := t - ti
			_, w := g.TileShape(m, n, 0, J)
			qn.streamCols(cols[J], nz, n, J*g.Tile, w, packed)
			if !wantC {
				return true
			}
			if final == r {
				cols[J].corr = corrBPacked(nz, erb, n, J*g.Tile, w)
			} else {
				cols[J].corr = corrB(nz, erb, n, J*g.Tile, w)
			}
		}
		return true
	})
	return &quadPlan{l: l, rows: rows, cols: cols, cs: cs, final: final}
}

// denoise turns tile (I, J)'s P'(K) in acc (h rows) into the exact A·B.
func (s *simd) denoise(p *quadPlan, I, J, h int, acc []int32) {
	gs := (h + groupRows - 1) / groupRows
	s.pairs(&p.rows[I].corr[0], &p.cols[J].corr[0], &acc[0], nil, nil, p.final*16, gs, 1, p.final)
}

// noisedQuads is NoisedMatMul on the int8 layout; callers check quadsUsable
// and the shapes first.
func (s *simd) noisedQuads(a, b I8, nz *Noise, g Geometry, visit TileVisitor, wantC bool) (I32, bool) {
	m, n := a.Rows, b.Cols
	ti, tj := g.Tiles(m, n)
	p := s.planQuads(a, b, nz, g, wantC)
	defer p.release()
	return s.runNoisedTiles(m, n, g, ti, tj, accLen, visit,
		func(I, J, h, w int, acc []int32, stop *atomic.Bool) ([32]byte, bool) {
			return quadTile(p.l, p.rows[I], p.cols[J], p.cs, h, w, acc, stop)
		},
		func(I, J, h int, acc []int32) { s.denoise(p, I, J, h, acc) }, nz.Rank > 0, wantC)
}

// corrAPacked is corrA in r steps: (CX'_q, EL_q) per row, all of CX' in int16.
func corrAPacked(nz *Noise, afl []int32, i0, h int) []byte {
	r := nz.Rank
	gs := (h + groupRows - 1) / groupRows
	out := make([]byte, gs*r*16)
	for ii := 0; ii < h; ii++ {
		i := i0 + ii
		base := (ii / groupRows) * r * 16
		for q := 0; q < r; q++ {
			binary.LittleEndian.PutUint32(out[base+(q*groupRows+ii%groupRows)*4:], pair(int16(afl[i*r+q]), int16(nz.EL[i*r+q])))
		}
	}
	return out
}

// corrBPacked is corrB in r steps: (−FR_q, −CYB_q) per column.
func corrBPacked(nz *Noise, erb []int32, n, j0, w int) []byte {
	r := nz.Rank
	out := make([]byte, r*256)
	for q := 0; q < r; q++ {
		for jj := 0; jj < w; jj++ {
			j := j0 + jj
			binary.LittleEndian.PutUint32(out[(q*panelCols+jj)*4:], pair(-int16(nz.FR[q*n+j]), -int16(erb[q*n+j])))
		}
	}
	return out
}
