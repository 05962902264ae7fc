//go:build !amd64

package compute

func addTiled(dst, a, e, s []int8)       { addTiledGo(dst, a, e, s) }
func addSigned(dst, a, e []int8, s int8) { addSignedGo(dst, a, e, s) }

func addSignedRows(dst, src []int8, ld int, fr []int8, idx []uint16, s []int8, rows, w int) {
	addSignedRowsGo(dst, src, ld, fr, idx, s, rows, w)
}
