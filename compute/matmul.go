package compute

// Tile shape of the plain product: 64 rows (16 micro-kernel row groups) by 66
// columns (11 word pairs), so one tile's operands for a k-span stay in L1.
const (
	gemmRows = 64
	gemmCols = 66
)

// buildAPanel packs rows [i0, i0+h) of an int8 matrix (K = a.Cols).
func buildAPanel(a I8, i0, h int) *aPanel {
	p := newAPanel(h, a.Cols)
	row := make([]int16, a.Cols)
	for r := 0; r < h; r++ {
		for kk, v := range a.Row(i0 + r) {
			row[kk] = int16(v)
		}
		p.setRow(r, row)
	}
	return p
}

// buildBPanel packs columns [j0, j0+w) of an int8 matrix (K = b.Rows).
func buildBPanel(b I8, j0, w int) *bPanel {
	p := newBPanel(w, b.Rows)
	row := make([]int16, w)
	for kk := 0; kk < b.Rows; kk++ {
		for jj, v := range b.Data[kk*b.Cols+j0 : kk*b.Cols+j0+w] {
			row[jj] = int16(v)
		}
		p.setRow(kk, row)
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
			aps[t] = buildAPanel(a, i0, min(gemmRows, m-i0))
		} else {
			j0 := (t - ti) * gemmCols
			bps[t-ti] = buildBPanel(b, j0, min(gemmCols, n-j0))
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
