package vm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/compute"
)

// Products computes a training step's int8 products. A miner implements it
// with noised products (each product is a ticket, workRef (job, op, step));
// PlainProducts replays. Within step `step` of an L-layer network the ops
// are: forward layer l = l, weight gradient of layer l = L+l, input
// gradient of layer l ≥ 1 = 2L+l (op 2L is unused). It must return the
// exact product; an error (e.g. the miner's round was cancelled) aborts the step.
type Products interface {
	MatMul(step, op uint32, a, b compute.I8) (compute.I32, error)
}

// PlainProducts computes products exactly on Backend, with no noise.
type PlainProducts struct{ Backend compute.Backend }

// MatMul is Backend.MatMul.
func (p PlainProducts) MatMul(_, _ uint32, a, b compute.I8) (compute.I32, error) {
	return p.Backend.MatMul(a, b), nil
}

// Log2EQ30 is round(log2(e) · 2^30), the softmax's change of base.
const Log2EQ30 = 1549082005

// BatchIndices are step t's example indices: B draws from one Xoshiro stream
// keyed by H(jobID ‖ "batch" ‖ uint32(t)), index_i = ⌊next()·Rows / 2^64⌋,
// with replacement.
func BatchIndices(spec *TrainSpec, jobID common.Hash, t uint32) []uint32 {
	var tb [4]byte
	binary.BigEndian.PutUint32(tb[:], t)
	x := compute.NewXoshiro(trainKey(jobID, "batch", tb[:]...))
	idx := make([]uint32, spec.Batch)
	for i := range idx {
		hi, _ := bits.Mul64(x.Next(), uint64(spec.Rows))
		idx[i] = uint32(hi)
	}
	return idx
}

// Next runs training step s.Step on a copy of s and returns the new state
// (docs/training.md): batch, forward, integer softmax-cross-entropy
// gradient, backward, SGD. spec must have passed Check.
func (s *TrainState) Next(spec *TrainSpec, jobID common.Hash, prods Products) (*TrainState, error) {
	if err := s.checkShapes(spec); err != nil {
		return nil, err
	}
	if s.Step >= spec.Steps {
		return nil, fmt.Errorf("training state is at step %d: the job has only %d steps", s.Step, spec.Steps)
	}
	t, nl, bsz := s.Step, spec.layers(), int(spec.Batch)
	L := uint32(nl)
	mul := func(op uint32, a, b compute.I8) (compute.I32, error) {
		c, err := prods.MatMul(t, op, a, b)
		if err == nil && (c.Rows != a.Rows || c.Cols != b.Cols || len(c.Data) != a.Rows*b.Cols) {
			err = fmt.Errorf("product %d returned %d×%d, want %d×%d", op, c.Rows, c.Cols, a.Rows, b.Cols)
		}
		if err != nil {
			return c, fmt.Errorf("step %d op %d: %w", t, op, err)
		}
		return c, nil
	}

	// Batch: A[0] holds the examples' features, row after row.
	idx := BatchIndices(spec, jobID, t)
	in0 := int(spec.Layers[0])
	acts := make([]compute.I8, nl) // acts[l]: layer l's input, B×in_l
	acts[0] = compute.NewI8(bsz, in0)
	for i, r := range idx {
		for j, v := range spec.X[int(r)*in0 : (int(r)+1)*in0] {
			acts[0].Data[i*in0+j] = int8(v)
		}
	}
	w8 := make([]compute.I8, nl)
	for l := range nl {
		w8[l] = compute.NewI8(int(spec.Layers[l]), int(spec.Layers[l+1]))
		for i, v := range s.W[l] {
			w8[l].Data[i] = weight8(v)
		}
	}

	// Forward, exactly Model.Logits batched.
	classes := int(spec.Layers[nl])
	logits := make([]int64, bsz*classes)
	for l := range nl {
		z, err := mul(uint32(l), acts[l], w8[l])
		if err != nil {
			return nil, err
		}
		out := z.Cols
		if l == nl-1 {
			for i, v := range z.Data {
				logits[i] = int64(v) + int64(s.B[l][i%out])
			}
			break
		}
		a, sh := compute.NewI8(bsz, out), spec.ActShift(l)
		for i, v := range z.Data {
			a.Data[i] = int8(Clip(compute.RoundShift(int64(v)+int64(s.B[l][i%out]), sh), 0, OperandMax))
		}
		acts[l+1] = a
	}

	// Loss gradient at the logits.
	delta := compute.NewI8(bsz, classes)
	logitFrac := ActFrac + fracBits(spec.Layers[nl-1])
	for i, r := range idx {
		softmaxGrad(delta.Row(i), logits[i*classes:(i+1)*classes], int(spec.Y[r]), logitFrac)
	}

	// Backward from the step's starting weights, then SGD.
	next := &TrainState{Step: t + 1, W: make([][]int32, nl), B: make([][]int32, nl)}
	for l := nl - 1; l >= 0; l-- {
		dW, err := mul(L+uint32(l), transpose(acts[l]), delta)
		if err != nil {
			return nil, err
		}
		var prev compute.I8 // δ of layer l−1: (δ_l·W8_lᵀ) ⊙ ReLU'
		if l >= 1 {
			p, err := mul(2*L+uint32(l), delta, transpose(w8[l]))
			if err != nil {
				return nil, err
			}
			prev = compute.NewI8(bsz, p.Cols)
			sh := fracBits(spec.Layers[l])
			for i, v := range p.Data {
				if a := acts[l].Data[i]; a > 0 && a < OperandMax {
					prev.Data[i] = int8(Clip(compute.RoundShift(int64(v), sh), -OperandMax, OperandMax))
				}
			}
		}
		next.W[l], next.B[l] = sgd(s.W[l], s.B[l], dW, delta, spec.LRShift)
		delta = prev
	}
	return next, nil
}

// sgd returns w − compute.RoundShift(dW, lr) clipped to ±MasterMax and
// b − compute.RoundShift(colsum(δ)·2^(2·ActFrac−WShift), lr) clipped to ±BiasMax.
func sgd(w, b []int32, dW compute.I32, delta compute.I8, lr uint8) ([]int32, []int32) {
	nw := make([]int32, len(w))
	for i, v := range w {
		nw[i] = int32(Clip(int64(v)-compute.RoundShift(int64(dW.Data[i]), lr), -MasterMax, MasterMax))
	}
	col := make([]int64, len(b))
	for i, d := range delta.Data {
		col[i%delta.Cols] += int64(d)
	}
	nb := make([]int32, len(b))
	for j, v := range b {
		nb[j] = int32(Clip(int64(v)-compute.RoundShift(col[j]<<(2*ActFrac-WShift), lr), -BiasMax, BiasMax))
	}
	return nw, nb
}

// softmaxGrad writes δ = clip(compute.RoundShift(p − onehot(y), 16−ActFrac)) for one
// example, p the softmax of the logits z (frac fraction bits) in Q16, all in
// integers: d_j = max(z_j − max z, −2^(frac+5)); u_j = compute.RoundShift(d_j ·
// Log2EQ30, 22+frac) (log2 units, Q8); e_j = exp2Table[u_j & 255] >> (−(u_j >> 8))
// (Q30, 0 past a shift of 62); p_j = ⌊e_j·2^16 / Σ e⌋.
func softmaxGrad(dst []int8, z []int64, y int, frac uint8) {
	zmax := z[0]
	for _, v := range z {
		zmax = max(zmax, v)
	}
	e := make([]int64, len(z))
	var sum int64
	floor := -(int64(1) << (frac + 5))
	for j, v := range z {
		d := max(v-zmax, floor)
		u := compute.RoundShift(d*Log2EQ30, 22+frac)
		if sh := -(u >> 8); sh <= 62 {
			e[j] = exp2Table[u&255] >> sh
		}
		sum += e[j]
	}
	for j := range z {
		g := (e[j] << 16) / sum
		if j == y {
			g -= 1 << 16
		}
		dst[j] = int8(Clip(compute.RoundShift(g, 16-ActFrac), -OperandMax, OperandMax))
	}
}

// transpose copies m into a new Cols×Rows matrix.
func transpose(m compute.I8) compute.I8 {
	t := compute.NewI8(m.Cols, m.Rows)
	for i := range m.Rows {
		for j, v := range m.Row(i) {
			t.Data[j*m.Rows+i] = v
		}
	}
	return t
}

// Replay runs steps from.Step … to−1 from the checkpoint from and returns
// the state at step to (from itself, unchanged, when to = from.Step).
func Replay(prods Products, spec *TrainSpec, jobID common.Hash, from *TrainState, to uint32) (*TrainState, error) {
	if to < from.Step || to > spec.Steps {
		return nil, fmt.Errorf("replay from step %d to %d: want %d ≤ to ≤ %d", from.Step, to, from.Step, spec.Steps)
	}
	s := from
	for s.Step < to {
		var err error
		if s, err = s.Next(spec, jobID, prods); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ErrCheckpointInterval is returned for a checkpoint interval of 0.
var ErrCheckpointInterval = errors.New("checkpoint interval must be at least 1")

// Train runs the whole job from InitState and returns the final state and
// the checkpoint roots: the root of the state after every k steps, and of
// the final state when Steps is not a multiple of k (⌈Steps/k⌉ roots).
// progress, if not nil, is called after every step with the new step count.
func Train(prods Products, spec *TrainSpec, jobID common.Hash, k uint32, progress func(step uint32)) (*TrainState, []common.Hash, error) {
	if k == 0 {
		return nil, nil, ErrCheckpointInterval
	}
	s := InitState(spec, jobID)
	roots := make([]common.Hash, 0, Checkpoints(spec.Steps, k))
	for s.Step < spec.Steps {
		var err error
		if s, err = s.Next(spec, jobID, prods); err != nil {
			return nil, nil, err
		}
		if progress != nil {
			progress(s.Step)
		}
		if s.Step%k == 0 || s.Step == spec.Steps {
			roots = append(roots, s.Root())
		}
	}
	return s, roots, nil
}
