package compute

// Tile shape of the plain product: 64 rows (16 micro-kernel row groups) by 66
// columns (11 word pairs), so one tile's operands for a k-span stay in L1.
const (
	gemmRows = 64
	gemmCols = 66
)

// noNoise packs plain operands through the noised code path (rank 0).
var noNoise = &noiseWords{}

// buildAPanel packs rows [i0, i0+h) of A + EL·ER, and fills those rows of A·FL
// when afl is not nil.
func buildAPanel(a I8, nz *noiseWords, i0, h int, afl []int32) *aPanel {
	k := a.Cols
	buf := make([]int16, h*k)
	noisedRows(a, nz, i0, h, buf, afl)
	p := newAPanel(h, k)
	for r := 0; r < h; r++ {
		p.setRow(r, buf[r*k:(r+1)*k])
	}
	return p
}

// buildBPanel packs columns [j0, j0+w) of B + FL·FR, and adds those columns of
// ER·(B+F) into erb when erb is not nil.
func buildBPanel(b I8, nz *noiseWords, j0, w int, erb []int32) *bPanel {
	rows := newBRows(b, nz, j0, w, erb)
	p := newBPanel(w, b.Rows)
	for kk := 0; kk < b.Rows; kk++ {
		p.setRow(kk, rows.next(kk))
	}
	return p
}

func matMul(a, b I8) I32 {
	mustProductShape(a, b)
	c := NewI32(a.Rows, b.Cols)
	matMulInto(c, a, b)
	return c
}

// matMulInto overwrites c with A·B: every tile is copied whole into C.
func matMulInto(c I32, a, b I8) {
	mustIntoShape(c, a, b)
	m, k, n := a.Rows, a.Cols, b.Cols
	if m == 0 || n == 0 || k == 0 {
		clear(c.Data)
		return
	}
	ti := (m + gemmRows - 1) / gemmRows
	tj := (n + gemmCols - 1) / gemmCols
	aps := make([]*aPanel, ti)
	bps := make([]*bPanel, tj)
	parallelFor(ti+tj, func(_, t int) bool {
		if t < ti {
			i0 := t * gemmRows
			aps[t] = buildAPanel(a, noNoise, i0, min(gemmRows, m-i0), nil)
		} else {
			j0 := (t - ti) * gemmCols
			bps[t-ti] = buildBPanel(b, noNoise, j0, min(gemmCols, n-j0), nil)
		}
		return true
	})

	span := spanFor(128) // any int8, -128 included
	accs := make([][]int32, workers(ti*tj))
	parallelFor(ti*tj, func(wk, t int) bool {
		ap, bp := aps[t/tj], bps[t%tj]
		ldc := bp.stride()
		size := ap.groups * mr * ldc
		if len(accs[wk]) < size {
			accs[wk] = make([]int32, size)
		}
		acc := accs[wk][:size]
		clear(acc)
		for k0 := 0; k0 < k; k0 += span {
			accumulate(ap, bp, k0, min(k0+span, k), acc)
		}
		i0, j0 := (t/tj)*gemmRows, (t%tj)*gemmCols
		for ii := 0; ii < ap.rows; ii++ {
			copy(c.Data[(i0+ii)*n+j0:(i0+ii)*n+j0+bp.cols], acc[ii*ldc:])
		}
		return true
	})
}
