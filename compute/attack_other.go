//go:build !amd64

package compute

// fusedTranscript has no SIMD kernel to run off amd64: the attackers take
// their MatMulInto route.
func fusedTranscript(be Backend, a, b I8, g Geometry, pre func(I, J, t int, acc []int32), visit TileVisitor) (handled, ok bool) {
	return false, false
}

// attackAccStride is unused off amd64 (fusedTranscript never runs there).
const attackAccStride = 64
