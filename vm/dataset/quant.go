package dataset

import (
	"errors"
	"fmt"
	"math"

	"github.com/quern-chain/quern/vm"
)

// Quant is the per-feature scale of the quantisation rule (see the package
// doc): feature j maps [Lo[j], Hi[j]] onto [−vm.OperandMax, vm.OperandMax] = [−112, 112].
type Quant struct {
	Lo []float64 `json:"lo"`
	Hi []float64 `json:"hi"`
}

// FitQuant takes each feature's min and max over t.
func FitQuant(t *Table) Quant {
	n := t.Features()
	q := Quant{Lo: make([]float64, n), Hi: make([]float64, n)}
	for j := range n {
		q.Lo[j], q.Hi[j] = math.Inf(1), math.Inf(-1)
	}
	for _, x := range t.X {
		for j, v := range x {
			q.Lo[j] = min(q.Lo[j], v)
			q.Hi[j] = max(q.Hi[j], v)
		}
	}
	return q
}

// Width is the number of features q scales.
func (q Quant) Width() int { return len(q.Lo) }

// Check reports a scale that Apply cannot use: one read from a file that was
// edited or damaged.
func (q Quant) Check() error {
	if len(q.Lo) != len(q.Hi) {
		return fmt.Errorf("quant: %d lo values but %d hi values; want one of each per feature", len(q.Lo), len(q.Hi))
	}
	if len(q.Lo) == 0 {
		return errors.New("quant: no features")
	}
	for j := range q.Lo {
		lo, hi := q.Lo[j], q.Hi[j]
		mid, half := (hi+lo)/2, (hi-lo)/2
		switch {
		case math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(mid, 0) || math.IsInf(half, 0):
			return fmt.Errorf("quant: feature %d: lo %v, hi %v is not a finite range; rescale the column", j, lo, hi)
		case lo > hi:
			return fmt.Errorf("quant: feature %d: lo %v is above hi %v", j, lo, hi)
		}
	}
	return nil
}

// Apply quantises one row; len(x) must be q.Width().
func (q Quant) Apply(x []float64) []int8 {
	if len(x) != len(q.Lo) {
		panic(fmt.Sprintf("dataset: Quant of %d features applied to %d", len(q.Lo), len(x)))
	}
	out := make([]int8, len(x))
	for j, v := range x {
		out[j] = quantise(v, q.Lo[j], q.Hi[j])
	}
	return out
}

func quantise(x, lo, hi float64) int8 {
	mid, half := (hi+lo)/2, (hi-lo)/2
	if half == 0 {
		return 0
	}
	v := math.Round((x - mid) / half * vm.OperandMax)
	return int8(max(-vm.OperandMax, min(vm.OperandMax, v)))
}

// ApplyTable quantises every row of t into the bytes a training job carries:
// x is rows×features row-major, each int8 as its two's-complement byte; y
// is one byte per label.
func (q Quant) ApplyTable(t *Table) (x, y []byte, err error) {
	if t.Features() != q.Width() {
		return nil, nil, fmt.Errorf("the table has %d features but the scale has %d", t.Features(), q.Width())
	}
	x = make([]byte, 0, len(t.X)*q.Width())
	for _, row := range t.X {
		for _, v := range q.Apply(row) {
			x = append(x, byte(v))
		}
	}
	if t.Labels == nil {
		return x, nil, nil
	}
	y = make([]byte, len(t.Labels))
	for i, l := range t.Labels {
		if l > math.MaxUint8 {
			return nil, nil, fmt.Errorf("line %d: label %d does not fit a byte; a training job takes labels 0 to 255", t.Lines[i], l)
		}
		y[i] = byte(l)
	}
	return x, y, nil
}
