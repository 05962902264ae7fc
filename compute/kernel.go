package compute

import "unsafe"

// The portable kernel is imul-bound, so it packs three int32 accumulators into
// each int64 (SWAR): a·(b0 + b1·2²¹ + b2·2⁴²) does three multiply-accumulates
// with one multiply. Each 21-bit lane holds a signed partial sum below 2²⁰ in
// magnitude, so a run of at most spanFor(maxAbs) products is accumulated in
// registers and then flushed (decoded) into int32. The result is exact.
const (
	laneBits  = 21
	laneShift = 64 - laneBits // sign-extends a lane with a shift pair
	lanes     = 3             // columns per packed word
	mr        = 4             // rows per micro-kernel step
	nr        = 2             // packed words per micro-kernel step
	ncols     = lanes * nr    // columns per micro-kernel step
)

// spanFor is the longest run of products with |a|,|b| ≤ maxAbs that a lane
// holds without leaving [-2²⁰, 2²⁰).
func spanFor(maxAbs int) int {
	return (1<<(laneBits-1) - 1) / (maxAbs * maxAbs)
}

// aPanel is a block of rows packed for the micro-kernel: groups of mr rows,
// k-major within a group, int16 so that noised values fit. Rows past the end
// of the block are zero.
type aPanel struct {
	rows, groups, k int
	data            []int16
}

func newAPanel(rows, k int) *aPanel {
	g := (rows + mr - 1) / mr
	return &aPanel{rows: rows, groups: g, k: k, data: make([]int16, g*k*mr)}
}

// setRow packs row r of the block.
func (p *aPanel) setRow(r int, row []int16) {
	base := (r/mr)*p.k*mr + r%mr
	d := p.data[base:]
	for kk, v := range row[:p.k] {
		d[kk*mr] = v
	}
}

// bPanel is a block of columns packed for the micro-kernel: each int64 holds
// three adjacent columns of one row of B; words go in pairs (nr), k-major
// within a pair. Columns past the end of the block are zero.
type bPanel struct {
	cols, pairs, k int
	data           []int64
}

func newBPanel(cols, k int) *bPanel {
	words := (cols + lanes - 1) / lanes
	p := (words + nr - 1) / nr
	return &bPanel{cols: cols, pairs: p, k: k, data: make([]int64, p*k*nr)}
}

// stride is the column stride of an accumulator tile for this panel.
func (p *bPanel) stride() int { return p.pairs * ncols }

// setRow packs row kk of the block (row holds p.cols values).
func (p *bPanel) setRow(kk int, row []int16) {
	row = row[:p.cols]
	for w := 0; w*lanes < p.cols; w++ {
		var word int64
		for l := lanes - 1; l >= 0; l-- {
			word <<= laneBits
			if c := w*lanes + l; c < p.cols {
				word += int64(row[c])
			}
		}
		p.data[((w/nr)*p.k+kk)*nr+w%nr] = word
	}
}

// accumulate adds Σ_{k0 ≤ k < k1} A[i][k]·B[k][j] into acc (row stride
// bp.stride(), bp.groups·mr rows). k1−k0 must not exceed the span for the
// operands' magnitude.
func accumulate(ap *aPanel, bp *bPanel, k0, k1 int, acc []int32) {
	n := k1 - k0
	if n <= 0 {
		return
	}
	ldc := bp.stride()
	K := ap.k
	for g := 0; g < ap.groups; g++ {
		a := ap.data[(g*K+k0)*mr : (g*K+k1)*mr]
		for p := 0; p < bp.pairs; p++ {
			b := bp.data[(p*K+k0)*nr : (p*K+k1)*nr]
			c00, c01, c10, c11, c20, c21, c30, c31 := kernel4x2(a, b, n)
			c := acc[g*mr*ldc+p*ncols:]
			flush(c, c00, c01)
			flush(c[ldc:], c10, c11)
			flush(c[2*ldc:], c20, c21)
			flush(c[3*ldc:], c30, c31)
		}
	}
}

// flush decodes two packed words (six columns) and adds them to c[0:6].
func flush(c []int32, w0, w1 int64) {
	c = c[:ncols]
	l0 := w0 << laneShift >> laneShift
	w0 = (w0 - l0) >> laneBits
	l1 := w0 << laneShift >> laneShift
	l2 := (w0 - l1) >> laneBits
	c[0] += int32(l0)
	c[1] += int32(l1)
	c[2] += int32(l2)
	l0 = w1 << laneShift >> laneShift
	w1 = (w1 - l0) >> laneBits
	l1 = w1 << laneShift >> laneShift
	l2 = (w1 - l1) >> laneBits
	c[3] += int32(l0)
	c[4] += int32(l1)
	c[5] += int32(l2)
}

// kernel4x2 is the register-blocked inner loop: 4 rows × 2 packed words (24
// MACs per step of k, 8 multiplies). Pointer arithmetic because bounds checks
// cost ~40% here; lengths are checked once on entry, and the pointers never
// step past the last element (so checkptr and the GC stay happy).
func kernel4x2(a []int16, b []int64, n int) (c00, c01, c10, c11, c20, c21, c30, c31 int64) {
	if n <= 0 {
		return
	}
	if len(a) < mr*n || len(b) < nr*n {
		panic("compute: kernel4x2 operands too short")
	}
	pa := unsafe.Pointer(unsafe.SliceData(a))
	pb := unsafe.Pointer(unsafe.SliceData(b))
	last := unsafe.Add(pb, (n-1)*nr*8)
	for {
		b0 := *(*int64)(pb)
		b1 := *(*int64)(unsafe.Add(pb, 8))
		a0 := int64(*(*int16)(pa))
		c00 += a0 * b0
		c01 += a0 * b1
		a1 := int64(*(*int16)(unsafe.Add(pa, 2)))
		c10 += a1 * b0
		c11 += a1 * b1
		a2 := int64(*(*int16)(unsafe.Add(pa, 4)))
		c20 += a2 * b0
		c21 += a2 * b1
		a3 := int64(*(*int16)(unsafe.Add(pa, 6)))
		c30 += a3 * b0
		c31 += a3 * b1
		if pb == last {
			return
		}
		pa = unsafe.Add(pa, mr*2)
		pb = unsafe.Add(pb, nr*8)
	}
}
