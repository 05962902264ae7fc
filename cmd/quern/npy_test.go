package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbinet/npyio/npy"
)

// npyFile builds a .npy file by hand, so that tests control every header field.
func npyFile(major byte, dict string, data []byte) []byte {
	var b bytes.Buffer
	b.Write(npyMagic)
	b.Write([]byte{major, 0})
	hdr := dict + "\n"
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(hdr)))
	}
	b.WriteString(hdr)
	b.Write(data)
	return b.Bytes()
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadInt8Matrix(t *testing.T) {
	data := []byte{1, 2, 3, 0xff, 0x90, 112} // 1 2 3 / -1 -112 112
	want := []int8{1, 2, 3, -1, -112, 112}
	for _, dict := range []string{
		"{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }",
		"{'descr': 'i1', 'fortran_order': False, 'shape': (2, 3)}",
		"{'descr': '<i1', 'fortran_order': False, 'shape': (2,3), }",
		"{'descr': 'b', 'fortran_order': False, 'shape': (2, 3), }",
		"{'shape': (2, 3), 'fortran_order': False, 'descr': '|i1'}", // any key order
		`{"descr": "|i1", "fortran_order": False, "shape": (2L, 3L), }`,
	} {
		for _, major := range []byte{1, 2, 3} {
			path := writeFile(t, "a.npy", npyFile(major, dict, data))
			rows, cols, got, err := readInt8Matrix(path)
			if err != nil {
				t.Errorf("v%d %s: %v", major, dict, err)
				continue
			}
			if rows != 2 || cols != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("v%d %s: got %d×%d %v", major, dict, rows, cols, got)
			}
		}
	}
}

func TestReadInt8MatrixRejects(t *testing.T) {
	six := make([]byte, 6)
	for _, tc := range []struct {
		name string
		file []byte
		msg  string
	}{
		{"float", npyFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", make([]byte, 48)),
			"a.npy: dtype <f8 is not int8; save with a.astype(np.int8)"},
		{"uint8", npyFile(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", six), "dtype |u1 is not int8"},
		{"int32", npyFile(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", make([]byte, 24)), "dtype <i4 is not int8"},
		{"structured", npyFile(1, "{'descr': [('x', '|i1'), ('y', '|i1')], 'fortran_order': False, 'shape': (3,), }", six), "is not int8"},
		{"fortran", npyFile(1, "{'descr': '|i1', 'fortran_order': True, 'shape': (2, 3), }", six), "Fortran order"},
		{"1-D", npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (6,), }", six), "has 1 dimensions (shape (6,)); want a 2-D matrix"},
		{"3-D", npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (1, 2, 3), }", six), "has 3 dimensions"},
		{"scalar", npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (), }", six[:1]), "has 0 dimensions"},
		{"empty", npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (0, 3), }", nil), "empty"},
		{"-128", npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }", []byte{0, 0, 0, 0, 0x80, 0}),
			"a.npy: value -128 at [1, 1] is outside [-112, 112]"},
		{"113", npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }", []byte{0, 0, 113, 0, 0, 0}),
			"a.npy: value 113 at [0, 2] is outside [-112, 112]"},
		{"truncated", npyFile(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }", six[:5]), "truncated"},
		{"not npy", []byte("a,b\n1,2\n"), "not a NumPy .npy file"},
		{"version", append(append([]byte{}, npyMagic...), 9, 0, 0, 0), "unsupported .npy format version 9.0"},
		{"bad header", npyFile(1, "{'descr': '|i1', 'fortran_order': maybe, 'shape': (2, 3), }", six), "malformed .npy header"},
		{"missing key", npyFile(1, "{'descr': '|i1', 'shape': (2, 3), }", six), "want keys descr, fortran_order and shape"},
	} {
		path := writeFile(t, "a.npy", tc.file)
		_, _, _, err := readInt8Matrix(path)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "a.npy") {
			t.Errorf("%s: error %q, want it to name a.npy and say %q", tc.name, err, tc.msg)
		}
	}
	if _, _, _, err := readInt8Matrix(filepath.Join(t.TempDir(), "missing.npy")); err == nil || !strings.Contains(err.Error(), "missing.npy") {
		t.Errorf("missing file: %v", err)
	}
}

// npyio writes int8 arrays independently of us; we must read them.
func TestReadInt8MatrixFromNpyio(t *testing.T) {
	var buf bytes.Buffer
	if err := npy.Write(&buf, [2][3]int8{{1, -2, 3}, {-4, 5, -112}}); err != nil {
		t.Fatal(err)
	}
	rows, cols, got, err := decodeInt8Matrix(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 2 || cols != 3 || fmt.Sprint(got) != "[1 -2 3 -4 5 -112]" {
		t.Fatalf("got %d×%d %v", rows, cols, got)
	}
}

func TestWriteInt32Matrix(t *testing.T) {
	for _, shape := range [][2]int{{2, 3}, {1, 1}, {7, 1}, {1, 300}, {123456, 0}} {
		rows, cols := shape[0], shape[1]
		data := make([]int32, rows*cols)
		for i := range data {
			data[i] = int32(i*2654435761) ^ -1 // spread over the whole int32 range
		}
		path := filepath.Join(t.TempDir(), "c.npy")
		if err := writeInt32Matrix(path, rows, cols, data); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		hdrLen := int(binary.LittleEndian.Uint16(raw[8:10]))
		if !bytes.HasPrefix(raw, []byte("\x93NUMPY\x01\x00")) || (10+hdrLen)%64 != 0 || raw[10+hdrLen-1] != '\n' {
			t.Fatalf("%v: bad preamble or alignment: %q", shape, raw[:min(len(raw), 10+hdrLen)])
		}
		if len(raw) != 10+hdrLen+4*rows*cols {
			t.Fatalf("%v: file is %d bytes", shape, len(raw))
		}
		// Our own header parser and npyio must both agree on what we wrote.
		hdr, err := readNPYHeader(bytes.NewReader(raw))
		if err != nil || hdr.descr != "<i4" || hdr.fortran || fmt.Sprint(hdr.shape) != fmt.Sprint([]int{rows, cols}) {
			t.Fatalf("%v: header %+v, %v", shape, hdr, err)
		}
		r, err := npy.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if r.Header.Descr.Type != "<i4" || r.Header.Descr.Fortran || fmt.Sprint(r.Header.Descr.Shape) != fmt.Sprint([]int{rows, cols}) {
			t.Fatalf("%v: npyio sees %v", shape, r.Header)
		}
		var back []int32
		if err := r.Read(&back); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(back) != fmt.Sprint(data) && len(data) > 0 {
			t.Fatalf("%v: data differs", shape)
		}
	}
	if err := writeInt32Matrix(filepath.Join(t.TempDir(), "c.npy"), 2, 2, []int32{1}); err == nil {
		t.Error("short data accepted")
	}
}

// TestNumpyInterop checks both directions against real NumPy when the
// system python has it (CI installs python3-numpy).
func TestNumpyInterop(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skip("numpy not available to /usr/bin/python3")
	}
	dir := t.TempDir()
	a, bad, c := filepath.Join(dir, "a.npy"), filepath.Join(dir, "f.npy"), filepath.Join(dir, "c.npy")
	script := fmt.Sprintf(`
import numpy as np
a = (np.arange(12).reshape(3, 4) * 20 - 110).astype(np.int8)
np.save(%q, a)
np.save(%q, np.asfortranarray(np.ones((3, 4), dtype=np.int8)))
`, a, bad)
	if out, err := exec.Command(python, "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("numpy save: %v\n%s", err, out)
	}
	rows, cols, got, err := readInt8Matrix(a)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 3 || cols != 4 {
		t.Fatalf("shape %d×%d", rows, cols)
	}
	for i, v := range got {
		if want := int8(i*20 - 110); v != want {
			t.Fatalf("a[%d] = %d, want %d", i, v, want)
		}
	}
	if _, _, _, err := readInt8Matrix(bad); err == nil || !strings.Contains(err.Error(), "Fortran") {
		t.Errorf("Fortran-order array: %v", err)
	}

	data := []int32{-2147483648, -1, 0, 1, 2147483647, 42}
	if err := writeInt32Matrix(c, 2, 3, data); err != nil {
		t.Fatal(err)
	}
	check := fmt.Sprintf(`
import numpy as np
c = np.load(%q)
assert c.dtype == np.dtype('<i4'), c.dtype
assert c.shape == (2, 3), c.shape
assert c.flags['C_CONTIGUOUS']
assert c.tolist() == [[-2147483648, -1, 0], [1, 2147483647, 42]], c.tolist()
print("ok")
`, c)
	if out, err := exec.Command(python, "-c", check).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("numpy load: %v\n%s", err, out)
	}
}
