package compute

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// The amd64 backends share one packed layout and differ only in the
// micro-kernel that reads it (kernel_amd64.s):
//   - K is cut into steps of per = 4 int8 (quads, VPDPBUSD) or per = 2 int16
//     (pairs, VPMADDWD). Every transcript chunk is padded with zeros to
//     whole steps, so chunk boundaries fall between steps.
//   - An A group is 4 rows, step-major: dword (step, row) at (step·4+row)·4.
//   - A B panel is 64 columns, step-major: dword (step, col) at (step·64+col)·4.
//     Quads hold B+128 as unsigned bytes; the 128·rowsum(A) that adds is
//     taken off in MatMul's copy-out, and in a transcript at every chunk end
//     before the mix (rowPanel.bias), so the mix sees the exact P'(t).
//   - Accumulators are a 4·groups × 64 int32 tile; a kernel call loads and
//     stores them, so K can be blocked across calls.
//
// Padding rows and columns are zero, so their partial sums are zero; the mix
// uses salt 0 there, which makes their x² vanish.
type kernelFunc func(a, b *byte, c *int32, salt *uint32, z *uint32, bias *int32, aStride, biasStride, groups, chunks, steps int)

const (
	groupRows  = 4  // rows per kernel group
	panelCols  = 64 // columns per B panel (and the SIMD tile width)
	blockGrps  = 16 // groups per plain-product task: 64 rows
	blockSteps = 64 // K-steps per kernel call in MatMul: a 16 KB B block
	accLen     = blockGrps * groupRows * panelCols
)

// simd is an amd64 backend: a MatMul kernel and a transcript kernel.
type simd struct {
	name, reason string
	quads        kernelFunc // VPDPBUSD kernel; nil: everything runs on pairs
	pairs        kernelFunc // int16 pairs (AVX2)
}

var _ Backend = (*simd)(nil)

func (s *simd) Name() string     { return s.name }
func (s *simd) describe() string { return s.reason }

// kLayout maps K onto padded steps.
type kLayout struct {
	k, chunk, per int
	chunks        int // T = ⌈K/κ⌉
	chunkSteps    int // steps of a full chunk
	lastSteps     int // steps of the last chunk
	steps         int // all steps
	stride        int // steps rounded up to a multiple of 4 (what the A packers write)
}

func newKLayout(k, chunk, per int) kLayout {
	l := kLayout{k: k, chunk: chunk, per: per}
	l.chunks = (k + chunk - 1) / chunk
	l.chunkSteps = (chunk + per - 1) / per
	last := k - (l.chunks-1)*chunk
	l.lastSteps = (last + per - 1) / per
	l.steps = (l.chunks-1)*l.chunkSteps + l.lastSteps
	l.stride = (l.steps + 3) &^ 3
	return l
}

// slot returns the padded position of k.
func (l kLayout) slot(k int) int { return (k/l.chunk)*l.chunkSteps*l.per + k%l.chunk }

// spread copies a row (K entries) into its padded slots; dst is zero beyond.
func spread[T int8 | int16](l kLayout, dst, row []T) {
	if l.chunks == 1 || l.chunk%l.per == 0 {
		copy(dst, row)
		return
	}
	for k0 := 0; k0 < l.k; k0 += l.chunk {
		copy(dst[l.slot(k0):], row[k0:min(k0+l.chunk, l.k)])
	}
}

func ptr[T any](s []T) *byte { return (*byte)(unsafe.Pointer(unsafe.SliceData(s))) }

// packAGroups8 packs h int8 rows (row i = rowOf(i)) into ceil(h/4) groups
// of quads (per 4) or sign-extended pairs (per 2); dst holds groups·stride·16 bytes.
func packAGroups8(l kLayout, dst []byte, h int, rowOf func(i int) []int8) {
	ld := l.stride * l.per
	buf := make([]int8, groupRows*ld)
	for g := 0; g*groupRows < h; g++ {
		out := dst[g*l.stride*16 : (g+1)*l.stride*16]
		if l.per == 4 && l.k == ld && h-g*groupRows >= groupRows {
			// No padding: pack the rows where they lie when they are
			// evenly spaced (rows of one matrix), skipping the copy.
			var p [groupRows]uintptr
			for r := range p {
				p[r] = uintptr(unsafe.Pointer(unsafe.SliceData(rowOf(g*groupRows + r))))
			}
			if d := p[1] - p[0]; p[2]-p[1] == d && p[3]-p[2] == d {
				packA(ptr(out), i8ptr(rowOf(g*groupRows)), int(d), l.stride/4)
				continue
			}
		}
		clear(buf)
		for r := 0; r < groupRows && g*groupRows+r < h; r++ {
			spread(l, buf[r*ld:(r+1)*ld], rowOf(g*groupRows+r))
		}
		if l.per == 4 {
			packA(ptr(out), ptr(buf), ld, l.stride/4)
		} else {
			packAPairs8(ptr(out), ptr(buf), ld, l.stride/4)
		}
	}
}

// packAGroups16 packs h int16 rows (h×K in rows) into pairs.
func packAGroups16(l kLayout, dst []byte, h int, rows []int16) {
	ld := l.stride * 2
	buf := make([]int16, groupRows*ld)
	for g := 0; g*groupRows < h; g++ {
		clear(buf)
		for r := 0; r < groupRows && g*groupRows+r < h; r++ {
			i := g*groupRows + r
			spread(l, buf[r*ld:(r+1)*ld], rows[i*l.k:(i+1)*l.k])
		}
		packA(ptr(dst[g*l.stride*16:]), ptr(buf), ld*2, l.stride/4)
	}
}

// packBPanel8 packs columns [j0, j0+w) of int8 B into a panel of l.steps steps.
func packBPanel8(l kLayout, dst []byte, b I8, j0, w int) {
	n := b.Cols
	var zero [panelCols]int8
	pad := make([][panelCols]int8, l.per)
	var rp [4]*byte
	// Quads wholly inside a chunk of a full-width panel: one call per chunk.
	// The steps left over (a chunk's or K's ragged end) take the general loop.
	var fast []bool
	if l.per == 4 && w == panelCols {
		fast = make([]bool, l.steps)
		for c := 0; c < l.chunks; c++ {
			k0 := c * l.chunk
			full := min(l.chunk, l.k-k0) / 4
			packQuadsBRun(ptr(dst[c*l.chunkSteps*256:]), i8ptr(b.Data[k0*n+j0:]), n, full)
			for s := range full {
				fast[c*l.chunkSteps+s] = true
			}
		}
	}
	for s := 0; s < l.steps; s++ {
		if fast != nil && fast[s] {
			continue
		}
		for t := 0; t < l.per; t++ {
			// Which k sits in slot s·per+t: the chunk's own or padding.
			slot := s*l.per + t
			c, off := slot/(l.chunkSteps*l.per), slot%(l.chunkSteps*l.per)
			k := c*l.chunk + off
			switch {
			case off >= l.chunk || k >= l.k:
				rp[t] = ptr(zero[:])
			case w == panelCols:
				rp[t] = ptr(b.Data[k*n+j0:])
			default:
				copy(pad[t][:], b.Data[k*n+j0:k*n+j0+w])
				rp[t] = ptr(pad[t][:])
			}
		}
		out := ptr(dst[s*256:])
		if l.per == 4 {
			packQuadsB(out, rp[0], rp[1], rp[2], rp[3], panelCols/16)
		} else {
			packPairsB8(out, rp[0], rp[1], panelCols/16)
		}
	}
}

// packBPanel16 packs K rows of int16 (row kk = next(kk), w ≤ 64 entries, in
// order) into pairs.
func packBPanel16(l kLayout, dst []byte, next func(kk int) []int16) {
	var pad [2][panelCols]int16
	flush := func(s int) {
		packPairsB16(ptr(dst[s*256:]), ptr(pad[0][:]), ptr(pad[1][:]), panelCols/16)
		pad = [2][panelCols]int16{}
	}
	for kk := 0; kk < l.k; kk++ {
		slot := l.slot(kk)
		copy(pad[slot%2][:], next(kk))
		if slot%2 == 1 || kk == l.k-1 || (kk+1)%l.chunk == 0 {
			flush(slot / 2)
		}
	}
}

var _ IntoMatMuler = (*simd)(nil)

func (s *simd) MatMul(a, b I8) I32 {
	mustProductShape(a, b)
	c := NewI32(a.Rows, b.Cols)
	s.MatMulInto(c, a, b)
	return c
}

// MatMulInto overwrites c with A·B: each task copies its whole tile into C.
func (s *simd) MatMulInto(c I32, a, b I8) {
	mustIntoShape(c, a, b)
	m, k, n := a.Rows, a.Cols, b.Cols
	if m == 0 || n == 0 || k == 0 {
		clear(c.Data)
		return
	}
	kern, per := s.pairs, 2
	if s.quads != nil {
		kern, per = s.quads, 4
	}
	l := newKLayout(k, k, per)
	groups := (m + groupRows - 1) / groupRows
	blocks := (groups + blockGrps - 1) / blockGrps
	panels := (n + panelCols - 1) / panelCols
	// The packers write every byte of both (partial groups and panels are
	// padded with zeros), so pooled buffers need no clearing.
	aPan := getPlanBuf(groups*l.stride*16, false)
	bPan := getPlanBuf(panels*l.steps*256, false)
	defer planBufs.Put(&aPan)
	defer planBufs.Put(&bPan)
	var rowsum []int32
	if per == 4 {
		rowsum = make([]int32, m)
	}
	parallelFor(blocks+panels, func(_, t int) bool {
		if t < blocks {
			i0 := t * blockGrps * groupRows
			h := min(blockGrps*groupRows, m-i0)
			packAGroups8(l, aPan[t*blockGrps*l.stride*16:], h, func(i int) []int8 { return a.Row(i0 + i) })
			if rowsum != nil {
				for i := i0; i < i0+h; i++ {
					rowsum[i] = rowSumI8(i8ptr(a.Row(i)), k)
				}
			}
		} else {
			p := t - blocks
			packBPanel8(l, bPan[p*l.steps*256:], b, p*panelCols, min(panelCols, n-p*panelCols))
		}
		return true
	})

	accs := make([]*[accLen]int32, workers(blocks*panels))
	defer func() {
		for _, a := range accs {
			if a != nil {
				accBufs.Put(a)
			}
		}
	}()
	parallelFor(blocks*panels, func(wk, t int) bool {
		rb, p := t/panels, t%panels
		if accs[wk] == nil {
			accs[wk] = getAcc()
		}
		acc := accs[wk][:]
		i0, j0 := rb*blockGrps*groupRows, p*panelCols
		h, w := min(blockGrps*groupRows, m-i0), min(panelCols, n-j0)
		gs := (h + groupRows - 1) / groupRows
		// Zero (memclr) here, and add the quads' −128·rowsum(A) on the way
		// out: a Go loop filling each row with it cost as much as the copy.
		clear(acc[:gs*groupRows*panelCols])
		aBase := rb * blockGrps * l.stride * 16
		bBase := p * l.steps * 256
		for s0 := 0; s0 < l.steps; s0 += blockSteps {
			ns := min(blockSteps, l.steps-s0)
			kern(&aPan[aBase+s0*16], &bPan[bBase+s0*256], &acc[0], nil, nil, nil, l.stride*16, 0, gs, 1, ns)
		}
		for ii := 0; ii < h; ii++ {
			dst := c.Data[(i0+ii)*n+j0 : (i0+ii)*n+j0+w]
			if rowsum == nil {
				copy(dst, acc[ii*panelCols:])
			} else {
				addBiasI32(&dst[0], &acc[ii*panelCols], -128*rowsum[i0+ii], w)
			}
		}
		return true
	})
}

// accBufs recycles MatMul's per-worker accumulator tiles (16 KiB each).
var accBufs sync.Pool

func getAcc() *[accLen]int32 {
	if p, ok := accBufs.Get().(*[accLen]int32); ok {
		return p
	}
	return new([accLen]int32)
}

// saltTable is the mix salt of an h×w tile (b = 64) in accumulator layout,
// zero outside the tile.
func saltTable(h, w int) []uint32 {
	rows := (h + groupRows - 1) / groupRows * groupRows
	t := make([]uint32, rows*panelCols)
	for ii := 0; ii < h; ii++ {
		for jj := 0; jj < w; jj++ {
			t[ii*panelCols+jj] = uint32(ii*panelCols+jj+1) * mixStep
		}
	}
	return t
}

// planBufs recycles packed panels and noised-operand scratch (a few MiB per
// product: allocating them fresh costs more than applying the noise).
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

var fullSalt = sync.OnceValue(func() []uint32 { return saltTable(panelCols, panelCols) })

// kernel returns the transcript kernel and its K-step width.
func (s *simd) kernel() (kernelFunc, int) {
	if s.quads != nil {
		return s.quads, 4
	}
	return s.pairs, 2
}

// rowPanel is one tile row of A' = A + E packed for the kernel, with (quads)
// its bias table: per group, chunk and row, 128·Σ A' over the chunk, which
// VPDPBUSD's B'+128 adds and the kernel takes off before mixing.
type rowPanel struct {
	h    int
	pan  []byte
	bias []int32 // groups × chunks × 4; nil for pairs
}

// packRows packs rows [i0, i0+h) of A' (i0 starts a tile row).
func (s *simd) packRows(l kLayout, a I8, nz *Noise, i0, h int) rowPanel {
	k := a.Cols
	rows := a.Data[i0*k : (i0+h)*k] // no noise: A's own rows, in place
	if nz != nil {
		scratch := getPlanBuf(h*k, false)
		defer planBufs.Put(&scratch)
		rows = unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(scratch))), h*k)
		nz.noisedARows(a, i0, h, rows)
	}
	gs := (h + groupRows - 1) / groupRows
	rp := rowPanel{h: h, pan: getPlanBuf(gs*l.stride*16, false)}
	packAGroups8(l, rp.pan, h, func(i int) []int8 { return rows[i*k : (i+1)*k] })
	if l.per == 4 {
		rp.bias = make([]int32, gs*l.chunks*groupRows)
		for i := 0; i < h; i++ {
			g, r := i/groupRows, i%groupRows
			for t := 0; t < l.chunks; t++ {
				k0 := t * l.chunk
				n := min(l.chunk, k-k0)
				rp.bias[(g*l.chunks+t)*groupRows+r] = 128 * rowSumI8(i8ptr(rows[i*k+k0:]), n)
			}
		}
	}
	return rp
}

// packCols packs columns [j0, j0+w) of B' = B + F (j0 starts a tile column);
// with nz nil, of b itself.
func (s *simd) packCols(l kLayout, b I8, nz *Noise, j0, w int) []byte {
	if nz == nil {
		pan := getPlanBuf(l.steps*256, false)
		packBPanel8(l, pan, b, j0, w)
		return pan
	}
	k := b.Rows
	scratch := getPlanBuf(k*w, false)
	defer planBufs.Put(&scratch)
	blk := I8{Rows: k, Cols: w, Data: unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(scratch))), k*w)}
	nz.noisedBCols(b, j0, w, blk.Data)
	pan := getPlanBuf(l.steps*256, false)
	packBPanel8(l, pan, blk, 0, w)
	return pan
}

// tileRun runs the transcript of one h×w tile over its packed rows and
// columns into acc (zeroed here) and returns the digest, or false when stop
// was set. With pre set (the attack models), chunks run one per kernel call
// and pre(t, acc) is called before chunk t's steps.
func (s *simd) tileRun(l kLayout, rp rowPanel, bPan []byte, w int, acc []int32, stop *atomic.Bool, pre func(t int, acc []int32)) ([32]byte, bool) {
	kern, _ := s.kernel()
	h := rp.h
	gs := (h + groupRows - 1) / groupRows
	clear(acc[:gs*groupRows*panelCols])
	salt := fullSalt()
	if h < panelCols || w < panelCols {
		salt = saltTable(h, w)
	}
	z := make([]uint32, l.chunks)
	per := max(1, blockSteps/l.chunkSteps) // chunks per call
	if pre != nil {
		per = 1
	}
	biasStride := l.chunks * groupRows * 4
	for c0 := 0; c0 < l.chunks; {
		nc, steps := min(per, l.chunks-1-c0), l.chunkSteps
		if nc == 0 {
			nc, steps = 1, l.lastSteps
		}
		s0 := c0 * l.chunkSteps
		var bias *int32
		if rp.bias != nil {
			bias = &rp.bias[c0*groupRows]
		}
		if pre != nil {
			pre(c0, acc)
		}
		// A chunk longer than a B block (16 KiB, L1) runs in blocks: all but
		// the last without a mix, the accumulators going through acc.
		for steps > blockSteps {
			kern(&rp.pan[s0*16], &bPan[s0*256], &acc[0], nil, nil, nil, l.stride*16, 0, gs, 1, blockSteps)
			s0 += blockSteps
			steps -= blockSteps
		}
		kern(&rp.pan[s0*16], &bPan[s0*256], &acc[0], &salt[0], &z[c0], bias, l.stride*16, biasStride, gs, nc, steps)
		c0 += nc
		if stop != nil && stop.Load() {
			return [32]byte{}, false
		}
	}
	return digestWords(z), true
}

func (s *simd) NoisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor) (I32, bool) {
	if !s.NoisedTranscript(a, b, nz, g, visit) {
		return I32{}, false
	}
	return s.MatMul(a, b), true
}

// NoisedTranscript packs A' by tile rows and B' by tile columns (one task
// each) and runs every tile's transcript; the noise costs O(MK + KN) here.
func (s *simd) NoisedTranscript(a, b I8, nz *Noise, g Geometry, visit TileVisitor) bool {
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	mustNoiseGeometry(nz, g)
	if g.Tile != panelCols || k == 0 {
		_, ok := noisedMatMul(a, b, nz, g, visit, false)
		return ok
	}
	ti, tj := g.Tiles(m, n)
	if ti == 0 || tj == 0 {
		return true
	}
	return s.runPlan(a, b, nz, g, visit, nil)
}

// runPlan packs the operands (packPlan) and runs every tile's transcript,
// visiting the digests; pre, when set, reaches into each tile's accumulators
// before each chunk (tileRun).
func (s *simd) runPlan(a, b I8, nz *Noise, g Geometry, visit TileVisitor, pre func(I, J, t int, acc []int32)) bool {
	m, n := a.Rows, b.Cols
	ti, tj := g.Tiles(m, n)
	l, rps, bPans := s.packPlan(a, b, nz, g)
	var stop atomic.Bool
	accs := make([]*[accLen]int32, workers(ti*tj))
	defer releasePlan(accs, rps, bPans)
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
		digest, ok := s.tileRun(l, rps[I], bPans[J], w, accs[wk][:], &stop, hook)
		if !ok {
			return false
		}
		if visit != nil && !visit(I, J, digest) {
			stop.Store(true)
			return false
		}
		return true
	})
	return done && !stop.Load()
}

// packPlan packs A' by tile rows and B' by tile columns, one task each
// (nz nil: A and B themselves); releasePlan hands the buffers back.
func (s *simd) packPlan(a, b I8, nz *Noise, g Geometry) (kLayout, []rowPanel, [][]byte) {
	m, k, n := a.Rows, a.Cols, b.Cols
	ti, tj := g.Tiles(m, n)
	_, per := s.kernel()
	l := newKLayout(k, g.Chunk, per)
	rps := make([]rowPanel, ti)
	bPans := make([][]byte, tj)
	parallelFor(ti+tj, func(_, t int) bool {
		if t < ti {
			h, _ := g.TileShape(m, n, t, 0)
			rps[t] = s.packRows(l, a, nz, t*g.Tile, h)
		} else {
			J := t - ti
			_, w := g.TileShape(m, n, 0, J)
			bPans[J] = s.packCols(l, b, nz, J*g.Tile, w)
		}
		return true
	})
	return l, rps, bPans
}

func releasePlan(accs []*[accLen]int32, rps []rowPanel, bPans [][]byte) {
	for _, a := range accs {
		if a != nil {
			accBufs.Put(a)
		}
	}
	for i := range rps {
		planBufs.Put(&rps[i].pan)
	}
	for i := range bPans {
		planBufs.Put(&bPans[i])
	}
}

func (s *simd) TileDigest(a, b I8, nz *Noise, g Geometry, ti, tj int) [32]byte {
	if g.Tile != panelCols || a.Cols == 0 {
		return tileDigest(a, b, nz, g, ti, tj)
	}
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	mustNoiseGeometry(nz, g)
	checkTile(g, m, n, ti, tj)
	h, w := g.TileShape(m, n, ti, tj)
	_, per := s.kernel()
	l := newKLayout(k, g.Chunk, per)
	rp := s.packRows(l, a, nz, ti*g.Tile, h)
	bPan := s.packCols(l, b, nz, tj*g.Tile, w)
	d, _ := s.tileRun(l, rp, bPan, w, make([]int32, accLen), nil, nil)
	return d
}
