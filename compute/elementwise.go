package compute

import "fmt"

// Integer elementwise ops for the training jobs (PROTOCOL.md §2). Pure Go:
// they are O(n) beside O(n³) products. Each panics when lengths differ.

// Requantize sets dst[i] = clip(round(src[i] / 2^shift), −127, 127), where the
// division rounds half to even (… −2.5 → −2, −1.5 → −2, 0.5 → 0, 1.5 → 2,
// 2.5 → 2 …) and is exact in int64, so every int32 input is defined. For
// shift 0 it is a plain clip; shift ≥ 32 maps every input to 0 (|src| <
// 2^31 is below half of 2^shift, or exactly half for −2^31 at shift 32,
// which rounds to the even 0).
func Requantize(dst []int8, src []int32, shift uint) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("compute: Requantize: dst has %d entries, src %d", len(dst), len(src)))
	}
	for i, v := range src {
		dst[i] = clip8(RoundShift(int64(v), uint8(min(shift, 63))))
	}
}

// RoundShift is x / 2^s rounded half to even (… −2.5 → −2, −1.5 → −2,
// 0.5 → 0, 1.5 → 2, 2.5 → 2 …), computed exactly with an arithmetic shift;
// s = 0 returns x, s ≥ 63 returns 0. It is the one rescaling rule of
// Requantize and of the training VM.
func RoundShift(x int64, s uint8) int64 {
	if s == 0 {
		return x
	}
	if s >= 63 {
		return 0
	}
	q := x >> s // floor
	rem := x - q<<s
	half := int64(1) << (s - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

func clip8(v int64) int8 {
	return int8(max(-127, min(127, v)))
}

// AddI32 sets dst[i] = a[i] + b[i], wrapping mod 2³² like the kernels.
func AddI32(dst, a, b []int32) {
	if len(a) != len(dst) || len(b) != len(dst) {
		panic(fmt.Sprintf("compute: AddI32: lengths %d, %d, %d", len(dst), len(a), len(b)))
	}
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// ReLUI8 sets dst[i] = max(src[i], 0); dst and src may be the same slice.
func ReLUI8(dst, src []int8) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("compute: ReLUI8: dst has %d entries, src %d", len(dst), len(src)))
	}
	for i, v := range src {
		dst[i] = max(v, 0)
	}
}
