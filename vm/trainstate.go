package vm

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/quern-chain/quern/compute"
)

// TrainState is a training job's state after Step steps: master weights
// W[l] (Layers[l]×Layers[l+1] int32, row-major, |w| ≤ MasterMax) and
// biases B[l] (Layers[l+1] int32 at the logit scale, |b| ≤ BiasMax).
type TrainState struct {
	Step uint32
	W    [][]int32
	B    [][]int32
}

// trainStateRLP is the encoding: rlp([step, [W_0, …], [B_0, …]]), each
// tensor a byte string of int32 big-endian two's complement, row-major.
type trainStateRLP struct {
	Step uint32
	W    [][]byte
	B    [][]byte
}

func tensorBytes(v []int32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(out[4*i:], uint32(x))
	}
	return out
}

// Encode returns the state's RLP encoding.
func (s *TrainState) Encode() ([]byte, error) {
	e := trainStateRLP{Step: s.Step, W: make([][]byte, len(s.W)), B: make([][]byte, len(s.B))}
	for l := range s.W {
		e.W[l] = tensorBytes(s.W[l])
	}
	for l := range s.B {
		e.B[l] = tensorBytes(s.B[l])
	}
	return rlp.EncodeToBytes(&e)
}

// DecodeTrainState parses a state written by Encode and checks it against
// spec: tensor shapes, step ≤ Steps, every value within its bound.
func DecodeTrainState(b []byte, spec *TrainSpec) (*TrainState, error) {
	var e trainStateRLP
	if err := rlp.DecodeBytes(b, &e); err != nil {
		return nil, reject(ErrEncoding, "training state is not a valid RLP [step, weights, biases] list: %v", err)
	}
	nl := spec.layers()
	if len(e.W) != nl || len(e.B) != nl {
		return nil, reject(ErrShape, "training state has %d weight and %d bias tensors; the network has %d layers", len(e.W), len(e.B), nl)
	}
	if e.Step > spec.Steps {
		return nil, reject(ErrShape, "training state is at step %d, past the job's %d steps", e.Step, spec.Steps)
	}
	s := &TrainState{Step: e.Step, W: make([][]int32, nl), B: make([][]int32, nl)}
	for l := range nl {
		in, out := uint64(spec.Layers[l]), uint64(spec.Layers[l+1])
		var err error
		if s.W[l], err = int32sOf(e.W[l], in*out, MasterMax, "weights", l); err != nil {
			return nil, err
		}
		if s.B[l], err = int32sOf(e.B[l], out, BiasMax, "biases", l); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func int32sOf(b []byte, n uint64, bound int32, what string, l int) ([]int32, error) {
	if uint64(len(b)) != 4*n {
		return nil, reject(ErrShape, "training state: layer %d %s need %d bytes (%d int32), got %d", l, what, 4*n, n, len(b))
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(binary.BigEndian.Uint32(b[4*i:]))
		if v[i] < -bound || v[i] > bound {
			return nil, reject(ErrValue, "training state: layer %d %s entry %d is %d, outside [%d, %d]", l, what, i, v[i], -bound, bound)
		}
	}
	return v, nil
}

// trainKey is H(jobID ‖ tag ‖ extra): the key of one of a job's Xoshiro streams.
func trainKey(jobID common.Hash, tag string, extra ...byte) [32]byte {
	return crypto.Keccak256Hash(jobID[:], []byte(tag), extra)
}

// InitState is the job's step-0 state: biases 0; masters of layer l drawn
// row-major, layers in order, from one Xoshiro stream keyed by
// H(jobID ‖ "init"), each next() mod (2U_l+1) − U_l with
// U_l = min(⌊√⌊6·4^(fracBits(in_l)+WShift)/in_l⌋⌋, MasterMax): He-uniform,
// std √(2/in_l) at the weights' scale.
func InitState(spec *TrainSpec, jobID common.Hash) *TrainState {
	x := compute.NewXoshiro(trainKey(jobID, "init"))
	nl := spec.layers()
	s := &TrainState{W: make([][]int32, nl), B: make([][]int32, nl)}
	for l := range nl {
		in, out := spec.Layers[l], spec.Layers[l+1]
		u := initBound(in)
		w := make([]int32, uint64(in)*uint64(out))
		for i := range w {
			w[i] = int32(x.Next()%(2*u+1)) - int32(u)
		}
		s.W[l], s.B[l] = w, make([]int32, out)
	}
	return s
}

func initBound(in uint32) uint64 {
	f := uint(fracBits(in)) + WShift
	return min(isqrt((6<<(2*f))/uint64(in)), MasterMax)
}

// isqrt is ⌊√n⌋.
func isqrt(n uint64) uint64 {
	r := uint64(0)
	for b := uint64(1) << ((bits.Len64(n) - 1) &^ 1); b != 0; b >>= 2 {
		if n >= r+b {
			n -= r + b
			r = r>>1 + b
		} else {
			r >>= 1
		}
	}
	return r
}

// weight8 is the int8 copy of a master weight that products use.
func weight8(m int32) int8 {
	return int8(Clip(compute.RoundShift(int64(m), WShift), -OperandMax, OperandMax))
}

// Model is the trained network as inference runs it (Model.Logits computes
// exactly training's forward pass): int8 copies of the masters, the biases,
// the hidden layers' activation shifts.
func (s *TrainState) Model(spec *TrainSpec) *Model {
	nl := spec.layers()
	m := &Model{Layers: append([]uint32(nil), spec.Layers...), W: make([][]int8, nl), B: make([][]int32, nl), ActShift: make([]uint8, nl-1)}
	for l := range nl {
		m.W[l] = make([]int8, len(s.W[l]))
		for i, v := range s.W[l] {
			m.W[l][i] = weight8(v)
		}
		m.B[l] = append([]int32(nil), s.B[l]...)
		if l < nl-1 {
			m.ActShift[l] = spec.ActShift(l)
		}
	}
	return m
}

// Clone returns a deep copy.
func (s *TrainState) Clone() *TrainState {
	c := &TrainState{Step: s.Step, W: make([][]int32, len(s.W)), B: make([][]int32, len(s.B))}
	for l := range s.W {
		c.W[l] = append([]int32(nil), s.W[l]...)
	}
	for l := range s.B {
		c.B[l] = append([]int32(nil), s.B[l]...)
	}
	return c
}

// Root is the checkpoint root: H(uint32(Step) ‖ tree), where tree is the
// binary Keccak Merkle tree over the tensors in the order W_0, B_0, W_1,
// B_1, … (tensor index i = 2l for W_l, 2l+1 for B_l): leaf_i =
// H(0x00 ‖ uint32(i) ‖ tensor bytes as in Encode), node = H(0x01 ‖ left ‖
// right), pairs taken left to right and an odd last node carried up
// unchanged. Integers big-endian.
func (s *TrainState) Root() common.Hash {
	var level [][32]byte
	var idx [4]byte
	for l := range s.W {
		for j, t := range [][]int32{s.W[l], s.B[l]} {
			binary.BigEndian.PutUint32(idx[:], uint32(2*l+j))
			level = append(level, crypto.Keccak256Hash([]byte{0}, idx[:], tensorBytes(t)))
		}
	}
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i+1 < len(level); i += 2 {
			next = append(next, crypto.Keccak256Hash([]byte{1}, level[i][:], level[i+1][:]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	var tree [32]byte
	if len(level) == 1 {
		tree = level[0]
	}
	binary.BigEndian.PutUint32(idx[:], s.Step)
	return crypto.Keccak256Hash(idx[:], tree[:])
}

// checkShapes reports a state that does not fit spec's widths.
func (s *TrainState) checkShapes(spec *TrainSpec) error {
	nl := spec.layers()
	if len(s.W) != nl || len(s.B) != nl {
		return fmt.Errorf("training state: %d weight and %d bias tensors for %d layers", len(s.W), len(s.B), nl)
	}
	for l := range nl {
		in, out := int(spec.Layers[l]), int(spec.Layers[l+1])
		if len(s.W[l]) != in*out || len(s.B[l]) != out {
			return fmt.Errorf("training state: layer %d is %d×%d but holds %d weights and %d biases", l, in, out, len(s.W[l]), len(s.B[l]))
		}
	}
	return nil
}

// exp2Table[i] = round(2^30 · 2^(i/256)), computed once with math/big
// (exact software arithmetic, 128-bit precision: the same bits everywhere).
var exp2Table = func() (t [256]int64) {
	const prec = 128
	roots := make([]*big.Float, 8) // roots[k] = 2^(2^k/256)
	r := new(big.Float).SetPrec(prec).SetInt64(2)
	for k := 7; k >= 0; k-- {
		r = new(big.Float).SetPrec(prec).Sqrt(r)
		roots[k] = r
	}
	for i := range t {
		v := new(big.Float).SetPrec(prec).SetInt64(1 << 30)
		for k := range 8 {
			if i>>k&1 == 1 {
				v.Mul(v, roots[k])
			}
		}
		v.Add(v, big.NewFloat(0.5).SetPrec(prec))
		n, _ := v.Int64() // truncates: floor of v + 1/2
		t[i] = n
	}
	return t
}()
