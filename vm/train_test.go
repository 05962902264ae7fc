package vm

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/compute"
)

// trainLimits are the caps the tests train under: testLimits plus the
// training fields at the devnet's values (chain/dev.json; chain.JobLimits
// builds the real ones).
func trainLimits() Limits {
	l := testLimits()
	l.MaxTrainSteps, l.MaxTrainBatch, l.MaxTrainWidth, l.MaxTrainLayers, l.CheckpointInterval = 1<<16, 1024, 2048, 8, 16
	return l
}

// blobs is a synthetic dataset: classes Gaussian blobs in dim dimensions,
// quantised to int8 (x·32, clipped).
func blobs(seed uint64, rows, dim, classes int) (x, y []byte) {
	r := rand.New(rand.NewPCG(seed, 1))
	centers := make([][]float64, classes)
	for c := range centers {
		centers[c] = make([]float64, dim)
		for j := range centers[c] {
			centers[c][j] = r.NormFloat64()
		}
	}
	x, y = make([]byte, rows*dim), make([]byte, rows)
	for i := range rows {
		c := i % classes
		y[i] = byte(c)
		for j := range dim {
			v := (centers[c][j] + 0.7*r.NormFloat64()) * 32
			x[i*dim+j] = byte(int8(max(-OperandMax, min(OperandMax, math.Round(v)))))
		}
	}
	return x, y
}

func blobSpec() *TrainSpec {
	x, y := blobs(7, 300, 8, 3)
	return &TrainSpec{Layers: []uint32{8, 16, 3}, Steps: 200, Batch: 16, LRShift: 7, Seed: 1, Rows: 300, X: x, Y: y, Meta: []byte(`{"rule":"test"}`)}
}

// accuracy is the fraction of rows m classifies right.
func accuracy(m *Model, x, y []byte, width int) float64 {
	ok := 0
	for i := range y {
		row := make([]int8, width)
		for j := range row {
			row[j] = int8(x[i*width+j])
		}
		if m.Predict(row) == int(y[i]) {
			ok++
		}
	}
	return float64(ok) / float64(len(y))
}

var jobA = common.Hash{0xaa}

func TestTrainBlobs(t *testing.T) {
	spec := blobSpec()
	if err := NewTrain(*spec).Check(trainLimits()); err != nil {
		t.Fatal(err)
	}
	final, roots, err := Train(PlainProducts{compute.Portable()}, spec, jobA, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(roots) != 13 {
		t.Fatalf("%d roots, want ⌈200/16⌉ = 13", len(roots))
	}
	init := accuracy(InitState(spec, jobA).Model(spec), spec.X, spec.Y, 8)
	acc := accuracy(final.Model(spec), spec.X, spec.Y, 8)
	t.Logf("blobs 8,16,3: accuracy %.3f at init, %.3f after %d steps", init, acc, spec.Steps)
	if acc <= 0.9 {
		t.Fatalf("training accuracy %.3f, want > 0.9", acc)
	}
}

// oddSpec has widths and a batch that are not multiples of any SIMD panel.
func oddSpec() *TrainSpec {
	x, y := blobs(11, 101, 19, 5)
	return &TrainSpec{Layers: []uint32{19, 37, 23, 5}, Steps: 40, Batch: 29, LRShift: 6, Rows: 101, X: x, Y: y}
}

func TestTrainDeterministicAcrossBackends(t *testing.T) {
	for _, spec := range []*TrainSpec{blobSpec(), oddSpec()} {
		spec.Steps = min(spec.Steps, 48)
		var wantRoots []common.Hash
		var wantEnc []byte
		for _, be := range append(compute.Backends(), compute.Portable()) { // portable twice: run-to-run
			final, roots, err := Train(PlainProducts{be}, spec, jobA, 16, nil)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := final.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if wantRoots == nil {
				wantRoots, wantEnc = roots, enc
				continue
			}
			if len(roots) != len(wantRoots) || !bytes.Equal(enc, wantEnc) {
				t.Fatalf("%v on %s: final state or root count differs", spec.Layers, be.Name())
			}
			for i := range roots {
				if roots[i] != wantRoots[i] {
					t.Fatalf("%v on %s: checkpoint %d root differs", spec.Layers, be.Name(), i)
				}
			}
		}
		// Another job id is another trajectory.
		_, other, _ := Train(PlainProducts{compute.Portable()}, spec, common.Hash{0xbb}, 16, nil)
		if other[0] == wantRoots[0] {
			t.Fatal("two job ids gave the same first checkpoint")
		}
	}
}

func TestReplayReproducesCheckpoints(t *testing.T) {
	spec, k := oddSpec(), uint32(8)
	prods := PlainProducts{compute.CPU()}
	_, roots, err := Train(prods, spec, jobA, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Checkpoint states at steps 0, k, 2k, … by stepping one at a time.
	states := []*TrainState{InitState(spec, jobA)}
	for s := states[0]; s.Step < spec.Steps; {
		before, _ := s.Encode()
		next, err := s.Next(spec, jobA, prods)
		if err != nil {
			t.Fatal(err)
		}
		if after, _ := s.Encode(); !bytes.Equal(before, after) {
			t.Fatal("Next mutated its input state")
		}
		s = next
		if s.Step%k == 0 || s.Step == spec.Steps {
			states = append(states, s)
		}
	}
	for i := range roots {
		// Each interval from its start checkpoint, carried encoded as a block would.
		enc, _ := states[i].Encode()
		from, err := DecodeTrainState(enc, spec)
		if err != nil {
			t.Fatal(err)
		}
		to := min(uint32(i+1)*k, spec.Steps)
		got, err := Replay(PlainProducts{compute.Portable()}, spec, jobA, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if got.Step != to || got.Root() != roots[i] {
			t.Fatalf("replay %d..%d: root %x, want %x", from.Step, to, got.Root(), roots[i])
		}
	}
	if _, err := Replay(prods, spec, jobA, states[1], spec.Steps+1); err == nil {
		t.Fatal("replay past the last step accepted")
	}
	if _, _, err := Train(prods, spec, jobA, 0, nil); !errors.Is(err, ErrCheckpointInterval) {
		t.Fatalf("k = 0: %v", err)
	}
}

// recorder checks the op numbering and captures the last forward product.
type recorder struct {
	t      *testing.T
	layers int
	ops    map[uint32]int
	last   compute.I32
}

func (r *recorder) MatMul(step, op uint32, a, b compute.I8) (compute.I32, error) {
	r.ops[op]++
	c := compute.MatMul(a, b)
	if op == uint32(r.layers-1) {
		r.last = c
	}
	return c, nil
}

// TestForwardIsModelLogits: the logits training computes are Model.Logits.
func TestForwardIsModelLogits(t *testing.T) {
	spec := oddSpec()
	s := InitState(spec, jobA)
	for range 5 { // move off the init
		s, _ = s.Next(spec, jobA, PlainProducts{compute.Portable()})
	}
	rec := &recorder{t: t, layers: 3, ops: map[uint32]int{}}
	if _, err := s.Next(spec, jobA, rec); err != nil {
		t.Fatal(err)
	}
	// L = 3: forward 0,1,2; weight gradients 3,4,5; input gradients 7,8.
	for _, op := range []uint32{0, 1, 2, 3, 4, 5, 7, 8} {
		if rec.ops[op] != 1 {
			t.Fatalf("ops %v: want each of 0-5, 7, 8 once", rec.ops)
		}
	}
	if len(rec.ops) != 8 {
		t.Fatalf("ops %v", rec.ops)
	}
	m := s.Model(spec)
	for i, r := range BatchIndices(spec, jobA, s.Step) {
		x := make([]int8, 19)
		for j := range x {
			x[j] = int8(spec.X[int(r)*19+j])
		}
		want := m.Logits(x)
		for j, v := range want {
			if got := int64(rec.last.At(i, j)) + int64(s.B[2][j]); got != v {
				t.Fatalf("example %d logit %d: training %d, Model.Logits %d", i, j, got, v)
			}
		}
	}
}

func TestTrainWork(t *testing.T) {
	// 8,16,3, batch 4: forward 4·8·16 + 4·16·3 = 704, weight gradients 704,
	// input gradient of layer 1 only 4·16·3 = 192: 1600 MACs a step.
	spec := &TrainSpec{Layers: []uint32{8, 16, 3}, Steps: 10, Batch: 4}
	if w, ok := spec.StepWork(); !ok || w != 1600 {
		t.Fatalf("StepWork = %d", w)
	}
	if w := NewTrain(*spec).Work(); w != 16000 {
		t.Fatalf("Work = %d, want 16000", w)
	}
	// One layer has no input gradient: 2·B·in·out.
	if w := NewTrain(TrainSpec{Layers: []uint32{5, 2}, Steps: 3, Batch: 7}).Work(); w != 3*2*7*5*2 {
		t.Fatalf("Work = %d", w)
	}
	big := TrainSpec{Layers: []uint32{1 << 31, 1 << 31, 2}, Steps: math.MaxUint32, Batch: 1 << 31}
	if w := NewTrain(big).Work(); w != math.MaxUint64 {
		t.Fatalf("overflowing Work = %d", w)
	}
}

func TestTrainCheckRejects(t *testing.T) {
	lim := trainLimits()
	cases := []struct {
		name   string
		mutate func(s *TrainSpec)
		lim    Limits
		want   error
		msg    string
	}{
		{"one width", func(s *TrainSpec) { s.Layers = []uint32{8} }, lim, ErrShape, "at least 2 widths"},
		{"zero width", func(s *TrainSpec) { s.Layers[1] = 0 }, lim, ErrShape, "width 0 (index 1) is zero"},
		{"one class", func(s *TrainSpec) { s.Layers[2] = 1 }, lim, ErrShape, "at least 2, got 1"},
		{"wide", func(s *TrainSpec) { s.Layers[1] = 5000 }, lim, ErrTooLarge, "width 5000 (index 1) exceeds the limit of 2048"},
		{"deep", func(s *TrainSpec) { s.Layers = []uint32{8, 4, 4, 4, 3} }, withTrain(func(l *Limits) { l.MaxTrainLayers = 4 }), ErrTooLarge, "5 widths exceed the limit of 4"},
		{"X width", func(s *TrainSpec) { s.Layers[0] = 9 }, lim, ErrShape, "X: 300 rows of 9 features need 2700 bytes, got 2400"},
		{"short Y", func(s *TrainSpec) { s.Y = s.Y[:299] }, lim, ErrShape, "Y: 300 rows need 300 labels, got 299"},
		{"label", func(s *TrainSpec) { s.Y[17] = 3 }, lim, ErrValue, "row 17 has label 3, but there are 3 classes"},
		{"-128", func(s *TrainSpec) { s.X[8*5+2] = 0x80 }, lim, ErrValue, "X: row 5 feature 2 is -128"},
		{"zero steps", func(s *TrainSpec) { s.Steps = 0 }, lim, ErrShape, "steps is 0"},
		{"steps", func(s *TrainSpec) { s.Steps = 1<<16 + 1 }, lim, ErrTooLarge, "65537 steps exceed the limit of 65536"},
		{"zero batch", func(s *TrainSpec) { s.Batch = 0 }, lim, ErrShape, "batch is 0"},
		{"batch > rows", func(s *TrainSpec) { s.Batch = 301 }, lim, ErrShape, "batch 301 is larger than the training set (300 rows)"},
		{"batch cap", func(s *TrainSpec) {}, withTrain(func(l *Limits) { l.MaxTrainBatch = 8 }), ErrTooLarge, "batch 16 exceeds the limit of 8"},
		{"K forward", func(s *TrainSpec) {}, withTrain(func(l *Limits) { l.MaxK = 12 }), ErrTooLarge, "layer 1's forward product has K = 16"},
		{"K input gradient", func(s *TrainSpec) { s.Layers = []uint32{8, 3, 13} }, withTrain(func(l *Limits) { l.MaxK = 12 }), ErrTooLarge, "layer 1's input-gradient product has K = 13"},
		{"K weight gradient", func(s *TrainSpec) { s.Layers = []uint32{8, 3, 3} }, withTrain(func(l *Limits) { l.MaxK = 12 }), ErrTooLarge, "K = batch = 16"},
		{"lr shift", func(s *TrainSpec) { s.LRShift = 32 }, lim, ErrShape, "shift 32 is over 31"},
		{"meta", func(s *TrainSpec) { s.Meta = make([]byte, MaxTrainMetaBytes+1) }, lim, ErrTooLarge, fmt.Sprintf("meta is %d bytes", MaxTrainMetaBytes+1)},
		{"no rows", func(s *TrainSpec) { s.Rows = 0 }, lim, ErrShape, "rows 0"},
		{"input bytes", func(s *TrainSpec) {}, withTrain(func(l *Limits) { l.MaxInputBytes = 2000 }), ErrTooLarge, "hold 2715 bytes"},
		{"work", func(s *TrainSpec) {}, withTrain(func(l *Limits) { l.MaxWork = 1000 }), ErrTooLarge, "work 200 steps × 6400 MACs = 1280000 MACs exceeds the limit of 1000"},
		{"result", func(s *TrainSpec) {}, withTrain(func(l *Limits) { l.MaxResultBytes = 1000 }), ErrTooLarge, "13 checkpoint roots) takes 1196 bytes"},
		{"memory", func(s *TrainSpec) {}, withTrain(func(l *Limits) { l.MaxMemoryBytes = 1 << 20 }), ErrTooLarge, "more than the limit of 1048576"},
		{"no training", func(s *TrainSpec) {}, testLimits(), ErrTooLarge, "accept no training jobs"},
	}
	for _, c := range cases {
		s := blobSpec()
		c.mutate(s)
		p := NewTrain(*s)
		err := p.Check(c.lim)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %v with %q", c.name, err, c.want, c.msg)
			continue
		}
		enc, _ := Encode(p)
		if _, derr := Decode(enc, c.lim); !errors.Is(derr, c.want) {
			t.Errorf("%s: Decode got %v", c.name, derr)
		}
	}
	// Kind and spec must agree.
	mm := sample(2, 3, 4)
	mm.Spec = blobSpec()
	if err := mm.Check(lim); !errors.Is(err, ErrShape) {
		t.Errorf("matmul with a spec: %v", err)
	}
	tr := NewTrain(*blobSpec())
	tr.Inputs = mm.Inputs
	if err := tr.Check(lim); !errors.Is(err, ErrShape) {
		t.Errorf("train with inputs: %v", err)
	}
	if err := (&Program{Version: Version1, Kind: KindTrain}).Check(lim); !errors.Is(err, ErrShape) {
		t.Errorf("train without a spec: %v", err)
	}
	if _, _, err := tr.MatMulOperands(); !errors.Is(err, ErrKind) {
		t.Errorf("MatMulOperands of a train program: %v", err)
	}
}

func withTrain(f func(l *Limits)) Limits {
	l := trainLimits()
	f(&l)
	return l
}

func TestTrainEncodings(t *testing.T) {
	// A matmul program still encodes as rlp([version, kind, inputs]).
	mm := NewMatMul(compute.I8{Rows: 1, Cols: 1, Data: []int8{-1}}, compute.I8{Rows: 1, Cols: 1, Data: []int8{2}})
	enc, _ := Encode(mm)
	if want := mustRLP(t, []any{uint8(1), uint8(1), []Tensor{{1, 1, []byte{0xff}}, {1, 1, []byte{2}}}}); !bytes.Equal(enc, want) {
		t.Fatalf("matmul encoding changed: %x, want %x", enc, want)
	}
	p := NewTrain(*blobSpec())
	enc, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(enc, trainLimits())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := Encode(q); !bytes.Equal(again, enc) || q.Train() == nil || q.Work() != p.Work() || q.Train().Seed != 1 {
		t.Fatal("train program round trip differs")
	}
	if mm.Train() != nil {
		t.Fatal("a matmul program has a training spec")
	}
	spec := oddSpec()
	s := InitState(spec, jobA)
	s, _ = s.Next(spec, jobA, PlainProducts{compute.Portable()})
	se, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeTrainState(se, spec)
	if err != nil {
		t.Fatal(err)
	}
	if d.Root() != s.Root() || d.Step != 1 {
		t.Fatal("state round trip differs")
	}
	// Wrong shapes and out-of-range values are refused.
	if _, err := DecodeTrainState(se, blobSpec()); !errors.Is(err, ErrShape) {
		t.Fatalf("state of another network: %v", err)
	}
	bad := s.Clone()
	bad.W[1][3] = MasterMax + 1
	be, _ := bad.Encode()
	if _, err := DecodeTrainState(be, spec); !errors.Is(err, ErrValue) {
		t.Fatalf("master out of range: %v", err)
	}
	if _, err := DecodeTrainState(append(se, 0), spec); !errors.Is(err, ErrEncoding) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestExp2Table(t *testing.T) {
	for i, v := range exp2Table {
		if want := math.Round(math.Exp2(30 + float64(i)/256)); math.Abs(float64(v)-want) > 1 {
			t.Fatalf("exp2Table[%d] = %d, want %v", i, v, want)
		}
	}
	if exp2Table[0] != 1<<30 {
		t.Fatal("exp2Table[0] is not 2^30")
	}
	if got := float64(Log2EQ30) / (1 << 30); math.Abs(got-math.Log2E) > 1e-9 {
		t.Fatalf("Log2EQ30 = %v", got)
	}
}

func TestSoftmaxGrad(t *testing.T) {
	d := make([]int8, 3)
	// Equal logits: p = 1/3 each; the label's gradient is 1/3 − 1.
	softmaxGrad(d, []int64{5, 5, 5}, 1, 13)
	if d[0] != 43 || d[2] != 43 || d[1] != -85 {
		t.Fatalf("equal logits: δ = %v", d)
	}
	// A confident right answer has no gradient; a confident wrong one ±OperandMax.
	softmaxGrad(d, []int64{1 << 20, 0, 0}, 0, 13)
	if d[0] != 0 || d[1] != 0 || d[2] != 0 {
		t.Fatalf("confident right: δ = %v", d)
	}
	softmaxGrad(d, []int64{1 << 20, 0, math.MinInt32}, 2, 13)
	if d[0] != OperandMax || d[1] != 0 || d[2] != -OperandMax {
		t.Fatalf("confident wrong: δ = %v", d)
	}
}

func TestTrainMemoryBound(t *testing.T) {
	for _, spec := range []*TrainSpec{blobSpec(), oddSpec()} {
		p := NewTrain(*spec)
		est := p.MemoryBytes(testLimits().Geometry)
		for _, be := range compute.Backends() {
			s := InitState(spec, jobA)
			got := allocatedBytes(func() { s.Next(spec, jobA, PlainProducts{be}) })
			t.Logf("%v on %s: one step allocates %d bytes, estimate %d", spec.Layers, be.Name(), got, est)
			if got > est {
				t.Errorf("%v on %s: one step allocates %d bytes, over the estimate %d", spec.Layers, be.Name(), got, est)
			}
		}
	}
}

func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
