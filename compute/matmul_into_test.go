package compute

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// dirtyI32 is an m×n C full of garbage, so a kernel that accumulates into C
// instead of overwriting it fails.
func dirtyI32(m, n int) I32 {
	c := NewI32(m, n)
	for i := range c.Data {
		c.Data[i] = int32(0x5a5a5a5a) ^ int32(i*0x9e3779b1)
	}
	return c
}

// intoShapes are M×K×N shapes with ragged edges everywhere: K off the packing
// widths (4, 64), rows and columns off the tiles (16, 32, 64, 66).
var intoShapes = [][3]int{
	{1, 1, 1}, {3, 5, 7}, {65, 129, 63}, {33, 130, 70}, {64, 64, 64}, {32, 128, 32},
	{17, 3, 200}, {100, 67, 129}, {128, 257, 96}, {4, 1000, 5},
	// Above amxSerialMACs, so both goroutines run: A packed, and A in place.
	{520, 1030, 130}, {512, 256, 520},
}

func TestMatMulInto(t *testing.T) {
	for _, be := range Backends() {
		t.Run(be.Name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			for _, s := range intoShapes {
				for _, src := range []string{"random", "-128"} {
					if src != "random" && s[0]*s[1]*s[2] > 1<<20 {
						continue
					}
					a, b := randI8(rng, s[0], s[1], -128, 127), randI8(rng, s[1], s[2], -128, 127)
					if src == "-128" {
						a, b = fillI8(s[0], s[1], -128), fillI8(s[1], s[2], -128)
					}
					want := naiveMatMul(a, b)
					c := dirtyI32(s[0], s[2])
					MatMulInto(be, c, a, b)
					if !equalI32(c, want) {
						t.Fatalf("%v %s: %s", s, src, firstDiff(c, want))
					}
					// Again into the same (now clean) C: a second product must not add to it.
					MatMulInto(be, c, a, b)
					if !equalI32(c, want) {
						t.Fatalf("%v %s, reused C: %s", s, src, firstDiff(c, want))
					}
					if got := be.MatMul(a, b); !equalI32(got, want) {
						t.Fatalf("%v %s: MatMul: %s", s, src, firstDiff(got, want))
					}
				}
			}
			// K = 0 overwrites C with zeros.
			c := dirtyI32(3, 4)
			MatMulInto(be, c, NewI8(3, 0), NewI8(0, 4))
			for _, v := range c.Data {
				if v != 0 {
					t.Fatal("K = 0 into a dirty C: not zero")
				}
			}
			MatMulInto(be, NewI32(0, 2), NewI8(0, 5), NewI8(5, 2))
		})
	}
}

func TestMatMulIntoPanicsOnShape(t *testing.T) {
	for _, be := range Backends() {
		for _, c := range []I32{NewI32(3, 5), NewI32(4, 4), {Rows: 4, Cols: 5, Data: make([]int32, 19)}} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: C %d×%d (%d entries) for a 4×5 product: no panic", be.Name(), c.Rows, c.Cols, len(c.Data))
					}
				}()
				MatMulInto(be, c, NewI8(4, 6), NewI8(6, 5))
			}()
		}
	}
}

// A backend without IntoMatMuler gets the copying fallback.
type matMulOnly struct{ Backend }

func TestMatMulIntoFallback(t *testing.T) {
	be := matMulOnly{Portable()}
	if _, ok := Backend(be).(IntoMatMuler); ok {
		t.Fatal("matMulOnly should not be an IntoMatMuler")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	a, b := randI8(rng, 9, 11, -128, 127), randI8(rng, 11, 13, -128, 127)
	c := dirtyI32(9, 13)
	MatMulInto(be, c, a, b)
	if want := naiveMatMul(a, b); !equalI32(c, want) {
		t.Fatal(firstDiff(c, want))
	}
}

// TestMatMulIntoReusesBuffers: at steady state a SIMD MatMulInto allocates
// nothing the size of C or of the packed operands (C is the caller's, packing buffers
// and accumulators come from pools); what remains is small: row sums, closures.
func TestMatMulIntoReusesBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	const n = 256 // C is 256 KiB, each packed operand 64 KiB
	a, b := RandomI8([32]byte{1}, n, n), RandomI8([32]byte{2}, n, n)
	c := NewI32(n, n)
	for _, be := range Backends() {
		if be.Name() == "portable" {
			continue // its panels are built fresh per product
		}
		MatMulInto(be, c, a, b)
		// Best of five rounds: a GC in the middle of one empties the pools.
		perCall := uint64(1 << 62)
		for round := 0; round < 5; round++ {
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for i := 0; i < 10; i++ {
				MatMulInto(be, c, a, b)
			}
			runtime.ReadMemStats(&m1)
			perCall = min(perCall, (m1.TotalAlloc-m0.TotalAlloc)/10)
		}
		if perCall > 16<<10 {
			t.Errorf("%s: MatMulInto allocates %d bytes per call at %d³", be.Name(), perCall, n)
		}
		allocs := testing.AllocsPerRun(10, func() { MatMulInto(be, c, a, b) })
		t.Logf("%s: %d bytes, %.0f allocations per call", be.Name(), perCall, allocs)
	}
}
