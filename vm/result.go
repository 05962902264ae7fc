package vm

import (
	"encoding/binary"
	"math"

	"github.com/quern-chain/quern/compute"
)

// EncodeResult serialises C as int32 little-endian, row-major.
func EncodeResult(c compute.I32) []byte {
	out := make([]byte, 4*len(c.Data))
	for i, v := range c.Data {
		binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
	}
	return out
}

// DecodeResult parses a rows×cols result written by EncodeResult.
func DecodeResult(rows, cols uint32, data []byte) (compute.I32, error) {
	if rows == 0 || cols == 0 {
		return compute.I32{}, reject(ErrShape, "result: shape %d×%d has a zero dimension", rows, cols)
	}
	n := uint64(rows) * uint64(cols)
	if n > math.MaxInt/4 {
		return compute.I32{}, reject(ErrTooLarge, "result: shape %d×%d is too large to hold", rows, cols)
	}
	if uint64(len(data)) != 4*n {
		return compute.I32{}, reject(ErrShape, "result: shape %d×%d needs %d bytes (4 per entry), got %d", rows, cols, 4*n, len(data))
	}
	c := compute.NewI32(int(rows), int(cols))
	for i := range c.Data {
		c.Data[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return c, nil
}
