package compute

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ethereum/go-ethereum/crypto/keccak"
)

// The amd64 backends share one packed layout and differ only in the
// micro-kernel that reads it (kernel_amd64.s):
//   - K is cut into steps of per = 4 int8 (quads, VPDPBUSD) or per = 2 int16
//     (pairs, VPDPWSSD or VPMADDWD). Every transcript chunk is padded with
//     zeros to whole steps, so chunk boundaries fall between steps.
//   - An A group is 4 rows, step-major: dword (step, row) at (step·4+row)·4.
//   - A B panel is 64 columns, step-major: dword (step, col) at (step·64+col)·4.
//     Quads hold B+128 as unsigned bytes; the −128·rowsum(A) it adds is
//     taken off by starting the accumulators there.
//   - Accumulators are a 4·groups × 64 int32 tile; a kernel call loads and
//     stores them, so K can be blocked across calls.
//
// Padding rows and columns are zero, so their partial sums are zero; the mix
// uses salt 0 there, which makes their x² vanish.
type kernelFunc func(a, b *byte, c *int32, salt *uint32, z *uint64, aStride, groups, chunks, steps int)

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
	quads        kernelFunc // VPDPBUSD kernel for MatMul; nil: MatMul runs on pairs
	pairs        kernelFunc // int16 pairs: NoisedMatMul, TileDigest (and MatMul without quads)
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
			kern(&aPan[aBase+s0*16], &bPan[bBase+s0*256], &acc[0], nil, nil, l.stride*16, gs, 1, ns)
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

var fullSalt = sync.OnceValue(func() []uint32 { return saltTable(panelCols, panelCols) })

// tileRun runs the transcript of one tile: aPan/bPan its packed A' group
// rows and B' panel, acc its accumulators (zeroed here). It returns the digest,
// or false when stop was set.
func (s *simd) tileRun(l kLayout, aPan, bPan []byte, h, w int, acc []int32, stop *atomic.Bool) ([32]byte, bool) {
	var digest [32]byte
	gs := (h + groupRows - 1) / groupRows
	clear(acc[:gs*groupRows*panelCols])
	salt := fullSalt()
	if h < panelCols || w < panelCols {
		salt = saltTable(h, w)
	}
	z := make([]uint64, l.chunks)
	per := max(1, blockSteps/l.chunkSteps) // chunks per call
	for c0 := 0; c0 < l.chunks; {
		nc, steps := min(per, l.chunks-1-c0), l.chunkSteps
		if nc == 0 {
			nc, steps = 1, l.lastSteps
		}
		s0 := c0 * l.chunkSteps
		s.pairs(&aPan[s0*16], &bPan[s0*256], &acc[0], &salt[0], &z[c0], l.stride*16, gs, nc, steps)
		c0 += nc
		if stop != nil && stop.Load() {
			return digest, false
		}
	}
	h3 := keccak.NewLegacyKeccak256()
	buf := make([]byte, 8*len(z))
	for t, v := range z {
		binary.BigEndian.PutUint64(buf[8*t:], v)
	}
	h3.Write(buf)
	h3.Sum(digest[:0])
	return digest, true
}

// Final correction steps: C = A'B' − (A·FL)·FR − EL·(ER·B'), as 2r int16 pair
// steps. A·FL and ER·B' exceed int16, so each is split as lo + 4096·hi with
// lo in [0, 4096): (lo, hi)·(−f, −4096·f) and (e, 4096·e)·(−lo, −hi).
const corrRadix = 4096

func splitRadix(v int32) (lo, hi int16) {
	return int16(v & (corrRadix - 1)), int16(v >> 12)
}

func pair(x, y int16) uint32 { return uint32(uint16(x)) | uint32(uint16(y))<<16 }

// corrA packs rows [i0, i0+h) of the correction's A side: groups × 2r steps.
func corrA(nz *Noise, afl []int32, i0, h int) []byte {
	r := nz.Rank
	gs := (h + groupRows - 1) / groupRows
	out := make([]byte, gs*2*r*16)
	for ii := 0; ii < h; ii++ {
		i := i0 + ii
		base := (ii / groupRows) * 2 * r * 16
		for q := 0; q < r; q++ {
			lo, hi := splitRadix(afl[i*r+q])
			binary.LittleEndian.PutUint32(out[base+(q*groupRows+ii%groupRows)*4:], pair(lo, hi))
			e := int16(nz.EL[i*r+q])
			binary.LittleEndian.PutUint32(out[base+((r+q)*groupRows+ii%groupRows)*4:], pair(e, corrRadix*e))
		}
	}
	return out
}

// corrB packs columns [j0, j0+w) of the correction's B side: 2r steps.
func corrB(nz *Noise, erb []int32, n, j0, w int) []byte {
	r := nz.Rank
	out := make([]byte, 2*r*256)
	for q := 0; q < r; q++ {
		for jj := 0; jj < w; jj++ {
			j := j0 + jj
			f := int16(nz.FR[q*n+j])
			binary.LittleEndian.PutUint32(out[(q*panelCols+jj)*4:], pair(-f, -corrRadix*f))
			lo, hi := splitRadix(erb[q*n+j])
			binary.LittleEndian.PutUint32(out[((r+q)*panelCols+jj)*4:], pair(-lo, -hi))
		}
	}
	return out
}

func (s *simd) NoisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor) (I32, bool) {
	return s.noised(a, b, nz, g, visit, true)
}

func (s *simd) NoisedTranscript(a, b I8, nz *Noise, g Geometry, visit TileVisitor) bool {
	_, ok := s.noised(a, b, nz, g, visit, false)
	return ok
}

// noised is NoisedMatMul, or with wantC false NoisedTranscript (no C).
func (s *simd) noised(a, b I8, nz *Noise, g Geometry, visit TileVisitor, wantC bool) (I32, bool) {
	if g.Tile != panelCols {
		return noisedMatMul(a, b, nz, g, visit, wantC)
	}
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	r := nz.Rank
	ti, tj := g.Tiles(m, n)
	if ti == 0 || tj == 0 {
		if !wantC {
			return I32{}, true
		}
		return NewI32(m, n), true
	}
	if k == 0 {
		// No chunks, no transcript words: every digest is Keccak of nothing.
		return noisedMatMul(a, b, nz, g, visit, wantC)
	}
	if s.quadsUsable(nz, g, k) {
		return s.noisedQuads(a, b, nz, g, visit, wantC)
	}
	nw := newNoiseWords(nz, m, k, n)
	l := newKLayout(k, g.Chunk, 2)

	afl := make([]int32, m*r)
	erb := make([]int32, r*n)
	aPans := make([][]byte, ti)
	bPans := make([][]byte, tj)
	aCorr := make([][]byte, ti)
	bCorr := make([][]byte, tj)
	parallelFor(ti+tj, func(_, t int) bool {
		if t < ti {
			h, _ := g.TileShape(m, n, t, 0)
			rows := make([]int16, h*k)
			noisedRows(a, nw, t*g.Tile, h, rows, afl)
			gs := (h + groupRows - 1) / groupRows
			aPans[t] = make([]byte, gs*l.stride*16)
			packAGroups16(l, aPans[t], h, rows)
			if wantC {
				aCorr[t] = corrA(nz, afl, t*g.Tile, h)
			}
		} else {
			J := t - ti
			_, w := g.TileShape(m, n, 0, J)
			br := newBRows(b, nw, J*g.Tile, w, erb)
			bPans[J] = make([]byte, l.steps*256)
			packBPanel16(l, bPans[J], br.next)
			if wantC {
				bCorr[J] = corrB(nz, erb, n, J*g.Tile, w)
			}
		}
		return true
	})

	return s.runNoisedTiles(m, n, g, ti, tj, accLen, visit,
		func(I, J, h, w int, acc []int32, stop *atomic.Bool) ([32]byte, bool) {
			return s.tileRun(l, aPans[I], bPans[J], h, w, acc, stop)
		},
		func(I, J, h int, acc []int32) {
			gs := (h + groupRows - 1) / groupRows
			s.pairs(&aCorr[I][0], &bCorr[J][0], &acc[0], nil, nil, 2*r*16, gs, 1, 2*r)
		}, r > 0, wantC)
}

// runNoisedTiles is the parallel tile driver of both amd64 noised paths:
// per tile, run computes the transcript into acc (its final P'(K)), visit
// sees the digest, denoise turns acc into the exact A·B (when there is
// noise), and the tile is copied into C; without wantC there is no C and
// the tile ends at visit. A false visit stops every worker.
func (s *simd) runNoisedTiles(m, n int, g Geometry, ti, tj, accLen int, visit TileVisitor,
	run func(I, J, h, w int, acc []int32, stop *atomic.Bool) ([32]byte, bool),
	denoise func(I, J, h int, acc []int32), noisy, wantC bool) (I32, bool) {
	var c I32
	if wantC {
		c = NewI32(m, n)
	}
	var stop atomic.Bool
	accs := make([][]int32, workers(ti*tj))
	done := parallelFor(ti*tj, func(wk, t int) bool {
		if stop.Load() {
			return false
		}
		I, J := t/tj, t%tj
		h, w := g.TileShape(m, n, I, J)
		if accs[wk] == nil {
			accs[wk] = make([]int32, accLen)
		}
		acc := accs[wk]
		digest, ok := run(I, J, h, w, acc, &stop)
		if !ok {
			return false
		}
		if visit != nil && !visit(I, J, digest) {
			stop.Store(true)
			return false
		}
		if !wantC {
			return true
		}
		if noisy {
			denoise(I, J, h, acc)
		}
		i0, j0 := I*g.Tile, J*g.Tile
		for ii := 0; ii < h; ii++ {
			copy(c.Data[(i0+ii)*n+j0:(i0+ii)*n+j0+w], acc[ii*panelCols:])
		}
		return true
	})
	if !done || stop.Load() {
		return I32{}, false
	}
	return c, true
}

func (s *simd) TileDigest(a, b I8, nz *Noise, g Geometry, ti, tj int) [32]byte {
	if g.Tile != panelCols || a.Cols == 0 {
		return tileDigest(a, b, nz, g, ti, tj)
	}
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	nti, ntj := g.Tiles(m, n)
	if ti < 0 || tj < 0 || ti >= nti || tj >= ntj {
		panic(fmt.Sprintf("compute: tile (%d, %d) outside the %d×%d tile grid", ti, tj, nti, ntj))
	}
	h, w := g.TileShape(m, n, ti, tj)
	nw := newNoiseWords(nz, m, k, n)
	l := newKLayout(k, g.Chunk, 2)
	rows := make([]int16, h*k)
	noisedRows(a, nw, ti*g.Tile, h, rows, nil)
	aPan := make([]byte, (h+groupRows-1)/groupRows*l.stride*16)
	packAGroups16(l, aPan, h, rows)
	bPan := make([]byte, l.steps*256)
	packBPanel16(l, bPan, newBRows(b, nw, tj*g.Tile, w, nil).next)
	d, _ := s.tileRun(l, aPan, bPan, h, w, make([]int32, accLen), nil)
	return d
}
