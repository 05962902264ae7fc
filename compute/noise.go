package compute

import "fmt"

// Noise holds the low-rank factors of E = EL·ER (M×K) and F = FL·FR (K×N),
// entries in {-1, 0, 1}, row-major: EL is M×r, ER r×K, FL K×r, FR r×N.
type Noise struct {
	Rank           int
	EL, ER, FL, FR []int8
}

// NewNoise draws the factors for an M×K by K×N product from xoshiro256** keyed
// by key, in the frozen order EL, ER, FL, FR, each entry next() mod 3 − 1.
func NewNoise(key [32]byte, m, k, n, rank int) *Noise {
	if m < 0 || k < 0 || n < 0 || rank < 0 {
		panic(fmt.Sprintf("compute: NewNoise(%d, %d, %d, rank %d): negative size", m, k, n, rank))
	}
	x := NewXoshiro(key)
	draw := func(count int) []int8 {
		f := make([]int8, count)
		for i := range f {
			f[i] = int8(x.Next()%3) - 1
		}
		return f
	}
	nz := &Noise{Rank: rank}
	nz.EL = draw(m * rank)
	nz.ER = draw(rank * k)
	nz.FL = draw(k * rank)
	nz.FR = draw(rank * n)
	return nz
}

// mustFit panics unless the factors match an M×K by K×N product and the
// noised partial sums stay inside int32.
func (nz *Noise) mustFit(m, k, n int) {
	if nz == nil {
		panic("compute: nil noise")
	}
	r := nz.Rank
	if r < 0 || len(nz.EL) != m*r || len(nz.ER) != r*k || len(nz.FL) != k*r || len(nz.FR) != r*n {
		panic(fmt.Sprintf("compute: noise of rank %d (EL %d, ER %d, FL %d, FR %d entries) does not fit a %d×%d×%d product",
			r, len(nz.EL), len(nz.ER), len(nz.FL), len(nz.FR), m, k, n))
	}
	// |A+E| ≤ 128 + r; the cumulative sums must fit int32 and the SWAR lanes
	// must hold at least one product.
	amax := int64(128 + r)
	if amax*amax*int64(k) >= 1<<31 || spanFor(int(amax)) < 1 {
		panic(fmt.Sprintf("compute: noise rank %d is too large for K = %d", r, k))
	}
}

// noiseWords packs the factors for SWAR dot products so that building A+E,
// B+F, A·FL and ER·(B+F) costs a few operations per entry instead of r.
//
// Byte lanes (dot8): x = Σ x_q·2^(8q) and y = Σ y_q·2^(8(7−q)) give
// x·y = Σ_q x_q·y_q·2⁵⁶ + lower terms below 2⁵⁵ in magnitude (|x_q·y_q| ≤ 1),
// so (x·y + 2⁵⁵) >> 56 is the dot product of up to 8 entries.
// 16-bit lanes (lane16): a·(Σ f_l·2^(16l)) accumulates four sums at once.
type noiseWords struct {
	r, w8, w16 int
	el, er     []int64 // dot8: EL rows (M×w8), ER columns (K×w8, reversed)
	fl, fr     []int64 // dot8: FL rows (K×w8), FR columns (N×w8, reversed)
	fl16       []int64 // lane16: FL rows (K×w16)
	er16       []int64 // lane16: ER columns (K×w16)
}

const (
	lane16Bits = 16
	lane16     = 4
	byteLanes  = 8
	dot8Round  = 1 << 55
)

func newNoiseWords(nz *Noise, m, k, n int) *noiseWords {
	r := nz.Rank
	w := &noiseWords{r: r, w8: (r + byteLanes - 1) / byteLanes, w16: (r + lane16 - 1) / lane16}
	// at(q) reads the factor entry for rank index q of one row or column.
	pack8 := func(count int, reversed bool, at func(i, q int) int8) []int64 {
		out := make([]int64, count*w.w8)
		for i := 0; i < count; i++ {
			for q := 0; q < r; q++ {
				shift := 8 * (q % byteLanes)
				if reversed {
					shift = 8 * (byteLanes - 1 - q%byteLanes)
				}
				out[i*w.w8+q/byteLanes] += int64(at(i, q)) << shift
			}
		}
		return out
	}
	pack16 := func(count int, at func(i, q int) int8) []int64 {
		out := make([]int64, count*w.w16)
		for i := 0; i < count; i++ {
			for q := 0; q < r; q++ {
				out[i*w.w16+q/lane16] += int64(at(i, q)) << (lane16Bits * (q % lane16))
			}
		}
		return out
	}
	rowOf := func(f []int8) func(i, q int) int8 { return func(i, q int) int8 { return f[i*r+q] } }
	colOf := func(f []int8, cols int) func(i, q int) int8 { return func(i, q int) int8 { return f[q*cols+i] } }
	w.el = pack8(m, false, rowOf(nz.EL))
	w.er = pack8(k, true, colOf(nz.ER, k))
	w.fl = pack8(k, false, rowOf(nz.FL))
	w.fr = pack8(n, true, colOf(nz.FR, n))
	w.fl16 = pack16(k, rowOf(nz.FL))
	w.er16 = pack16(k, colOf(nz.ER, k))
	return w
}

// dot8 returns Σ x[w]·y[w] decoded from byte lanes (see noiseWords).
func dot8(x, y []int64) int16 {
	var s int64
	for i, v := range x {
		s += (v*y[i] + dot8Round) >> 56
	}
	return int16(s)
}

// flush16 adds the four 16-bit lanes of word into dst (up to len(dst) ≤ 4).
func flush16(dst []int32, word int64) {
	for l := range dst {
		lane := word << (64 - lane16Bits) >> (64 - lane16Bits)
		dst[l] += int32(lane)
		word = (word - lane) >> lane16Bits
	}
}

// span16 is how many products of magnitude ≤ maxAbs a 16-bit lane holds.
func span16(maxAbs int) int { return (1<<(lane16Bits-1) - 1) / maxAbs }

// noisedRows writes rows [i0, i0+h) of A' = A + EL·ER into dst (h×K, int16) and,
// when afl is not nil, rows [i0, i0+h) of A·FL (M×r) into afl.
func noisedRows(a I8, nw *noiseWords, i0, h int, dst []int16, afl []int32) {
	k, r, w8, w16 := a.Cols, nw.r, nw.w8, nw.w16
	span := span16(128)
	var acc [8]int64 // lane16 sums of A·FL; rank ≤ 32 uses the array, larger ranks allocate
	sums := acc[:0]
	if w16 <= len(acc) {
		sums = acc[:w16]
	} else {
		sums = make([]int64, w16)
	}
	for ii := 0; ii < h; ii++ {
		i := i0 + ii
		row := dst[ii*k : (ii+1)*k]
		arow := a.Row(i)
		switch w8 {
		case 0:
			for kk, v := range arow {
				row[kk] = int16(v)
			}
		case 1:
			el := nw.el[i]
			er := nw.er[:k]
			for kk, v := range arow {
				row[kk] = int16(v) + int16((el*er[kk]+dot8Round)>>56)
			}
		default:
			el := nw.el[i*w8 : (i+1)*w8]
			for kk, v := range arow {
				row[kk] = int16(v) + dot8(el, nw.er[kk*w8:(kk+1)*w8])
			}
		}
		if afl == nil {
			continue
		}
		out := afl[i*r : (i+1)*r]
		clear(out)
		clear(sums)
		for k0 := 0; k0 < k; k0 += span {
			for kk := k0; kk < min(k0+span, k); kk++ {
				v := int64(arow[kk])
				for w, f := range nw.fl16[kk*w16 : (kk+1)*w16] {
					sums[w] += v * f
				}
			}
			for w := range sums {
				flush16(out[w*lane16:min((w+1)*lane16, r)], sums[w])
				sums[w] = 0
			}
		}
	}
}

// bRows builds B' = B + FL·FR for columns [j0, j0+w) row by row; with erb it
// also accumulates those columns of ER·B' (r×N).
type bRows struct {
	b    I8
	nw   *noiseWords
	j0   int
	row  []int16
	erb  []int32
	sums []int64 // lane16 sums of ER·B', w×w16
	done int     // rows accumulated in sums since the last flush
	span int
}

func newBRows(b I8, nw *noiseWords, j0, w int, erb []int32) *bRows {
	br := &bRows{b: b, nw: nw, j0: j0, row: make([]int16, w), erb: erb, span: span16(128 + nw.r)}
	if erb != nil {
		br.sums = make([]int64, w*nw.w16)
	}
	return br
}

// next returns row kk of B' (rows must come in order 0, 1, …).
func (br *bRows) next(kk int) []int16 {
	b, nw, w8, w16 := br.b, br.nw, br.nw.w8, br.nw.w16
	n := b.Cols
	src := b.Data[kk*n+br.j0 : kk*n+br.j0+len(br.row)]
	row := br.row
	switch w8 {
	case 0:
		for jj, v := range src {
			row[jj] = int16(v)
		}
	case 1:
		fl := nw.fl[kk]
		fr := nw.fr[br.j0 : br.j0+len(row)]
		for jj, v := range src {
			row[jj] = int16(v) + int16((fl*fr[jj]+dot8Round)>>56)
		}
	default:
		fl := nw.fl[kk*w8 : (kk+1)*w8]
		for jj, v := range src {
			j := br.j0 + jj
			row[jj] = int16(v) + dot8(fl, nw.fr[j*w8:(j+1)*w8])
		}
	}
	if br.erb != nil {
		er := nw.er16[kk*w16 : (kk+1)*w16]
		if w16 == 1 {
			e := er[0]
			for jj, v := range row {
				br.sums[jj] += int64(v) * e
			}
		} else {
			for jj, v := range row {
				s := br.sums[jj*w16 : (jj+1)*w16]
				for w, e := range er {
					s[w] += int64(v) * e
				}
			}
		}
		br.done++
		if br.done == br.span || kk == b.Rows-1 {
			br.flush()
		}
	}
	return row
}

func (br *bRows) flush() {
	r, n, w16 := br.nw.r, br.b.Cols, br.nw.w16
	var lanes [lane16]int32
	for jj := range br.row {
		for w := 0; w < w16; w++ {
			q0 := w * lane16
			l := lanes[:min(lane16, r-q0)]
			clear(l)
			flush16(l, br.sums[jj*w16+w])
			br.sums[jj*w16+w] = 0
			for q, v := range l {
				br.erb[(q0+q)*n+br.j0+jj] += v
			}
		}
	}
	br.done = 0
}
