package compute

import (
	"sync/atomic"
	"unsafe"
)

// The amx-int8 noised transcript. It shares the avx512-vnni int8 plan
// (noised_amd64.go, planQuads: per-chunk ΔCX', ΔCYB, their pair-step
// streams, the final denoising) and replaces only the main loop: per tile
// and chunk, amxAcc64 adds the chunk's product into the 64×64 int32
// accumulators (four 32×32 blocks of 2×2 AMX tiles, loaded from and stored
// back to the L1-resident acc), then noisedQuads512 with no product steps
// adds the chunk's low-rank corrections and mixes, as in quadTile.
//   - Aligned K (K and κ multiples of 64, or one chunk): A is read in place,
//     B from the plan's quad panels as B+128 (TDPBSUD, signed·unsigned), so
//     the accumulators are exactly the avx512-vnni ones and every correction
//     step, −128·Δrowsum included, applies unchanged.
//   - Otherwise A and B are packed here with each chunk padded with zeros to
//     whole 64-byte K blocks (kLayout with per = 64; the MatMul panel layout
//     of amx_amd64.go) and multiplied exactly (TDPBSSD), so the plan's last
//     correction step (−128·Δrowsum) is left out.
// Integer sums are exact, so every P'(t) and every digest is the one of the
// portable path.

//go:noescape
func amxAcc64(cfg, a *byte, lda, aPanel, aStep int, b *byte, ldb, bPanel, bStep int, c *int32, kblocks int, unsigned bool)

// amxMinChunk is the smallest chunk the AMX transcript takes; below it the
// avx512-vnni path is as fast or faster: every chunk pays a correction and
// mix pass over the whole 64×64 tile plus a load and store of its AMX
// accumulators, and unaligned chunks pad to 64-byte K blocks. Measured at
// 1024³, r = 8 (2 vCPU Sapphire Rapids): AMX ≈ VNNI at κ = 64 and 128,
// about 1.1× faster at κ = 256 and 1.4–1.8× at κ = 512. A variable so tests can lower it.
var amxMinChunk = 256

// amxNoisedUsable reports whether the AMX transcript handles this product.
func (x *amxBackend) amxNoisedUsable(nz *Noise, g Geometry, k int) bool {
	return g.Tile == panelCols && k > 0 && min(g.Chunk, k) >= amxMinChunk && x.vnni.quadsUsable(nz, g, k)
}

func (x *amxBackend) NoisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor) (I32, bool) {
	return x.noised(a, b, nz, g, visit, true)
}

func (x *amxBackend) NoisedTranscript(a, b I8, nz *Noise, g Geometry, visit TileVisitor) bool {
	_, ok := x.noised(a, b, nz, g, visit, false)
	return ok
}

// noised is NoisedMatMul, or with wantC false NoisedTranscript (no C).
func (x *amxBackend) noised(a, b I8, nz *Noise, g Geometry, visit TileVisitor, wantC bool) (I32, bool) {
	if g.Tile != panelCols || a.Cols == 0 || nz == nil {
		return x.vnni.noised(a, b, nz, g, visit, wantC)
	}
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	ti, tj := g.Tiles(m, n)
	if ti == 0 || tj == 0 || !x.amxNoisedUsable(nz, g, k) {
		return x.vnni.noised(a, b, nz, g, visit, wantC)
	}
	s := x.vnni
	p := s.planQuads(a, b, nz, g, wantC)
	defer p.release()
	lk := newKLayout(k, g.Chunk, 64)
	panel := lk.steps * 1024
	tileBytes := 4 * panel // 64 rows or columns
	// Aligned (every chunk whole 64-byte K blocks): A is read in place and
	// B from the plan's quad panels (B+128, unsigned: TDPBSUD), exactly the
	// avx512-vnni accumulators, all cs correction steps included. Otherwise
	// A and B are packed here with chunks padded to 64 (TDPBSSD, exact A·B)
	// and the −128·Δrowsum step is left out.
	aligned := k%64 == 0 && (g.Chunk >= k || g.Chunk%64 == 0)
	var aT, bT []byte
	aPack := 0 // tile rows from here on are packed
	if aligned {
		aPack = m / panelCols
	}
	if aPack < ti {
		aBuf := getAMXBuf((ti-aPack)*tileBytes, true)
		defer amxBufs.Put(aBuf)
		aT = *aBuf
	}
	bPack := tj
	if !aligned {
		bPack = 0
		bBuf := getAMXBuf(tj*tileBytes, true)
		defer amxBufs.Put(bBuf)
		bT = *bBuf
	}
	parallelFor(ti-aPack+tj-bPack, func(_, t int) bool {
		if t < ti-aPack {
			I := aPack + t
			amxPackARows(lk, aT[t*tileBytes:(t+1)*tileBytes], a, I*panelCols, min(panelCols, m-I*panelCols))
		} else {
			J := bPack + t - (ti - aPack)
			amxPackBCols(lk, bT[J*tileBytes:(J+1)*tileBytes], b, J*panelCols, min(panelCols, n-J*panelCols))
		}
		return true
	})

	cfg := &amxTileCfg[0]
	cs, T := p.cs, p.l.chunks
	csteps := cs
	if !aligned {
		csteps = cs - 1
	}
	return s.runNoisedTiles(m, n, g, ti, tj, accLen, visit,
		func(I, J, h, w int, acc []int32, stop *atomic.Bool) ([32]byte, bool) {
			qr, qc := p.rows[I], p.cols[J]
			gs := (h + groupRows - 1) / groupRows
			clear(acc[:accLen])
			salt := fullSalt()
			if h < panelCols || w < panelCols {
				salt = saltTable(h, w)
			}
			z := make([]uint64, T)
			var ap, bp []byte
			lda, aPanel, aStep := 64, panel, 1024
			if I < aPack {
				ap, lda, aPanel, aStep = unsafe.Slice(i8ptr(a.Data[I*panelCols*k:]), panelCols*k), k, 16*k, 64
			} else {
				ap = aT[(I-aPack)*tileBytes:]
			}
			ldb, bPanel, bStep := 64, panel, 1024
			if aligned {
				bp, ldb, bPanel, bStep = qc.pan, 256, 64, 4096
			} else {
				bp = bT[J*tileBytes:]
			}
			for t := 0; t < T; t++ {
				steps := lk.chunkSteps
				if t == T-1 {
					steps = lk.lastSteps
				}
				kb := t * lk.chunkSteps
				amxAcc64(cfg, &ap[kb*aStep], lda, aPanel, aStep, &bp[kb*bStep], ldb, bPanel, bStep, &acc[0], steps, aligned)
				// The chunk's corrections and the mix.
				noisedQuads512(&ap[0], &bp[0], &acc[0], &salt[0], &z[t], 0, gs, 1, 0,
					ptr(qr.ca[t*cs*groupRows:]), ptr(qc.cb[t*cs*panelCols:]), T*cs*16, csteps)
				if stop.Load() {
					return [32]byte{}, false
				}
			}
			return transcriptDigest(z), true
		},
		func(I, J, h int, acc []int32) { s.denoise(p, I, J, h, acc) }, nz.Rank > 0, wantC)
}

// amxPackARows packs rows [i0, i0+h) of A into four 16-row panels (dst is
// zero on entry): panel p, tile kb, row i at p·panel + 1024·kb + 64·i.
func amxPackARows(lk kLayout, dst []byte, a I8, i0, h int) {
	panel := lk.steps * 1024
	buf := make([]int8, lk.steps*64)
	for ii := 0; ii < h; ii++ {
		clear(buf)
		spread(lk, buf, a.Row(i0+ii))
		copyRowT(bptr(dst[(ii/16)*panel+(ii%16)*64:]), i8ptr(buf), lk.steps, 1024)
	}
}

// amxPackBCols packs columns [j0, j0+w) of B into four 16-column panels of
// K-quads (dst is zero on entry): panel p, quad q at p·panel + 64·q.
func amxPackBCols(lk kLayout, dst []byte, b I8, j0, w int) {
	panel := lk.steps * 1024
	n := b.Cols
	var zero [panelCols]int8
	var pad [4][panelCols]int8
	var rp [4]*byte
	span := lk.chunkSteps * 64
	for q := 0; q < lk.steps*16; q++ {
		for r := 0; r < 4; r++ {
			slot := 4*q + r
			c, off := slot/span, slot%span
			k := c*lk.chunk + off
			switch {
			case off >= lk.chunk || k >= lk.k:
				rp[r] = i8ptr(zero[:])
			case w == panelCols:
				rp[r] = i8ptr(b.Data[k*n+j0:])
			default:
				pad[r] = [panelCols]int8{}
				copy(pad[r][:], b.Data[k*n+j0:k*n+j0+w])
				rp[r] = i8ptr(pad[r][:])
			}
		}
		packQuadsBT(bptr(dst[q*64:]), rp[0], rp[1], rp[2], rp[3], 4, panel)
	}
}
