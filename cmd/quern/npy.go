package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/quern-chain/quern/vm"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The NumPy .npy format (numpy.lib.format): magic "\x93NUMPY", a version
// byte pair, a little-endian header length (2 bytes in v1, 4 in v2/v3), a
// Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': ...}
// padded with spaces and a newline, then the raw data. We read and write it
// ourselves: npyio cannot write a flat slice as 2-D, does not know the 'b'
// dtype code, and splits the header dict by position rather than parsing it.

var npyMagic = []byte("\x93NUMPY")

// maxNPYHeader bounds the header dict we are willing to read.
const maxNPYHeader = 1 << 20

// maxNPYElements bounds the values of a matrix we read (1 GiB of int8), far
// above any job input a chain accepts, so that a header's shape alone can
// never make us allocate without bound.
const maxNPYElements = 1 << 30

// npyHeader is the parsed header dict.
type npyHeader struct {
	descr   string // dtype string ('<i4'); empty when not a simple dtype
	fortran bool
	shape   []int
}

// readInt8Matrix reads a 2-D int8 matrix in C order from a .npy file. Every
// error names the file and says how to fix it from NumPy.
func readInt8Matrix(path string) (rows, cols int, data []int8, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, nil, err
	}
	defer f.Close()
	rows, cols, data, err = decodeInt8Matrix(bufio.NewReader(f))
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, cols, data, nil
}

func decodeInt8Matrix(r io.Reader) (rows, cols int, data []int8, err error) {
	hdr, err := readNPYHeader(r)
	if err != nil {
		return 0, 0, nil, err
	}
	switch hdr.descr {
	case "|i1", "i1", "<i1", ">i1", "b", "|b", "int8":
	default:
		d := hdr.descr
		if d == "" {
			d = "(structured)"
		}
		return 0, 0, nil, fmt.Errorf("dtype %s is not int8; save with a.astype(np.int8)", d)
	}
	if len(hdr.shape) != 2 {
		return 0, 0, nil, fmt.Errorf("array has %d dimensions (shape %s); want a 2-D matrix", len(hdr.shape), shapeString(hdr.shape))
	}
	if hdr.fortran {
		return 0, 0, nil, errors.New("array is in Fortran order; save a C-order copy with np.ascontiguousarray(a)")
	}
	rows, cols = hdr.shape[0], hdr.shape[1]
	if rows == 0 || cols == 0 {
		return 0, 0, nil, fmt.Errorf("matrix is empty (shape %s)", shapeString(hdr.shape))
	}
	if rows > maxNPYElements/cols {
		return 0, 0, nil, fmt.Errorf("shape %s is too large: a matrix read from .npy holds at most %d values; split the product into smaller jobs", shapeString(hdr.shape), maxNPYElements)
	}
	n := rows * cols
	// The header is only a claim: grow the buffer as data arrives, so a
	// short file claiming a huge shape costs what it holds, not what it claims.
	var buf bytes.Buffer
	if got, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return 0, 0, nil, fmt.Errorf("file is truncated: shape %s needs %d data bytes, found %d", shapeString(hdr.shape), n, got)
	}
	data = make([]int8, n)
	for i, b := range buf.Bytes() {
		v := int8(b)
		if v > vm.OperandMax || v < -vm.OperandMax {
			return 0, 0, nil, fmt.Errorf("value %d at [%d, %d] is outside [-%d, %d] (operands plus the protocol's noise must fit int8); scale the data or clip with np.clip(a, -%d, %d)",
				v, i/cols, i%cols, vm.OperandMax, vm.OperandMax, vm.OperandMax, vm.OperandMax)
		}
		data[i] = v
	}
	return rows, cols, data, nil
}

// writeInt32Matrix writes a rows×cols int32 matrix (row-major data) as a
// .npy file, dtype '<i4', C order, format version 1.0. The file appears
// whole or not at all.
func writeInt32Matrix(path string, rows, cols int, data []int32) error {
	if len(data) != rows*cols {
		return fmt.Errorf("%s: %d×%d matrix holds %d values", path, rows, cols, len(data))
	}
	var buf bytes.Buffer
	encodeInt32Matrix(&buf, rows, cols, data)
	return writeFileAtomic(path, buf.Bytes())
}

func encodeInt32Matrix(w *bytes.Buffer, rows, cols int, data []int32) {
	encodeNPY(w, "<i4", []int{rows, cols}, int32Bytes(data))
}

// encodeNPY writes a C-order array of the given dtype and shape, format
// version 1.0, around its raw little-endian data.
func encodeNPY(w *bytes.Buffer, descr string, shape []int, data []byte) {
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shapeString(shape))
	// magic(6) + version(2) + length(2) + dict + padding + '\n' is a multiple of 64.
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	header := dict + strings.Repeat(" ", pad) + "\n"
	w.Write(npyMagic)
	w.Write([]byte{1, 0})
	binary.Write(w, binary.LittleEndian, uint16(len(header)))
	w.WriteString(header)
	w.Write(data)
}

func int32Bytes(data []int32) []byte {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return b
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so the file appears whole or not at all.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func readNPYHeader(r io.Reader) (npyHeader, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil || !bytes.Equal(pre[:6], npyMagic) {
		return npyHeader{}, errors.New("not a NumPy .npy file (save it with np.save)")
	}
	var n int
	switch major := pre[6]; major {
	case 1:
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return npyHeader{}, errors.New("truncated .npy header")
		}
		n = int(binary.LittleEndian.Uint16(l[:]))
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return npyHeader{}, errors.New("truncated .npy header")
		}
		n = int(binary.LittleEndian.Uint32(l[:]))
	default:
		return npyHeader{}, fmt.Errorf("unsupported .npy format version %d.%d", major, pre[7])
	}
	if n > maxNPYHeader {
		return npyHeader{}, fmt.Errorf(".npy header of %d bytes is too large", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return npyHeader{}, errors.New("truncated .npy header")
	}
	return parseNPYDict(string(buf))
}

// parseNPYDict parses the header dict: a Python literal with string keys and
// values that are strings, booleans, tuples of ints, or (for structured
// dtypes) lists, which we do not need to understand beyond skipping them.
func parseNPYDict(s string) (npyHeader, error) {
	p := &pyParser{s: strings.TrimSpace(s)}
	var h npyHeader
	seen := map[string]bool{}
	bad := func(why string) (npyHeader, error) {
		return npyHeader{}, fmt.Errorf("malformed .npy header %q: %s", s, why)
	}
	if !p.eat('{') {
		return bad("want a dict")
	}
	for {
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok || !p.eat(':') {
			return bad("want 'key': value")
		}
		switch key {
		case "descr":
			if v, ok := p.str(); ok {
				h.descr = v
			} else if !p.skipValue() {
				return bad("bad descr")
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				h.fortran = true
			case p.word("False"):
				h.fortran = false
			default:
				return bad("bad fortran_order")
			}
		case "shape":
			shape, ok := p.intTuple()
			if !ok {
				return bad("bad shape")
			}
			h.shape = shape
		default:
			if !p.skipValue() {
				return bad("bad value for " + key)
			}
		}
		seen[key] = true
		if !p.eat(',') {
			if !p.eat('}') {
				return bad("want , or }")
			}
			break
		}
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return bad("want keys descr, fortran_order and shape")
	}
	return h, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) word(w string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *pyParser) str() (string, bool) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, true
}

func (p *pyParser) intTuple() ([]int, bool) {
	if !p.eat('(') {
		return nil, false
	}
	var out []int
	for {
		if p.eat(')') {
			return out, true
		}
		p.space()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(p.s[p.i:j])
		if err != nil {
			return nil, false
		}
		p.i = j
		p.word("L") // Python 2 long suffix
		out = append(out, n)
		if !p.eat(',') {
			return out, p.eat(')')
		}
	}
}

// skipValue skips a value we do not interpret: a string, a word, or a
// bracketed list/tuple (quotes inside are respected).
func (p *pyParser) skipValue() bool {
	p.space()
	if _, ok := p.str(); ok {
		return true
	}
	depth := 0
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\'' || c == '"':
			if _, ok := p.str(); !ok {
				return false
			}
			continue
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			if depth == 0 {
				return p.i > start
			}
			depth--
		case c == ',' && depth == 0:
			return p.i > start
		}
		p.i++
	}
	return false
}

func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	if len(shape) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
