package consensus

import (
	"encoding/binary"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// splitmix64Inv inverts splitmix64 (a bijection).
func splitmix64Inv(z uint64) uint64 {
	unshift := func(z uint64, k uint) uint64 {
		x := z
		for i := 0; i < 64; i += int(k) {
			x = z ^ x>>k
		}
		return x
	}
	inv := func(c uint64) uint64 { // c odd: Newton's iteration mod 2^64
		x := c
		for i := 0; i < 6; i++ {
			x *= 2 - c*x
		}
		return x
	}
	z = unshift(z, 31) * inv(0x94D049BB133111EB)
	z = unshift(z, 27) * inv(0xBF58476D1CE4E5B9)
	return unshift(z, 30) - 0x9E3779B97F4A7C15
}

// A line whose seeded state is all zero runs from s[0] = 1 (as
// compute.NewXoshiro), in the kernels as in the reference. No hash root
// gives one; a crafted root does.
func TestSyntheticKernelsZeroState(t *testing.T) {
	if !syntheticHasAsm {
		t.Skip("no AVX-512 synthetic kernels on this CPU")
	}
	if splitmix64(splitmix64Inv(12345)) != 12345 {
		t.Fatal("splitmix64Inv is not the inverse")
	}
	const dim = 37
	zeroLine := 5
	for _, tag := range []uint64{tagRowsA, tagColsB} {
		var root common.Hash
		for w := 0; w < 4; w++ {
			binary.LittleEndian.PutUint64(root[8*w:], splitmix64Inv(0)^tag^(uint64(zeroLine)+1)*0x9E3779B97F4A7C15)
		}
		var st [4][16]uint64
		lineStates(&st, root, tag, 0, 16)
		if st[0][zeroLine] != 1 || st[1][zeroLine]|st[2][zeroLine]|st[3][zeroLine] != 0 {
			t.Fatalf("tag %#x: zero state seeded as %x", tag, [4]uint64{st[0][zeroLine], st[1][zeroLine], st[2][zeroLine], st[3][zeroLine]})
		}
		m := make([]int8, 16*dim)
		if tag == tagRowsA {
			synthA(&st, &m[0], dim, dim)
		} else {
			synthB(&st, &m[0], 16, dim, 0xffff)
		}
		want := make([]int8, dim)
		for l := 0; l < 16; l++ {
			syntheticLineRef(root, tag, l, want)
			for k, v := range want {
				got := m[l*dim+k]
				if tag == tagColsB {
					got = m[k*16+l]
				}
				if got != v {
					t.Fatalf("tag %#x line %d value %d: %d, reference %d", tag, l, k, got, v)
				}
			}
		}
	}
}
