package compute

import (
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestNoisedMatMulRadix runs the noised cases with the radix correction steps
// of the int8 transcript, which random inputs rarely need.
func TestNoisedMatMulRadix(t *testing.T) {
	forceRadix = true
	defer func() { forceRadix = false }()
	for _, be := range Backends() {
		if s, ok := be.(*simd); ok && s.quads != nil {
			t.Run(be.Name(), func(t *testing.T) { testNoisedMatMul(t, be) })
		}
	}
}

// TestNoisedMatMulLongChunks checks chunks that the int8 transcript splits
// across kernel calls against the portable backend, digest by digest.
func TestNoisedMatMulLongChunks(t *testing.T) {
	cases := []struct {
		m, k, n int
		g       Geometry
		rank    int
	}{
		{70, 700, 100, Geometry{64, 300}, 8},
		{64, 1030, 64, Geometry{64, 1024}, 8},
		{65, 600, 130, Geometry{64, 257}, 5},
		{16, 520, 40, Geometry{64, 520}, 0},
	}
	for _, be := range Backends() {
		for ci, tc := range cases {
			a, b := RandomI8([32]byte{byte(ci), 1}, tc.m, tc.k), RandomI8([32]byte{byte(ci), 2}, tc.k, tc.n)
			nz := NewNoise([32]byte{byte(ci), 3}, tc.m, tc.k, tc.n, tc.rank)
			want := map[[2]int][32]byte{}
			var wmu sync.Mutex
			wc, _ := Portable().NoisedMatMul(a, b, nz, tc.g, func(ti, tj int, d [32]byte) bool {
				wmu.Lock()
				want[[2]int{ti, tj}] = d
				wmu.Unlock()
				return true
			})
			for _, radix := range []bool{false, true} {
				forceRadix = radix
				got := map[[2]int][32]byte{}
				var mu sync.Mutex
				c, ok := be.NoisedMatMul(a, b, nz, tc.g, func(ti, tj int, d [32]byte) bool {
					mu.Lock()
					got[[2]int{ti, tj}] = d
					mu.Unlock()
					return true
				})
				forceRadix = false
				if !ok || !equalI32(c, wc) || !maps.Equal(got, want) {
					t.Fatalf("%s case %d radix=%v: product or digests differ from portable", be.Name(), ci, radix)
				}
			}
		}
	}
}

func TestRowSumI8(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for n := 0; n <= 200; n++ {
		for _, fill := range []int{0, 127, -128} {
			row := make([]int8, n+1) // one extra byte past n that must not count
			var want int32
			for i := range row {
				v := int8(fill)
				if fill == 0 {
					v = int8(rng.IntN(256) - 128)
				}
				row[i] = v
				if i < n {
					want += int32(v)
				}
			}
			if got := rowSumI8(i8ptr(row), n); got != want {
				t.Fatalf("n=%d fill=%d: rowSumI8 = %d, want %d", n, fill, got, want)
			}
		}
	}
}
