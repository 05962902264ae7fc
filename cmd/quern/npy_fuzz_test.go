package main

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// The .npy reader reads files a user hands the CLI: it must refuse what it
// cannot read with an error, never panic, and never allocate more than the
// file holds, whatever its header claims.

func TestDecodeInt8MatrixHugeShape(t *testing.T) {
	for _, tc := range []struct{ shape, want string }{
		{"(1000000, 1000000)", "too large"},                                    // 10^12 values
		{"(99999999999999999999, 2)", "malformed"},                             // overflows int
		{"(4294967296, 4294967296)", "too large"},                              // rows·cols overflows int64
		{"(32768, 32768)", "truncated: shape (32768, 32768) needs 1073741824"}, // allowed, but the data is not there
	} {
		dict := fmt.Sprintf("{'descr': '|i1', 'fortran_order': False, 'shape': %s, }", tc.shape)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, _, err := decodeInt8Matrix(bytes.NewReader(npyFile(1, dict, make([]byte, 100))))
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("shape %s: err %v, want %q", tc.shape, err, tc.want)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("shape %s: allocated %d bytes for a %d-byte data section", tc.shape, got, 100)
		}
	}
}

func FuzzDecodeInt8Matrix(f *testing.F) {
	f.Add(npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }", []byte{1, 2, 3, 0xff, 0x90, 112}))
	f.Add(npyFile(2, `{"descr": "b", "fortran_order": False, "shape": (1L, 1L)}`, []byte{7}))
	f.Add(npyFile(3, "{'shape': (1, 2), 'fortran_order': False, 'descr': '<i1'}", []byte{0x80, 0}))
	f.Add(npyFile(1, "{'descr': [('x', '|i1'), ('y', '<i4')], 'fortran_order': False, 'shape': (3,), }", make([]byte, 15)))
	f.Add(npyFile(1, "{'descr': '|i1', 'fortran_order': True, 'shape': (2, 2), }", make([]byte, 4)))
	f.Add(npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (1000000, 1000000), }", make([]byte, 8)))
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\xff"))
	f.Add([]byte("not numpy"))
	f.Fuzz(func(t *testing.T, file []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rows, cols, data, err := decodeInt8Matrix(bytes.NewReader(file))
		runtime.ReadMemStats(&after)
		// Header (≤ 1 MiB), the growing data buffer and the int8 copy: a few
		// times the file, never what a header claims.
		if got, bound := after.TotalAlloc-before.TotalAlloc, uint64(8*len(file)+4<<20); got > bound {
			t.Fatalf("allocated %d bytes reading a %d-byte file", got, len(file))
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if rows <= 0 || cols <= 0 || len(data) != rows*cols {
			t.Fatalf("accepted %d×%d with %d values", rows, cols, len(data))
		}
		for i, v := range data {
			if v == -128 {
				t.Fatalf("accepted -128 at %d", i)
			}
		}
		// What was accepted reads back the same from our own encoding.
		var enc bytes.Buffer
		raw := make([]byte, len(data))
		for i, v := range data {
			raw[i] = byte(v)
		}
		enc.Write(npyFile(1, fmt.Sprintf("{'descr': '|i1', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols), raw))
		r2, c2, d2, err := decodeInt8Matrix(&enc)
		if err != nil || r2 != rows || c2 != cols || !bytes.Equal(int8Bytes(d2), raw) {
			t.Fatalf("round trip of %d×%d: %v", rows, cols, err)
		}
	})
}

func int8Bytes(d []int8) []byte {
	b := make([]byte, len(d))
	for i, v := range d {
		b[i] = byte(v)
	}
	return b
}
