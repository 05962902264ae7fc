package vm

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/quern-chain/quern/compute"
)

// testLimits are the devnet's caps (chain.JobLimits builds the real ones;
// vm cannot import chain).
func testLimits() Limits {
	return Limits{
		MaxInputBytes: 16 << 20, MaxResultBytes: 16 << 20, MaxWork: 1 << 36, MaxMemoryBytes: 256 << 20,
		MaxK: compute.MaxK, Geometry: compute.Geometry{Tile: 64, Chunk: 16},
	}
}

func withLimits(f func(l *Limits)) Limits {
	l := testLimits()
	f(&l)
	return l
}

func sample(m, k, n int) *Program {
	return NewMatMul(compute.RandomOperand([32]byte{1}, m, k), compute.RandomOperand([32]byte{2}, k, n))
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	p := sample(5, 7, 3)
	enc, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(enc, testLimits())
	if err != nil {
		t.Fatal(err)
	}
	if q.Version != Version1 || q.Kind != KindMatMul || len(q.Inputs) != 2 {
		t.Fatalf("decoded %+v", q)
	}
	for i := range p.Inputs {
		if p.Inputs[i].Rows != q.Inputs[i].Rows || p.Inputs[i].Cols != q.Inputs[i].Cols ||
			!bytes.Equal(p.Inputs[i].Data, q.Inputs[i].Data) {
			t.Fatalf("input %d differs", i)
		}
	}
	again, _ := Encode(q)
	if !bytes.Equal(enc, again) {
		t.Fatal("re-encoding differs")
	}
	if _, err := Decode(append(enc, 0x00), testLimits()); !errors.Is(err, ErrEncoding) {
		t.Fatalf("trailing byte: %v", err)
	}
	if _, err := Decode(enc[:len(enc)-1], testLimits()); !errors.Is(err, ErrEncoding) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := Decode(nil, testLimits()); !errors.Is(err, ErrEncoding) {
		t.Fatalf("empty: %v", err)
	}
}

func TestCheckRejects(t *testing.T) {
	lim := testLimits()
	valid := func() *Program { return sample(4, 6, 5) }
	cases := []struct {
		name   string
		mutate func(p *Program)
		lim    Limits
		want   error
		msg    string
	}{
		{"version", func(p *Program) { p.Version = 2 }, lim, ErrVersion, "version 2"},
		{"kind", func(p *Program) { p.Kind = 9 }, lim, ErrKind, "kind 9"},
		{"no inputs", func(p *Program) { p.Inputs = nil }, lim, ErrShape, "got 0"},
		{"three inputs", func(p *Program) { p.Inputs = append(p.Inputs, p.Inputs[0]) }, lim, ErrShape, "got 3"},
		{"zero rows", func(p *Program) { p.Inputs[0] = Tensor{Rows: 0, Cols: 6} }, lim, ErrShape, "input A: shape 0×6"},
		{"zero cols", func(p *Program) { p.Inputs[1] = Tensor{Rows: 6, Cols: 0} }, lim, ErrShape, "input B: shape 6×0"},
		{"short data", func(p *Program) { p.Inputs[0].Data = p.Inputs[0].Data[:23] }, lim, ErrShape, "input A: shape 4×6 needs 24 bytes of data, got 23"},
		{"long data", func(p *Program) { p.Inputs[1].Data = append(p.Inputs[1].Data, 1) }, lim, ErrShape, "input B: shape 6×5 needs 30 bytes of data, got 31"},
		{"inner", func(p *Program) {
			p.Inputs[1] = Tensor{Rows: 7, Cols: 5, Data: make([]byte, 35)}
		}, lim, ErrShape, "input B: shape 7×5 does not match A's 4×6 (B needs 6 rows)"},
		{"max K", func(p *Program) {}, withLimits(func(l *Limits) { l.MaxK = 5 }), ErrTooLarge, "K = 6 exceeds the limit of 5"},
		{"-128 in A", func(p *Program) { p.Inputs[0].Data[7] = 0x80 }, lim, ErrValue, "input A: entry (1, 1) is -128"},
		{"-128 in B", func(p *Program) { p.Inputs[1].Data[29] = 0x80 }, lim, ErrValue, "input B: entry (5, 4) is -128"},
		{"input bytes", func(p *Program) {}, withLimits(func(l *Limits) { l.MaxInputBytes = 53 }), ErrTooLarge, "inputs hold 54 bytes"},
		{"work", func(p *Program) {}, withLimits(func(l *Limits) { l.MaxWork = 119 }), ErrTooLarge, "4×6×5 = 120 MACs exceeds the limit of 119"},
		{"result bytes", func(p *Program) {}, withLimits(func(l *Limits) { l.MaxResultBytes = 79 }), ErrTooLarge, "result 4×5 takes 80 bytes"},
		{"memory", func(p *Program) {}, withLimits(func(l *Limits) { l.MaxMemoryBytes = 1 << 20 }), ErrTooLarge, "bytes of memory, more than the limit of 1048576"},
	}
	for _, c := range cases {
		p := valid()
		c.mutate(p)
		err := p.Check(c.lim)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		var ce *CheckError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: message %q lacks %q", c.name, err, c.msg)
		}
		// The same program must be rejected the same way through Decode.
		enc, eerr := Encode(p)
		if eerr != nil {
			t.Fatal(eerr)
		}
		if _, derr := Decode(enc, c.lim); !errors.Is(derr, c.want) {
			t.Errorf("%s: Decode got %v, want %v", c.name, derr, c.want)
		}
	}
	if err := valid().Check(lim); err != nil {
		t.Fatalf("valid program rejected: %v", err)
	}
	// ±OperandMax are fine; one step past it is not.
	p := NewMatMul(compute.I8{Rows: 1, Cols: 2, Data: []int8{OperandMax, -OperandMax}}, compute.I8{Rows: 2, Cols: 1, Data: []int8{-OperandMax, OperandMax}})
	if err := p.Check(lim); err != nil {
		t.Fatalf("extremes rejected: %v", err)
	}
	for _, v := range []int8{OperandMax + 1, -OperandMax - 1, 127} {
		p := NewMatMul(compute.I8{Rows: 1, Cols: 2, Data: []int8{0, v}}, compute.I8{Rows: 2, Cols: 1, Data: []int8{1, 1}})
		if err := p.Check(lim); !errors.Is(err, ErrValue) || !strings.Contains(err.Error(), fmt.Sprintf("entry (0, 1) is %d; values must lie in [-112, 112]", v)) {
			t.Fatalf("%d accepted or badly explained: %v", v, err)
		}
	}
}

func TestCheckWorkOverflow(t *testing.T) {
	// With consistent data, M·K·N cannot overflow before memory runs out, so
	// Check's guard is defensive; test the arithmetic and Work's saturation.
	p := &Program{Version: Version1, Kind: KindMatMul, Inputs: []Tensor{
		{Rows: math.MaxUint32, Cols: 1 << 16},
		{Rows: 1 << 16, Cols: math.MaxUint32},
	}}
	if w := p.Work(); w != math.MaxUint64 {
		t.Fatalf("Work = %d", w)
	}
	if _, ok := work(math.MaxUint32, 1<<16, math.MaxUint32); ok {
		t.Fatal("overflow not detected")
	}
	if w, ok := work(1<<20, 1<<16, 1<<20); !ok || w != 1<<56 {
		t.Fatal("large but valid work rejected")
	}
}

func TestDecodeRejectsOversizedEncoding(t *testing.T) {
	enc, _ := Encode(sample(64, 64, 64))
	if _, err := Decode(enc, withLimits(func(l *Limits) { l.MaxInputBytes = 100 })); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeRejectsBadFields(t *testing.T) {
	// Not a list; a list with a non-integer version; an oversized kind.
	for _, b := range [][]byte{
		{0x80},
		mustRLP(t, []any{[]byte{1, 2}, uint8(1), []Tensor{}}),
		mustRLP(t, []any{uint64(1), uint64(300), []Tensor{}}),
	} {
		if _, err := Decode(b, testLimits()); !errors.Is(err, ErrEncoding) {
			t.Errorf("%x: got %v", b, err)
		}
	}
}

func mustRLP(t *testing.T, v any) []byte {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWork(t *testing.T) {
	if w := sample(3, 5, 7).Work(); w != 105 {
		t.Fatalf("Work = %d, want 105", w)
	}
	if w := (&Program{Version: 1, Kind: KindMatMul}).Work(); w != 0 {
		t.Fatalf("Work of an empty program = %d", w)
	}
}

func TestRunMatchesMatMul(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {17, 33, 9}, {64, 128, 70}} {
		a, b := compute.RandomOperand([32]byte{3}, s[0], s[1]), compute.RandomOperand([32]byte{4}, s[1], s[2])
		p := NewMatMul(a, b)
		enc, _ := Encode(p)
		q, err := Decode(enc, testLimits())
		if err != nil {
			t.Fatal(err)
		}
		c, err := Run(compute.Portable(), q)
		if err != nil {
			t.Fatal(err)
		}
		want := compute.MatMul(a, b)
		if c.Rows != want.Rows || c.Cols != want.Cols {
			t.Fatalf("%v: shape %d×%d", s, c.Rows, c.Cols)
		}
		for i := range want.Data {
			if c.Data[i] != want.Data[i] {
				t.Fatalf("%v: entry %d = %d, want %d", s, i, c.Data[i], want.Data[i])
			}
		}
		if !compute.Freivalds(a, b, c, [32]byte{5}, 2) {
			t.Fatalf("%v: Freivalds rejects Run's result", s)
		}
	}
	bad := sample(2, 3, 4)
	bad.Inputs[0].Data[0] = 0x80
	if _, err := Run(compute.Portable(), bad); !errors.Is(err, ErrValue) {
		t.Fatalf("Run of a bad program: %v", err)
	}
	big := &Program{Version: Version1, Kind: KindMatMul, Inputs: []Tensor{
		{Rows: 1, Cols: compute.MaxK + 1, Data: make([]byte, compute.MaxK+1)},
		{Rows: compute.MaxK + 1, Cols: 1, Data: make([]byte, compute.MaxK+1)},
	}}
	if _, err := Run(compute.Portable(), big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Run with K > MaxK: %v", err)
	}
}

func TestMatMulOperands(t *testing.T) {
	a := compute.I8{Rows: 2, Cols: 2, Data: []int8{-OperandMax, 1, 0, OperandMax}}
	b := compute.I8{Rows: 2, Cols: 1, Data: []int8{-1, 2}}
	ga, gb, err := NewMatMul(a, b).MatMulOperands()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range a.Data {
		if ga.Data[i] != v {
			t.Fatal("A differs")
		}
	}
	if gb.Rows != 2 || gb.Cols != 1 || gb.Data[0] != -1 || gb.Data[1] != 2 {
		t.Fatal("B differs")
	}
}

func TestResultRoundTrip(t *testing.T) {
	c := compute.I32{Rows: 2, Cols: 3, Data: []int32{0, -1, math.MaxInt32, math.MinInt32, 12345, -67890}}
	enc := EncodeResult(c)
	if len(enc) != 24 || !bytes.Equal(enc[4:8], []byte{0xff, 0xff, 0xff, 0xff}) || !bytes.Equal(enc[8:12], []byte{0xff, 0xff, 0xff, 0x7f}) {
		t.Fatalf("encoding %x", enc)
	}
	got, err := DecodeResult(2, 3, enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Data {
		if got.Data[i] != c.Data[i] {
			t.Fatalf("entry %d = %d", i, got.Data[i])
		}
	}
	for _, tc := range []struct {
		rows, cols uint32
		data       []byte
		want       error
	}{
		{2, 3, enc[:23], ErrShape},
		{2, 3, append(enc, 0), ErrShape},
		{3, 3, enc, ErrShape},
		{0, 3, nil, ErrShape},
		{math.MaxUint32, math.MaxUint32, enc, ErrTooLarge},
	} {
		if _, err := DecodeResult(tc.rows, tc.cols, tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%d×%d with %d bytes: got %v, want %v", tc.rows, tc.cols, len(tc.data), err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, p := range []*Program{sample(1, 1, 1), sample(3, 4, 2), sample(8, 2, 8)} {
		enc, _ := Encode(p)
		f.Add(enc)
	}
	bad := sample(2, 2, 2)
	bad.Inputs[1].Data[3] = 0x80
	enc, _ := Encode(bad)
	f.Add(enc)
	f.Add([]byte{})
	f.Add([]byte{0xc0})
	f.Add([]byte{0xc3, 0x01, 0x01, 0xc0})
	small := &TrainSpec{Layers: []uint32{2, 3, 2}, Steps: 2, Batch: 2, LRShift: 4, Rows: 3,
		X: []byte{1, 2, 3, 0xff, 0x81, 0x7f}, Y: []byte{0, 1, 1}, Meta: []byte(`{}`)}
	for _, mutate := range []func(s *TrainSpec){
		func(s *TrainSpec) {},
		func(s *TrainSpec) { s.Y[2] = 2 },
		func(s *TrainSpec) { s.X[1] = 0x80 },
		func(s *TrainSpec) { s.Layers = []uint32{2, 2} },
	} {
		sp := *small
		sp.X, sp.Y = bytes.Clone(small.X), bytes.Clone(small.Y)
		mutate(&sp)
		enc, _ := Encode(NewTrain(sp))
		f.Add(enc)
	}
	sentinels := []error{ErrEncoding, ErrVersion, ErrKind, ErrShape, ErrValue, ErrTooLarge}
	lim := withTrain(func(l *Limits) { l.MaxInputBytes, l.MaxK = 1<<16, 1024 })
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data, lim)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		if p.Work() == 0 {
			t.Fatal("accepted program has no work")
		}
		again, err := Encode(p)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted a non-canonical encoding: %x vs %x", data, again)
		}
		if s := p.Train(); s != nil {
			if p.Work() <= 1<<16 {
				if _, _, err := Train(PlainProducts{compute.Portable()}, s, common.Hash{}, 1, nil); err != nil {
					t.Fatalf("Train of a checked program: %v", err)
				}
			}
			return
		}
		if p.Work() <= 1<<16 {
			if _, err := Run(compute.Portable(), p); err != nil {
				t.Fatalf("Run of a checked program: %v", err)
			}
		}
	})
}

// TestCapsBeforeData: the caps are read off the declared shapes, so a
// program that declares a product the caps do not allow is refused for that,
// whatever its data holds (here: none at all), and nothing is allocated.
func TestCapsBeforeData(t *testing.T) {
	lim := testLimits()
	for _, c := range []struct {
		name    string
		m, k, n uint32
		msg     string
	}{
		{"skinny result 3000×1·1×3000", 3000, 1, 3000, "result 3000×3000 takes 36000000 bytes"},
		{"1e6×1·1×1e6", 1_000_000, 1, 1_000_000, "exceeds the limit of 68719476736"},
		{"overflowing work", math.MaxUint32, 1 << 16, math.MaxUint32, "inputs hold"},
	} {
		p := &Program{Version: Version1, Kind: KindMatMul, Inputs: []Tensor{{Rows: c.m, Cols: c.k}, {Rows: c.k, Cols: c.n}}}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := p.Check(lim)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want ErrTooLarge with %q", c.name, err, c.msg)
		}
		// The rejection's message is all Check allocates; the bound leaves
		// room for the runtime's and other goroutines' allocations, which
		// MemStats counts too, and is still far below the 36 MB result.
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("%s: Check allocated %d bytes", c.name, d)
		}
	}
}

func TestMemoryBytesSaturates(t *testing.T) {
	p := &Program{Version: Version1, Kind: KindMatMul, Inputs: []Tensor{{Rows: math.MaxUint32, Cols: 1 << 16}, {Rows: 1 << 16, Cols: math.MaxUint32}}}
	if got := p.MemoryBytes(compute.Geometry{Tile: 1, Chunk: 1}); got != math.MaxUint64 {
		t.Fatalf("MemoryBytes = %d, want saturation", got)
	}
	if got := ResultBytes(math.MaxUint32, math.MaxUint32); got != math.MaxUint64 {
		t.Fatalf("ResultBytes = %d, want saturation", got)
	}
}
