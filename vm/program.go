package vm

import (
	"math"
	"math/bits"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/quern-chain/quern/compute"
)

// Version1 is the only program version this VM runs.
const Version1 = 1

// KindMatMul is a product C = A·B of int8 inputs, result int32.
const KindMatMul uint8 = 1

// KindTrain is a training run of an integer MLP (train.go, docs/training.md):
// no Inputs, everything in Program.Train.
const KindTrain uint8 = 2

// Tensor is an int8 row-major matrix as it travels in a job: Data holds
// Rows·Cols two's-complement bytes.
type Tensor struct {
	Rows, Cols uint32
	Data       []byte
}

// Program is a job's computation. For KindMatMul, Inputs = [A (M×K), B (K×N)]
// and Spec is absent; for KindTrain, Inputs is empty and Spec holds the job.
// Spec is an optional trailing RLP field, so a matmul program encodes as it
// always did: rlp([version, kind, inputs]).
type Program struct {
	Version uint8
	Kind    uint8
	Inputs  []Tensor
	Spec    *TrainSpec `rlp:"optional"`
}

// Limits bound what a node accepts; chain.JobLimits builds them from the
// genesis params (the one place they are made). Every cap is checked on the
// declared shapes before a byte of the job's data is looked at.
type Limits struct {
	MaxInputBytes  uint64 // sum of the inputs' sizes, M·K + K·N
	MaxResultBytes uint64 // the int32 result a block carries, 4·M·N
	MaxWork        uint64 // M·K·N MACs
	MaxMemoryBytes uint64 // MemoryBytes(Geometry): peak a miner or validator allocates
	MaxK           uint32 // inner dimension of a product
	// Geometry is the tile and chunk job products are computed with; the
	// memory estimate depends on them.
	Geometry compute.Geometry

	// Training jobs (KindTrain). Zero refuses every training job: there is
	// no package default, each must come from the genesis params.
	MaxTrainSteps      uint32 // steps of one job
	MaxTrainBatch      uint32 // examples per step
	MaxTrainWidth      uint32 // every layer width, input and classes included
	MaxTrainLayers     uint32 // widths in Layers (weight layers + 1)
	CheckpointInterval uint32 // k: a checkpoint root every k steps (fixes the result size)
}

// unbounded checks structure only (shapes, values), for callers handed a
// program that was decoded under the real limits already.
var unbounded = Limits{
	MaxInputBytes: math.MaxUint64, MaxResultBytes: math.MaxUint64, MaxWork: math.MaxUint64,
	MaxMemoryBytes: math.MaxUint64, MaxK: compute.MaxK,
	MaxTrainSteps: math.MaxUint32, MaxTrainBatch: math.MaxUint32, MaxTrainWidth: math.MaxUint32,
	MaxTrainLayers: math.MaxUint32, CheckpointInterval: 1,
}

// encodingSlack covers the RLP headers around the inputs' bytes.
const encodingSlack = 1024

// NewMatMul builds a version-1 matmul program from two matrices.
func NewMatMul(a, b compute.I8) *Program {
	return &Program{Version: Version1, Kind: KindMatMul, Inputs: []Tensor{tensorOf(a), tensorOf(b)}}
}

func tensorOf(m compute.I8) Tensor {
	d := make([]byte, len(m.Data))
	for i, v := range m.Data {
		d[i] = byte(v)
	}
	return Tensor{Rows: uint32(m.Rows), Cols: uint32(m.Cols), Data: d}
}

// Encode returns the program's RLP encoding.
func Encode(p *Program) ([]byte, error) {
	return rlp.EncodeToBytes(p)
}

// Decode parses an RLP program, rejects trailing bytes, and checks it against lim.
func Decode(b []byte, lim Limits) (*Program, error) {
	if uint64(len(b)) > satAdd(lim.MaxInputBytes, encodingSlack) {
		return nil, reject(ErrTooLarge, "program is %d bytes, more than the %d-byte input limit allows; submit smaller inputs", len(b), lim.MaxInputBytes)
	}
	p := new(Program)
	if err := rlp.DecodeBytes(b, p); err != nil {
		return nil, reject(ErrEncoding, "program is not a valid RLP [version, kind, inputs, (train spec)] list: %v", err)
	}
	if err := p.Check(lim); err != nil {
		return nil, err
	}
	return p, nil
}

var inputNames = [...]string{"A", "B"}

// Check validates the program statically: version, kind, input count and
// shapes, then every cap on the declared shapes (K, input bytes, work,
// result bytes, memory), and only then the data: lengths and the value
// range [-OperandMax, OperandMax] = [-112, 112]. A training program is checked by checkTrain (train.go).
// Nothing here allocates.
func (p *Program) Check(lim Limits) error {
	if p.Version != Version1 {
		return reject(ErrVersion, "program version %d is not supported; this node runs version %d programs", p.Version, Version1)
	}
	switch p.Kind {
	case KindMatMul:
	case KindTrain:
		return p.checkTrain(lim)
	default:
		return reject(ErrKind, "program kind %d is unknown; version 1 supports kinds %d (matmul) and %d (train)", p.Kind, KindMatMul, KindTrain)
	}
	if p.Spec != nil {
		return reject(ErrShape, "a matmul program carries no training spec; drop it, or submit a kind %d (train) program", KindTrain)
	}
	if len(p.Inputs) != 2 {
		return reject(ErrShape, "matmul takes 2 inputs (A, B), got %d", len(p.Inputs))
	}
	for i, t := range p.Inputs {
		if t.Rows == 0 || t.Cols == 0 {
			return reject(ErrShape, "input %s: shape %d×%d has a zero dimension; every dimension must be at least 1", inputNames[i], t.Rows, t.Cols)
		}
	}
	a, b := p.Inputs[0], p.Inputs[1]
	if a.Cols != b.Rows {
		return reject(ErrShape, "input B: shape %d×%d does not match A's %d×%d (B needs %d rows)", b.Rows, b.Cols, a.Rows, a.Cols, a.Cols)
	}
	if err := checkCaps(a.Rows, a.Cols, b.Cols, lim); err != nil {
		return err
	}
	for i, t := range p.Inputs {
		if n := uint64(t.Rows) * uint64(t.Cols); n != uint64(len(t.Data)) {
			return reject(ErrShape, "input %s: shape %d×%d needs %d bytes of data, got %d", inputNames[i], t.Rows, t.Cols, n, len(t.Data))
		}
	}
	for i, t := range p.Inputs {
		if j := outOfRange(t.Data); j >= 0 {
			return reject(ErrValue, "input %s: entry (%d, %d) is %d; values must lie in [%d, %d] (operands plus the protocol's noise must fit int8, docs/protocol.md §2): scale or clip the data",
				inputNames[i], j/int(t.Cols), j%int(t.Cols), int8(t.Data[j]), -OperandMax, OperandMax)
		}
	}
	return nil
}

// outOfRange returns the index of the first byte outside
// [-OperandMax, OperandMax] as int8, or -1.
func outOfRange(data []byte) int {
	for j, v := range data {
		if x := int8(v); x > OperandMax || x < -OperandMax {
			return j
		}
	}
	return -1
}

// checkCaps runs every shape-derived cap on an M×K by K×N product. It
// needs the declared shape only, so a program whose product could not be
// held is refused before anything is built for it.
func checkCaps(m, k, n uint32, lim Limits) error {
	if k > lim.MaxK {
		return reject(ErrTooLarge, "inner dimension K = %d exceeds the limit of %d; split the product along K", k, lim.MaxK)
	}
	if in := satMul(uint64(k), uint64(m)+uint64(n)); in > lim.MaxInputBytes {
		return reject(ErrTooLarge, "inputs hold %d bytes, more than the limit of %d; split the job into smaller products", in, lim.MaxInputBytes)
	}
	w, ok := work(m, k, n)
	if !ok {
		return reject(ErrTooLarge, "work %d×%d×%d MACs overflows 64 bits; split the job", m, k, n)
	}
	if w > lim.MaxWork {
		return reject(ErrTooLarge, "work %d×%d×%d = %d MACs exceeds the limit of %d; split the job into smaller products", m, k, n, w, lim.MaxWork)
	}
	if rb := ResultBytes(m, n); rb > lim.MaxResultBytes {
		return reject(ErrTooLarge, "result %d×%d takes %d bytes (4 per entry), more than the limit of %d a block may carry; split the job along M or N", m, n, rb, lim.MaxResultBytes)
	}
	if mem := memoryBytes(m, k, n, lim.Geometry); mem > lim.MaxMemoryBytes {
		return reject(ErrTooLarge, "computing or checking the %d×%d×%d product needs about %d bytes of memory, more than the limit of %d; split the job into smaller products", m, k, n, mem, lim.MaxMemoryBytes)
	}
	return nil
}

// ResultBytes is the size of an M×N int32 result's data, 4·M·N
// (MaxUint64 when that overflows).
func ResultBytes(m, n uint32) uint64 { return satMul(4, uint64(m)*uint64(n)) }

// ResultBytes is the size of the program's result data (0 for a program
// with the wrong inputs).
func (p *Program) ResultBytes() uint64 {
	if p.Kind != KindMatMul || len(p.Inputs) != 2 {
		return 0
	}
	return ResultBytes(p.Inputs[0].Rows, p.Inputs[1].Cols)
}

// work returns M·K·N and whether it fits in 64 bits.
func work(m, k, n uint32) (uint64, bool) {
	hi, lo := bits.Mul64(uint64(m)*uint64(k), uint64(n))
	return lo, hi == 0
}

// Work returns the program's work in MACs (M·K·N for a matmul, TrainWork
// for a training job): 0 for a program with the wrong inputs, MaxUint64 if
// it overflows. Check first.
func (p *Program) Work() uint64 {
	if p.Kind == KindTrain {
		if p.Spec == nil {
			return 0
		}
		w, ok := p.Spec.work()
		if !ok {
			return math.MaxUint64
		}
		return w
	}
	if p.Kind != KindMatMul || len(p.Inputs) != 2 {
		return 0
	}
	w, ok := work(p.Inputs[0].Rows, p.Inputs[0].Cols, p.Inputs[1].Cols)
	if !ok {
		return math.MaxUint64
	}
	return w
}

// MatMulOperands returns A and B of a matmul program as compute matrices
// (copies). It checks the program's structure but not the size limits: the
// program must have been decoded under the node's limits (vm.Decode).
func (p *Program) MatMulOperands() (a, b compute.I8, err error) {
	if p.Kind != KindMatMul {
		return a, b, reject(ErrKind, "program kind %d has no matmul operands", p.Kind)
	}
	if err := p.Check(unbounded); err != nil {
		return a, b, err
	}
	return matrixOf(p.Inputs[0]), matrixOf(p.Inputs[1]), nil
}

func matrixOf(t Tensor) compute.I8 {
	m := compute.NewI8(int(t.Rows), int(t.Cols))
	for i, v := range t.Data {
		m.Data[i] = int8(v)
	}
	return m
}

// Run executes the program on be and returns its exact result. Like
// MatMulOperands it trusts p to have passed Decode under the node's limits,
// which bound the result it allocates.
func Run(be compute.Backend, p *Program) (compute.I32, error) {
	a, b, err := p.MatMulOperands()
	if err != nil {
		return compute.I32{}, err
	}
	return be.MatMul(a, b), nil
}
