package consensus

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
)

// The validator builds only the winning tile's rows of A and columns of B;
// they must be exactly the miner's, for every tile including edge tiles.
func TestSyntheticTileOperandsMatchPuzzle(t *testing.T) {
	seed := types.Keccak([]byte("quern/test/synthetic"))
	const dim, tile = 100, 64
	a, b := SyntheticOperands(seed, dim)
	for ti := uint32(0); ti < 2; ti++ {
		for tj := uint32(0); tj < 2; tj++ {
			ta, tb := syntheticTileOperands(seed, dim, tile, ti, tj)
			for i := int(ti) * tile; i < min(int(ti+1)*tile, dim); i++ {
				for k := 0; k < dim; k++ {
					if ta.At(i, k) != a.At(i, k) {
						t.Fatalf("tile (%d,%d): A[%d][%d] %d, puzzle has %d", ti, tj, i, k, ta.At(i, k), a.At(i, k))
					}
				}
			}
			for k := 0; k < dim; k++ {
				for j := int(tj) * tile; j < min(int(tj+1)*tile, dim); j++ {
					if tb.At(k, j) != b.At(k, j) {
						t.Fatalf("tile (%d,%d): B[%d][%d] %d, puzzle has %d", ti, tj, k, j, tb.At(k, j), b.At(k, j))
					}
				}
			}
		}
	}
}

func TestSyntheticValuesUniform(t *testing.T) {
	a, b := SyntheticOperands(types.Keccak([]byte("quern/test/uniform")), 512)
	var counts [256]int
	for _, m := range [][]int8{a.Data, b.Data} {
		for _, v := range m {
			if v == -128 {
				t.Fatal("synthetic value -128")
			}
			counts[int(v)+128]++
		}
	}
	// 524288 draws over 255 values: expect 2056 each; a 10% band is > 4σ.
	for v := -127; v <= 127; v++ {
		if c := counts[v+128]; c < 1850 || c > 2260 {
			t.Fatalf("value %d drawn %d times, want ≈ 2056", v, c)
		}
	}
	// Distinct seeds give distinct puzzles; A and B differ.
	a2, _ := SyntheticOperands(types.Keccak([]byte("quern/test/uniform2")), 512)
	same := 0
	for i := range a.Data {
		if a.Data[i] == a2.Data[i] {
			same++
		}
		if a.Data[i] == b.Data[i] {
			same++
		}
	}
	if same > len(a.Data)/50 {
		t.Fatalf("%d coincidences between puzzles, want ≈ 2/255 of %d", same, 2*len(a.Data))
	}
}

// The AVX-512 kernels must equal the scalar reference bit for bit: whole
// puzzles (lane and step remainders) and tile operands (edge tiles).
func TestSyntheticAsmMatchesRef(t *testing.T) {
	if !syntheticHasAsm {
		t.Skip("no AVX-512 synthetic kernels on this CPU")
	}
	check := func(what string, seed common.Hash, dim, r0, r1, c0, c1 int) {
		t.Helper()
		a, b := syntheticLinesAsm(seed, dim, r0, r1, c0, c1)
		ra, rb := syntheticLinesRef(seed, dim, r0, r1, c0, c1)
		if !slices.Equal(a.Data, ra.Data) {
			t.Fatalf("%s: A differs from the reference", what)
		}
		if !slices.Equal(b.Data, rb.Data) {
			t.Fatalf("%s: B differs from the reference", what)
		}
	}
	for s := 0; s < 3; s++ {
		seed := types.Keccak([]byte(fmt.Sprintf("quern/test/synthetic-asm/%d", s)))
		for _, dim := range []int{1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100, 1023, 1024} {
			if s > 0 && dim >= 1023 {
				continue // one seed for the large ones keeps this fast
			}
			check(fmt.Sprintf("seed %d dim %d", s, dim), seed, dim, 0, dim, 0, dim)
		}
		for _, c := range []struct{ dim, tile int }{{100, 64}, {130, 64}, {65, 16}, {7, 4}, {200, 48}} {
			n := (c.dim + c.tile - 1) / c.tile
			for ti := 0; ti < n; ti++ {
				for tj := 0; tj < n; tj++ {
					r0, c0 := ti*c.tile, tj*c.tile
					check(fmt.Sprintf("seed %d dim %d tile %d (%d,%d)", s, c.dim, c.tile, ti, tj),
						seed, c.dim, r0, min(r0+c.tile, c.dim), c0, min(c0+c.tile, c.dim))
				}
			}
		}
	}
}

// The kernels' seeding (lineStates), stepped by compute.Xoshiro, gives
// syntheticLineRef's lines; odd lengths drop the last high half.
func TestSyntheticLineStates(t *testing.T) {
	root := syntheticRoot(types.Keccak([]byte("quern/test/line")))
	var st [4][16]uint64
	lineStates(&st, root, tagColsB, 40, 16)
	for l := 0; l < 16; l++ {
		var key [32]byte
		for w := range st {
			binary.LittleEndian.PutUint64(key[8*w:], st[w][l])
		}
		x := compute.NewXoshiro(key)
		n := 7 + l
		got := make([]int8, n)
		syntheticLineRef(root, tagColsB, 40+l, got)
		for k := 0; k < n; k += 2 {
			v := x.Next()
			if want := int8(int((uint64(uint32(v))*255)>>32) - 127); got[k] != want {
				t.Fatalf("line %d value %d: %d, want %d", 40+l, k, got[k], want)
			}
			if want := int8(int(((v>>32)*255)>>32) - 127); k+1 < n && got[k+1] != want {
				t.Fatalf("line %d value %d: %d, want %d", 40+l, k+1, got[k+1], want)
			}
		}
	}
}

// Scalar reference and AVX-512 side by side: the miner's whole puzzle and a
// validator's tile (64 rows of A, 64 columns of B).
func BenchmarkSyntheticOperands(b *testing.B) {
	seed := types.Keccak([]byte("quern/bench/synthetic"))
	const dim, tile = 1024, 64
	type path struct {
		name string
		f    func(seed common.Hash, dim, r0, r1, c0, c1 int) (compute.I8, compute.I8)
	}
	paths := []path{{"ref", syntheticLinesRef}}
	if syntheticHasAsm {
		paths = append(paths, path{"avx512", syntheticLinesAsm})
	}
	for _, p := range paths {
		b.Run("puzzle/"+p.name, func(b *testing.B) {
			b.SetBytes(2 * dim * dim)
			for i := 0; i < b.N; i++ {
				p.f(seed, dim, 0, dim, 0, dim)
			}
		})
	}
	for _, p := range paths {
		b.Run("tile/"+p.name, func(b *testing.B) {
			b.SetBytes(2 * tile * dim)
			for i := 0; i < b.N; i++ {
				p.f(seed, dim, 3*tile, 4*tile, 5*tile, 6*tile)
			}
		})
	}
}
