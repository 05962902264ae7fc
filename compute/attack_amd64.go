package compute

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
	return true, s.runPlan(a, b, nil, g, visit, pre)
}

// attackAccStride is the row stride of the accumulators fusedTranscript
// hands to pre.
const attackAccStride = panelCols
