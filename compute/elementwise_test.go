package compute

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// refRequantize rounds src/2^shift half to even with exact rationals.
func refRequantize(v int32, shift uint) int8 {
	q := new(big.Rat).SetFrac(big.NewInt(int64(v)), new(big.Int).Lsh(big.NewInt(1), shift))
	fl := new(big.Int).Div(q.Num(), q.Denom()) // Euclidean: floor for a positive denominator
	frac := new(big.Rat).Sub(q, new(big.Rat).SetInt(fl))
	switch frac.Cmp(big.NewRat(1, 2)) {
	case 1:
		fl.Add(fl, big.NewInt(1))
	case 0:
		if fl.Bit(0) == 1 {
			fl.Add(fl, big.NewInt(1))
		}
	}
	r := fl.Int64()
	return int8(max(-127, min(127, r)))
}

func TestRequantize(t *testing.T) {
	cases := []struct {
		v     int32
		shift uint
		want  int8
	}{
		{5, 1, 2}, {7, 1, 4}, {-5, 1, -2}, {-7, 1, -4}, {1, 1, 0}, {-1, 1, 0}, {3, 1, 2}, {-3, 1, -2},
		{6, 2, 2}, {10, 2, 2}, {-6, 2, -2}, {-10, 2, -2}, {2, 2, 0}, {-2, 2, 0}, {128, 0, 127},
		{-128, 0, -127}, {-127, 0, -127}, {127, 0, 127}, {0, 7, 0}, {math.MaxInt32, 0, 127},
		{math.MinInt32, 0, -127}, {math.MinInt32, 31, -1}, {math.MinInt32, 32, 0}, {math.MaxInt32, 31, 1},
		{math.MaxInt32, 40, 0}, {math.MinInt32, 63, 0}, {255 << 3, 4, 127}, {253, 1, 126}, {-253, 1, -126},
	}
	for _, c := range cases {
		dst := make([]int8, 1)
		Requantize(dst, []int32{c.v}, c.shift)
		if dst[0] != c.want || refRequantize(c.v, c.shift) != c.want {
			t.Errorf("Requantize(%d, %d) = %d (reference %d), want %d", c.v, c.shift, dst[0], refRequantize(c.v, c.shift), c.want)
		}
	}
	rng := rand.New(rand.NewPCG(11, 12))
	src := make([]int32, 4000)
	for i := range src {
		switch i % 4 {
		case 0:
			src[i] = int32(rng.Uint32())
		case 1:
			src[i] = int32(rng.IntN(1<<16)) - 1<<15
		case 2: // exact ties for small shifts
			src[i] = int32(rng.IntN(512)-256)<<4 | 8
		default:
			src[i] = int32(rng.IntN(600) - 300)
		}
	}
	dst := make([]int8, len(src))
	for _, shift := range []uint{0, 1, 2, 3, 4, 5, 8, 13, 20, 31, 32, 33} {
		Requantize(dst, src, shift)
		for i, v := range src {
			if want := refRequantize(v, shift); dst[i] != want {
				t.Fatalf("Requantize(%d, %d) = %d, want %d", v, shift, dst[i], want)
			}
		}
	}
}

func TestAddI32ReLUI8(t *testing.T) {
	a := []int32{1, math.MaxInt32, math.MinInt32, -5}
	b := []int32{2, 1, -1, 5}
	dst := make([]int32, 4)
	AddI32(dst, a, b)
	if want := []int32{3, math.MinInt32, math.MaxInt32, 0}; dst[0] != want[0] || dst[1] != want[1] || dst[2] != want[2] || dst[3] != want[3] {
		t.Fatalf("AddI32 = %v, want %v (wrapping)", dst, want)
	}
	x := []int8{-128, -1, 0, 1, 127}
	ReLUI8(x, x)
	if x[0] != 0 || x[1] != 0 || x[2] != 0 || x[3] != 1 || x[4] != 127 {
		t.Fatalf("ReLUI8 = %v", x)
	}
	for name, f := range map[string]func(){
		"requantize": func() { Requantize(make([]int8, 2), make([]int32, 3), 1) },
		"add":        func() { AddI32(make([]int32, 2), make([]int32, 2), make([]int32, 3)) },
		"relu":       func() { ReLUI8(make([]int8, 2), make([]int8, 1)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic on length mismatch", name)
				}
			}()
			f()
		}()
	}
}

func TestRoundShiftHalfEven(t *testing.T) {
	for _, c := range []struct {
		x    int64
		s    uint8
		want int64
	}{
		{5, 1, 2}, {7, 1, 4}, {6, 2, 2}, {2, 2, 0}, {10, 2, 2}, {-5, 1, -2}, {-7, 1, -4},
		{-6, 2, -2}, {-2, 2, 0}, {-10, 2, -2}, {9, 2, 2}, {-9, 2, -2}, {11, 2, 3}, {-11, 2, -3}, {3, 0, 3},
	} {
		if got := RoundShift(c.x, c.s); got != c.want {
			t.Errorf("RoundShift(%d, %d) = %d, want %d", c.x, c.s, got, c.want)
		}
	}
}
