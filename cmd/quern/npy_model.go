package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The two .npy shapes a model directory adds to the job files: int8 weight
// matrices written as well as read, and 1-D int32 bias vectors.

// writeInt8Matrix writes a rows×cols int8 matrix (row-major data) as a .npy
// file, dtype '|i1', C order; the file appears whole or not at all.
func writeInt8Matrix(path string, rows, cols int, data []int8) error {
	if len(data) != rows*cols {
		return fmt.Errorf("%s: %d×%d matrix holds %d values", path, rows, cols, len(data))
	}
	raw := make([]byte, len(data))
	for i, v := range data {
		raw[i] = byte(v)
	}
	var buf bytes.Buffer
	encodeNPY(&buf, "|i1", []int{rows, cols}, raw)
	return writeFileAtomic(path, buf.Bytes())
}

// writeInt32Vector writes a 1-D int32 array, dtype '<i4'.
func writeInt32Vector(path string, data []int32) error {
	var buf bytes.Buffer
	encodeNPY(&buf, "<i4", []int{len(data)}, int32Bytes(data))
	return writeFileAtomic(path, buf.Bytes())
}

// readInt32Vector reads a 1-D int32 array from a .npy file; errors name the
// file and say how to fix it from NumPy.
func readInt32Vector(path string) ([]int32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := decodeInt32Vector(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

func decodeInt32Vector(r io.Reader) ([]int32, error) {
	hdr, err := readNPYHeader(r)
	if err != nil {
		return nil, err
	}
	switch hdr.descr {
	case "<i4", "i4", "int32":
	default:
		d := hdr.descr
		if d == "" {
			d = "(structured)"
		}
		return nil, fmt.Errorf("dtype %s is not little-endian int32; save with b.astype('<i4')", d)
	}
	if len(hdr.shape) != 1 {
		return nil, fmt.Errorf("array has %d dimensions (shape %s); want a 1-D vector (b.reshape(-1))", len(hdr.shape), shapeString(hdr.shape))
	}
	if hdr.fortran {
		return nil, errors.New("array is in Fortran order; save a C-order copy with np.ascontiguousarray(b)")
	}
	n := hdr.shape[0]
	if n > maxNPYElements/4 {
		return nil, fmt.Errorf("shape %s is too large: a vector read from .npy holds at most %d values", shapeString(hdr.shape), maxNPYElements/4)
	}
	var buf bytes.Buffer
	if got, err := io.CopyN(&buf, r, int64(4*n)); err != nil {
		return nil, fmt.Errorf("file is truncated: shape %s needs %d data bytes, found %d", shapeString(hdr.shape), 4*n, got)
	}
	data := make([]int32, n)
	for i := range data {
		data[i] = int32(binary.LittleEndian.Uint32(buf.Bytes()[4*i:]))
	}
	return data, nil
}
