package compute

import "math/bits"

// p61 is the Mersenne prime 2⁶¹−1 of Freivalds' field.
const p61 = 1<<61 - 1

// mulMod returns a·b mod p61 for a, b < p61.
func mulMod(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	r := (lo & p61) + (lo>>61 | hi<<3) // 2⁶¹ ≡ 1
	r = (r & p61) + (r >> 61)
	if r >= p61 {
		r -= p61
	}
	return r
}

func addMod(a, b uint64) uint64 {
	r := a + b
	if r >= p61 {
		r -= p61
	}
	return r
}

// fieldOf maps a small signed integer into the field (negative as p−|v|).
func fieldOf(v int64) uint64 {
	if v < 0 {
		return p61 - uint64(-v)
	}
	return uint64(v)
}

// Freivalds checks the claim C = A·B in O(n²) per round over the field 2⁶¹−1:
// for random x it compares A·(B·x) with C·x. Each round's x takes N values from
// one xoshiro256** stream keyed by seed (x_j = next() mod p), continuing across
// rounds. A wrong C passes a round with probability at most 1/p. It returns
// false on any mismatch, on malformed shapes, and when rounds < 1 (a check
// that checks nothing must not accept).
func Freivalds(a, b I8, c I32, seed [32]byte, rounds int) bool {
	if rounds < 1 || !a.valid() || !b.valid() || !c.valid() ||
		a.Cols != b.Rows || c.Rows != a.Rows || c.Cols != b.Cols {
		return false
	}
	m, k, n := a.Rows, a.Cols, b.Cols
	rng := NewXoshiro(seed)
	x := make([]uint64, n)
	y := make([]uint64, k)
	for ; rounds > 0; rounds-- {
		var sx uint64
		for j := range x {
			x[j] = rng.Next() % p61
			sx = addMod(sx, x[j])
		}
		var sy uint64
		for kk := range y {
			y[kk] = dotField(b.Row(kk), x, int8Bias, mulMod(int8Bias, sx))
			sy = addMod(sy, y[kk])
		}
		ay, cx := mulMod(int8Bias, sy), mulMod(int32Bias, sx)
		for i := 0; i < m; i++ {
			if dotField(a.Row(i), y, int8Bias, ay) != dotField(c.Row(i), x, int32Bias, cx) {
				return false
			}
		}
	}
	return true
}

// Biases that make int8 and int32 entries non-negative, so that a row's dot
// product is one unsigned 128-bit sum, reduced once.
const (
	int8Bias  = 1 << 7
	int32Bias = 1 << 31
)

// dotField returns Σ row[j]·x[j] mod p61 for x[j] < p61, computed as
// Σ (row[j]+bias)·x[j] − biasX with biasX = bias·Σx mod p61. Each term is
// below 2⁹³, so the 128-bit sum cannot overflow for rows shorter than 2³².
func dotField[T int8 | int32](row []T, x []uint64, bias, biasX uint64) uint64 {
	x = x[:len(row)]
	var hi, lo uint64
	for j, v := range row {
		h, l := bits.Mul64(uint64(int64(v)+int64(bias)), x[j])
		var carry uint64
		lo, carry = bits.Add64(lo, l, 0)
		hi += h + carry
	}
	r := reduce128(hi, lo)
	if r < biasX {
		r += p61
	}
	return r - biasX
}

// reduce128 returns (hi·2⁶⁴ + lo) mod p61 for hi < 2⁶¹, using 2⁶¹ ≡ 1.
func reduce128(hi, lo uint64) uint64 {
	h := hi << 3 // hi·2⁶⁴ = hi·8·2⁶¹
	r := (h & p61) + (h >> 61) + (lo & p61) + (lo >> 61)
	r = (r & p61) + (r >> 61)
	if r >= p61 {
		r -= p61
	}
	return r
}
