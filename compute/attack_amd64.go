package compute

import "sync/atomic"

// fusedTranscript runs be's own SIMD transcript kernel over the plain
// product a·b (a M×K', b K'×N, chunk g.Chunk, tile 64, no noise), calling
// pre(I, J, t, acc) before chunk t of tile (I, J) is mixed: acc holds the
// tile's running sums, rows panelCols apart, and pre may add to the tile's
// h×w entries (never to the padding). It is the attackers' fastest
// transcript: the GEMM, the mix and the chunk walk are the honest kernel's.
// handled is false when be has no such kernel (not a SIMD backend, or a tile
// other than 64); the caller then takes its MatMulInto route.
func fusedTranscript(be Backend, a, b I8, g Geometry, pre func(I, J, t int, acc []int32), visit TileVisitor) (handled, ok bool) {
	s, isSIMD := be.(*simd)
	if !isSIMD || g.Tile != panelCols || a.Cols == 0 {
		return false, false
	}
	mustProductShape(a, b)
	g.mustValid()
	m, n := a.Rows, b.Cols
	ti, tj := g.Tiles(m, n)
	if ti == 0 || tj == 0 {
		return true, true
	}
	l, rps, bPans := s.packPlan(a, b, nil, g)
	accs := make([]*[accLen]int32, workers(ti*tj))
	defer releasePlan(accs, rps, bPans)
	var stop atomic.Bool
	done := parallelFor(ti*tj, func(wk, t int) bool {
		if stop.Load() {
			return false
		}
		I, J := t/tj, t%tj
		_, w := g.TileShape(m, n, I, J)
		if accs[wk] == nil {
			accs[wk] = getAcc()
		}
		var hook func(c int, acc []int32)
		if pre != nil {
			hook = func(c int, acc []int32) { pre(I, J, c, acc) }
		}
		d := s.tileRunPre(l, rps[I], bPans[J], w, accs[wk][:], hook)
		if visit != nil && !visit(I, J, d) {
			stop.Store(true)
			return false
		}
		return true
	})
	return true, done && !stop.Load()
}

// tileRunPre is tileRun one chunk per kernel call, with pre(t, acc) called
// before chunk t's steps.
func (s *simd) tileRunPre(l kLayout, rp rowPanel, bPan []byte, w int, acc []int32, pre func(t int, acc []int32)) [32]byte {
	kern, _ := s.kernel()
	h := rp.h
	gs := (h + groupRows - 1) / groupRows
	clear(acc[:gs*groupRows*panelCols])
	salt := fullSalt()
	if h < panelCols || w < panelCols {
		salt = saltTable(h, w)
	}
	z := make([]uint32, l.chunks)
	biasStride := l.chunks * groupRows * 4
	for t := 0; t < l.chunks; t++ {
		steps := l.chunkSteps
		if t == l.chunks-1 {
			steps = l.lastSteps
		}
		s0 := t * l.chunkSteps
		var bias *int32
		if rp.bias != nil {
			bias = &rp.bias[t*groupRows]
		}
		if pre != nil {
			pre(t, acc)
		}
		for steps > blockSteps {
			kern(&rp.pan[s0*16], &bPan[s0*256], &acc[0], nil, nil, nil, l.stride*16, 0, gs, 1, blockSteps)
			s0 += blockSteps
			steps -= blockSteps
		}
		kern(&rp.pan[s0*16], &bPan[s0*256], &acc[0], &salt[0], &z[t], bias, l.stride*16, biasStride, gs, 1, steps)
	}
	return digestWords(z)
}

// attackAccStride is the row stride of the accumulators fusedTranscript
// hands to pre.
const attackAccStride = panelCols
