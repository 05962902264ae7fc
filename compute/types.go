package compute

import "fmt"

// MaxK bounds the inner dimension so that no int32 accumulator can overflow,
// even for noised operands: (127+8)²·65536 < 2³¹.
const MaxK = 65536

// I8 is a row-major int8 matrix.
type I8 struct {
	Rows, Cols int
	Data       []int8
}

// I32 is a row-major int32 matrix.
type I32 struct {
	Rows, Cols int
	Data       []int32
}

// NewI8 returns a zeroed rows×cols matrix.
func NewI8(rows, cols int) I8 { return I8{Rows: rows, Cols: cols, Data: make([]int8, rows*cols)} }

// NewI32 returns a zeroed rows×cols matrix.
func NewI32(rows, cols int) I32 { return I32{Rows: rows, Cols: cols, Data: make([]int32, rows*cols)} }

// At returns entry (i, j).
func (m I8) At(i, j int) int8 { return m.Data[i*m.Cols+j] }

// At returns entry (i, j).
func (m I32) At(i, j int) int32 { return m.Data[i*m.Cols+j] }

// Row returns row i as a sub-slice of Data.
func (m I8) Row(i int) []int8 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Row returns row i as a sub-slice of Data.
func (m I32) Row(i int) []int32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

func (m I8) valid() bool {
	return m.Rows >= 0 && m.Cols >= 0 && len(m.Data) == m.Rows*m.Cols
}

func (m I32) valid() bool {
	return m.Rows >= 0 && m.Cols >= 0 && len(m.Data) == m.Rows*m.Cols
}

// mustProductShape panics unless a·b is well formed; kernels trust callers
// (vm.Check) to have validated untrusted input already.
func mustProductShape(a, b I8) {
	switch {
	case !a.valid():
		panic(fmt.Sprintf("compute: A is %d×%d but holds %d entries", a.Rows, a.Cols, len(a.Data)))
	case !b.valid():
		panic(fmt.Sprintf("compute: B is %d×%d but holds %d entries", b.Rows, b.Cols, len(b.Data)))
	case a.Cols != b.Rows:
		panic(fmt.Sprintf("compute: A is %d×%d, B is %d×%d: inner dimensions differ", a.Rows, a.Cols, b.Rows, b.Cols))
	case a.Cols > MaxK:
		panic(fmt.Sprintf("compute: K = %d exceeds MaxK = %d", a.Cols, MaxK))
	}
}

// mustIntoShape is mustProductShape plus a check that c is the M×N output.
func mustIntoShape(c I32, a, b I8) {
	mustProductShape(a, b)
	if !c.valid() || c.Rows != a.Rows || c.Cols != b.Cols {
		panic(fmt.Sprintf("compute: C is %d×%d holding %d entries, want %d×%d for A·B", c.Rows, c.Cols, len(c.Data), a.Rows, b.Cols))
	}
}
