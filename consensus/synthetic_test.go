package consensus

import (
	"testing"

	"github.com/quern-chain/quern/chain/types"
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

func BenchmarkSyntheticOperands(b *testing.B) {
	seed := types.Keccak([]byte("quern/bench/synthetic"))
	for i := 0; i < b.N; i++ {
		SyntheticOperands(seed, 1024)
	}
}
