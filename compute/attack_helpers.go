package compute

import "sync/atomic"

// Shared plumbing of the attack models (reuse.go, degenerate.go): they run
// only in tests and benchmarks, never in production.

// attackChunks is ⌈k/κ⌉.
func attackChunks(k, chunk int) int { return (k + chunk - 1) / chunk }

// chunkGEMMTranscript is the attacker's generic loop over a product whose
// per-chunk increment it can compute with one plain GEMM: for every chunk t
// it calls step(t, d), which must overwrite d (M×N, row-major) with the
// increment ΔP'(t) (typically one MatMulInto on the fastest backend), then
// adds d into each tile's running P'(t), mixes it exactly like mix() and,
// after the last chunk, hashes and visits every tile. pre, when not nil, is
// added to the running sums before the mix (the reuse attack's stored
// ΔS(t)): pre(I, J, t, p) with p the tile's h×w running sums, row-major.
func chunkGEMMTranscript(m, n, chunks int, g Geometry, step func(t int, d I32), pre func(I, J, t int, p []int32), visit TileVisitor) bool {
	ti, tj := g.Tiles(m, n)
	p := make([]int32, m*n) // the running P'(t), tile by tile: tile (I, J) at tileOff
	tileOff := func(I, J int) int { return I*g.Tile*n + J*g.Tile*min(g.Tile, m-I*g.Tile) }
	z := make([]uint32, ti*tj*chunks)
	d := NewI32(m, n)
	for t := 0; t < chunks; t++ {
		step(t, d)
		parallelFor(ti*tj, func(_, q int) bool {
			I, J := q/tj, q%tj
			h, w := g.TileShape(m, n, I, J)
			pt := p[tileOff(I, J):][:h*w]
			for ii := 0; ii < h; ii++ {
				src := d.Data[(I*g.Tile+ii)*n+J*g.Tile:][:w]
				dst := pt[ii*w : (ii+1)*w]
				for jj, v := range src {
					dst[jj] += v
				}
			}
			if pre != nil {
				pre(I, J, t, pt)
			}
			z[q*chunks+t] = mix(pt, h, w, w, g.Tile)
			return true
		})
	}
	var stop atomic.Bool
	return parallelFor(ti*tj, func(_, q int) bool {
		if stop.Load() {
			return false
		}
		if visit != nil && !visit(q/tj, q%tj, digestWords(z[q*chunks:(q+1)*chunks])) {
			stop.Store(true)
			return false
		}
		return true
	})
}
