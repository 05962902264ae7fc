package consensus

import (
	"encoding/binary"
	"runtime"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
)

// Synthetic puzzle operands (docs/protocol.md §4). A is generated row by row
// and B column by column, each line from its own stream, so a validator
// builds only the b rows of A and b columns of B that the winning tile
// reads — a sample of the puzzle's input as well as of its work — and a
// miner builds lines in parallel.
//
//	root   = H(seed ‖ "synthetic")
//	line   = xoshiro256** with state s[w] = splitmix64 of
//	         (LE64(root[8w:8w+8]) XOR tag XOR (index+1)·0x9E3779B97F4A7C15), w = 0..3,
//	         tag = 0x41 for A's rows, 0x42 for B's columns
//	values = two per draw v: low then high 32-bit half h, int8((h·255) >> 32) − 127
//
// Values are uniform over [-127, 127] up to a 2^-24 bias; uniform random
// matrices are full rank with overwhelming probability.

const (
	tagRowsA = 0x41
	tagColsB = 0x42
)

func syntheticRoot(seed common.Hash) common.Hash {
	return types.Keccak(seed[:], []byte("synthetic"))
}

func splitmix64(z uint64) uint64 {
	z += 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// lineStates seeds the [word][lane] states of up to 16 lines for the
// kernels: lanes 0..n-1 get lines index0..index0+n-1 of the stream tagged
// tag, as syntheticLineRef; the rest stay zero (a zero stream, stored
// nowhere).
func lineStates(st *[4][16]uint64, root common.Hash, tag uint64, index0, n int) {
	var r [4]uint64
	for w := range r {
		r[w] = binary.LittleEndian.Uint64(root[8*w:]) ^ tag
	}
	*st = [4][16]uint64{}
	for l := range n {
		x := (uint64(index0+l) + 1) * 0x9E3779B97F4A7C15
		s0, s1, s2, s3 := splitmix64(r[0]^x), splitmix64(r[1]^x), splitmix64(r[2]^x), splitmix64(r[3]^x)
		if s0|s1|s2|s3 == 0 {
			s0 = 1
		}
		st[0][l], st[1][l], st[2][l], st[3][l] = s0, s1, s2, s3
	}
}

// syntheticLineRef fills dst with line index of the stream tagged tag: the
// scalar reference, and the fallback without AVX-512.
func syntheticLineRef(root common.Hash, tag uint64, index int, dst []int8) {
	var key [32]byte
	for w := 0; w < 4; w++ {
		v := binary.LittleEndian.Uint64(root[8*w:]) ^ tag ^ (uint64(index)+1)*0x9E3779B97F4A7C15
		binary.LittleEndian.PutUint64(key[8*w:], splitmix64(v))
	}
	x := compute.NewXoshiro(key)
	var draws [256]uint64
	for k0 := 0; k0 < len(dst); k0 += 2 * len(draws) {
		out := dst[k0:min(k0+2*len(draws), len(dst))]
		d := draws[:(len(out)+1)/2]
		x.Fill(d)
		for i, v := range d {
			out[2*i] = int8(int((uint64(uint32(v))*255)>>32) - 127)
			if 2*i+1 < len(out) {
				out[2*i+1] = int8(int(((v>>32)*255)>>32) - 127)
			}
		}
	}
}

// SyntheticOperands are the whole synthetic puzzle of seed: dim×dim A and B.
func SyntheticOperands(seed common.Hash, dim int) (a, b compute.I8) {
	return syntheticLines(seed, dim, 0, dim, 0, dim)
}

// syntheticTileOperands builds only what tile (ti, tj) reads: rows
// [ti·tile, …) of A and columns [tj·tile, …) of B; the rest stays zero.
func syntheticTileOperands(seed common.Hash, dim, tile int, ti, tj uint32) (a, b compute.I8) {
	r0, c0 := int(ti)*tile, int(tj)*tile
	return syntheticLines(seed, dim, r0, min(r0+tile, dim), c0, min(c0+tile, dim))
}

// syntheticLines builds rows [r0, r1) of A and columns [c0, c1) of B: with
// the AVX-512 kernels where the CPU has them (synthetic_amd64.go), else from
// syntheticLineRef.
func syntheticLines(seed common.Hash, dim, r0, r1, c0, c1 int) (a, b compute.I8) {
	if syntheticAsm {
		return syntheticLinesAsm(seed, dim, r0, r1, c0, c1)
	}
	return syntheticLinesRef(seed, dim, r0, r1, c0, c1)
}

// syntheticLinesRef is syntheticLines from syntheticLineRef.
func syntheticLinesRef(seed common.Hash, dim, r0, r1, c0, c1 int) (a, b compute.I8) {
	root := syntheticRoot(seed)
	a, b = compute.NewI8(dim, dim), compute.NewI8(dim, dim)
	// Work items: single rows of A, and groups of up to colGroup columns of
	// B, generated into a contiguous buffer and written back as a blocked
	// transpose (a strided write per value would miss cache every time).
	const colGroup = 64
	rows := r1 - r0
	groups := (c1 - c0 + colGroup - 1) / colGroup
	items := rows + groups
	workers := min(runtime.GOMAXPROCS(0), max(1, (rows+c1-c0)/64))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var buf []int8
			for it := w; it < items; it += workers {
				if it < rows {
					i := r0 + it
					syntheticLineRef(root, tagRowsA, i, a.Data[i*dim:(i+1)*dim])
					continue
				}
				j0 := c0 + (it-rows)*colGroup
				n := min(colGroup, c1-j0)
				if buf == nil {
					buf = make([]int8, colGroup*dim)
				}
				for c := 0; c < n; c++ {
					syntheticLineRef(root, tagColsB, j0+c, buf[c*dim:(c+1)*dim])
				}
				for k0 := 0; k0 < dim; k0 += colGroup { // 64×64 blocks stay in L1
					kn := min(colGroup, dim-k0)
					for c := 0; c < n; c++ {
						col := buf[c*dim+k0 : c*dim+k0+kn]
						out := b.Data[k0*dim+j0+c:]
						for kk, v := range col {
							out[kk*dim] = v
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	return a, b
}
