package compute

import "golang.org/x/sys/cpu"

//go:noescape
func signAdd32(dst, a, e, s *byte, blocks int)

//go:noescape
func signAddRows32(dst, src *byte, ld int, fr *byte, idx *uint16, s *int8, rows, blocks int)

var noiseAVX2 = cpu.X86.HasAVX2

// addSignedRows is dst[kk][j] = src[kk·ld + j] + s[kk]·fr[idx[kk]][j] for
// kk < rows, j < w: a tile column of B' = B + F in one call.
func addSignedRows(dst, src []int8, ld int, fr []int8, idx []uint16, s []int8, rows, w int) {
	if !noiseAVX2 || w%32 != 0 || rows == 0 {
		addSignedRowsGo(dst, src, ld, fr, idx, s, rows, w)
		return
	}
	_, _ = dst[rows*w-1], src[(rows-1)*ld+w-1]
	_, _ = idx[rows-1], s[rows-1]
	for _, i := range idx[:rows] {
		if (int(i)+1)*w > len(fr) {
			panic("compute: addSignedRows: FR row out of range")
		}
	}
	signAddRows32(i8ptr(dst), i8ptr(src), ld, i8ptr(fr), &idx[0], &s[0], rows, w/32)
}

// addTiled is dst[k] = a[k] + s[k]·e[k mod len(e)] (A' = A + E, one row).
func addTiled(dst, a, e, s []int8) {
	r := len(e)
	if !noiseAVX2 || r < 32 {
		addTiledGo(dst, a, e, s)
		return
	}
	_ = dst[len(a)-1]
	_ = s[len(a)-1]
	for k0 := 0; k0 < len(a); k0 += r {
		n := min(r, len(a)-k0)
		blocks := n / 32
		if blocks > 0 {
			signAdd32(i8ptr(dst[k0:]), i8ptr(a[k0:]), i8ptr(e), i8ptr(s[k0:]), blocks)
		}
		for c := blocks * 32; c < n; c++ {
			dst[k0+c] = a[k0+c] + s[k0+c]*e[c]
		}
	}
}

// addSigned is dst[j] = a[j] + s·e[j] (one row of B' = B + F).
func addSigned(dst, a, e []int8, s int8) {
	n := len(a)
	if !noiseAVX2 || n < 32 {
		addSignedGo(dst, a, e, s)
		return
	}
	_, _ = dst[n-1], e[n-1]
	blocks := n / 32
	var row uint16
	signAddRows32(i8ptr(dst), i8ptr(a), 0, i8ptr(e), &row, &s, 1, blocks)
	for j := blocks * 32; j < n; j++ {
		dst[j] = a[j] + s*e[j]
	}
}
