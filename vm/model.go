package vm

import (
	"errors"
	"fmt"

	"github.com/quern-chain/quern/compute"
)

// OperandMax bounds every int8 tensor that enters a product: job inputs,
// training data, weights and activations lie in [-OperandMax, OperandMax].
// It is the one place the operand range is named (PROTOCOL.md §2).
const OperandMax = compute.OperandMax

// Clip limits x to [lo, hi].
func Clip(x, lo, hi int64) int64 { return max(lo, min(hi, x)) }

// Model is a trained integer MLP as inference needs it: the int8 weights
// that training's products used, int32 biases and each hidden layer's
// activation shift. Layer l maps Layers[l] inputs to Layers[l+1] outputs;
// W[l] is Layers[l]×Layers[l+1] row-major.
type Model struct {
	Layers   []uint32
	W        [][]int8
	B        [][]int32
	ActShift []uint8 // one per hidden layer (len(Layers)−2)
}

// Check reports a model whose tensors do not match its widths.
func (m *Model) Check() error {
	if len(m.Layers) < 2 {
		return errors.New("model: needs at least an input and an output width")
	}
	nl := len(m.Layers) - 1
	if len(m.W) != nl || len(m.B) != nl || len(m.ActShift) != nl-1 {
		return fmt.Errorf("model: %d layers need %d weight and bias tensors and %d shifts, got %d, %d, %d",
			nl, nl, nl-1, len(m.W), len(m.B), len(m.ActShift))
	}
	for l := range nl {
		in, out := int(m.Layers[l]), int(m.Layers[l+1])
		if len(m.W[l]) != in*out || len(m.B[l]) != out {
			return fmt.Errorf("model: layer %d is %d×%d: weights hold %d values (want %d), biases %d (want %d)",
				l, in, out, len(m.W[l]), in*out, len(m.B[l]), out)
		}
	}
	return nil
}

// Logits runs the integer forward pass on one quantised example x
// (len Layers[0], entries in [-OperandMax, OperandMax]): z = x·W + b per
// layer; a hidden layer's output is clip(compute.RoundShift(z, ActShift), 0,
// OperandMax) (ReLU and requantisation in one); the last layer's z are the
// logits. Training's forward pass computes exactly this, batched.
func (m *Model) Logits(x []int8) []int64 {
	a := make([]int64, len(x))
	for i, v := range x {
		a[i] = int64(v)
	}
	nl := len(m.Layers) - 1
	for l := range nl {
		in, out := int(m.Layers[l]), int(m.Layers[l+1])
		z := make([]int64, out)
		for j := range out {
			z[j] = int64(m.B[l][j])
		}
		for i := range in {
			if a[i] == 0 {
				continue
			}
			row := m.W[l][i*out : (i+1)*out]
			for j, w := range row {
				z[j] += a[i] * int64(w)
			}
		}
		if l < nl-1 {
			for j := range z {
				z[j] = Clip(compute.RoundShift(z[j], m.ActShift[l]), 0, OperandMax)
			}
		}
		a = z
	}
	return a
}

// Predict is the class of x: the index of the largest logit (the lowest
// index on a tie).
func (m *Model) Predict(x []int8) int {
	z := m.Logits(x)
	best := 0
	for j, v := range z {
		if v > z[best] {
			best = j
		}
	}
	return best
}
