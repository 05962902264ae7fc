package compute

import (
	"encoding/binary"
	"math/bits"
)

// Xoshiro is the xoshiro256** generator keyed by 32 bytes. Its output stream is
// part of the protocol (noise factors, synthetic puzzles, Freivalds vectors), so
// it must never change.
type Xoshiro struct {
	s [4]uint64
}

// NewXoshiro seeds the state with the key's four little-endian 64-bit words; an
// all-zero key (a fixed point of the generator) becomes s[0] = 1.
func NewXoshiro(key [32]byte) *Xoshiro {
	x := &Xoshiro{}
	for i := range x.s {
		x.s[i] = binary.LittleEndian.Uint64(key[8*i : 8*i+8])
	}
	if x.s == [4]uint64{} {
		x.s[0] = 1
	}
	return x
}

// Next returns the next 64-bit output.
func (x *Xoshiro) Next() uint64 {
	s := &x.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}

// Fill writes the next len(dst) outputs, the same as calling Next for each,
// with the state held in registers: bulk draws (synthetic puzzles) are
// several times faster than one call per word.
func (x *Xoshiro) Fill(dst []uint64) {
	s0, s1, s2, s3 := x.s[0], x.s[1], x.s[2], x.s[3]
	for i := range dst {
		dst[i] = bits.RotateLeft64(s1*5, 7) * 9
		t := s1 << 17
		s2 ^= s0
		s3 ^= s1
		s1 ^= s2
		s0 ^= s3
		s2 ^= t
		s3 = bits.RotateLeft64(s3, 45)
	}
	x.s = [4]uint64{s0, s1, s2, s3}
}

// RandomI8 draws a rows×cols matrix with entries uniform-ish in [-127, 127]
// (next() mod 255, minus 127), row-major: the synthetic puzzle's operands.
func RandomI8(key [32]byte, rows, cols int) I8 {
	x := NewXoshiro(key)
	m := NewI8(rows, cols)
	for i := range m.Data {
		m.Data[i] = int8(int(x.Next()%255) - 127)
	}
	return m
}

// RandomOperand returns a rows×cols matrix of job operands from xoshiro256**
// keyed by key, row-major: entries int(next() mod 225) − 112, uniform over
// [−OperandMax, OperandMax] (tests, examples and benchmarks of jobs).
func RandomOperand(key [32]byte, rows, cols int) I8 {
	x := NewXoshiro(key)
	m := NewI8(rows, cols)
	for i := range m.Data {
		m.Data[i] = int8(int(x.Next()%(2*OperandMax+1)) - OperandMax)
	}
	return m
}
