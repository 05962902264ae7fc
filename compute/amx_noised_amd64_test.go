package compute

import (
	"fmt"
	"maps"
	"sync"
	"testing"
)

// TestAMXNoised checks the AMX transcript (aligned: A in place and B+128 on
// TDPBSUD; unaligned: packed, chunks padded, TDPBSSD; edge tiles, ranks 0..8,
// packed and radix corrections)
// against the portable backend, digest by digest.
func TestAMXNoised(t *testing.T) {
	var x *amxBackend
	for _, be := range Backends() {
		if a, ok := be.(*amxBackend); ok {
			x = a
		}
	}
	if x == nil {
		t.Skip("no amx-int8 backend here")
	}
	defer func(v int) { amxMinChunk = v }(amxMinChunk)
	amxMinChunk = 64
	cases := []struct {
		m, k, n int
		g       Geometry
		rank    int
	}{
		{128, 1024, 128, Geometry{64, 512}, 8},
		{64, 64, 64, Geometry{64, 64}, 8},
		{100, 300, 70, Geometry{64, 100}, 8},
		{130, 700, 65, Geometry{64, 257}, 5},
		{17, 200, 200, Geometry{64, 64}, 3},
		{64, 1030, 64, Geometry{64, 1024}, 8},
		{70, 520, 40, Geometry{64, 520}, 0},
		{33, 90, 129, Geometry{64, 4096}, 1},
		{192, 512, 64, Geometry{64, 256}, 8},
		{130, 1024, 100, Geometry{64, 1024}, 2},
	}
	for ci, tc := range cases {
		if !x.amxNoisedUsable(NewNoise([32]byte{}, 1, 1, 1, tc.rank), tc.g, tc.k) {
			t.Fatalf("case %d: AMX transcript not used", ci)
		}
		a, b := RandomI8([32]byte{byte(ci), 7}, tc.m, tc.k), RandomI8([32]byte{byte(ci), 8}, tc.k, tc.n)
		nz := NewNoise([32]byte{byte(ci), 9}, tc.m, tc.k, tc.n, tc.rank)
		want := map[[2]int][32]byte{}
		var wmu sync.Mutex
		wc, _ := Portable().NoisedMatMul(a, b, nz, tc.g, func(ti, tj int, d [32]byte) bool {
			wmu.Lock()
			want[[2]int{ti, tj}] = d
			wmu.Unlock()
			return true
		})
		for _, radix := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/radix=%v", ci, radix), func(t *testing.T) {
				forceRadix = radix
				defer func() { forceRadix = false }()
				got := map[[2]int][32]byte{}
				var mu sync.Mutex
				c, ok := x.NoisedMatMul(a, b, nz, tc.g, func(ti, tj int, d [32]byte) bool {
					mu.Lock()
					got[[2]int{ti, tj}] = d
					mu.Unlock()
					return true
				})
				if !ok || !equalI32(c, wc) {
					t.Fatalf("product differs from portable")
				}
				if !maps.Equal(got, want) {
					t.Fatalf("digests differ from portable")
				}
				clear(got)
				if !x.NoisedTranscript(a, b, nz, tc.g, func(ti, tj int, d [32]byte) bool {
					mu.Lock()
					got[[2]int{ti, tj}] = d
					mu.Unlock()
					return true
				}) || !maps.Equal(got, want) {
					t.Fatalf("NoisedTranscript digests differ from portable")
				}
			})
		}
	}
}
