package vm

import "math/bits"

// TrainSpec is a training job (KindTrain): an integer MLP with the given
// widths trained by Steps steps of minibatch SGD on the examples X, Y. The
// exact rules are docs/training.md; every value here is hashed with the job.
type TrainSpec struct {
	Layers  []uint32 // widths: input first, classes last, at least 2
	Steps   uint32
	Batch   uint32 // examples per step, drawn with replacement
	LRShift uint8  // SGD: master −= RoundShift(gradient, LRShift)
	Seed    uint64 // carried and hashed, not read: the trajectory is keyed by the job id
	Rows    uint32 // examples
	X       []byte // Rows×Layers[0] int8, row-major, in [−OperandMax, OperandMax]
	Y       []byte // Rows labels, each < Layers[len−1]
	Meta    []byte // the client's quantisation rule (JSON), carried and hashed, never read
}

// Training constants (docs/training.md). Changing any is a hard fork.
const (
	// WShift: masters carry WShift bits below the int8 weight copy, so SGD
	// steps smaller than one int8 unit accumulate instead of vanishing.
	WShift = 8
	// MasterMax bounds masters to what the int8 copy can express:
	// clip(RoundShift(±MasterMax, WShift)) = ±OperandMax, so a master never
	// drifts where its copy cannot follow, and |master| < 2^15.
	MasterMax = OperandMax << WShift
	// BiasMax bounds biases (kept at the logit scale z, no extra bits), so
	// |A·W8 + b| ≤ 127²·65536 + 2^30 < 2^31.
	BiasMax = 1 << 30
	// ActFrac: activations and back-propagated gradients δ are int8 with
	// ActFrac fraction bits (127 ≈ 1.0); weight fractions are fracBits(in).
	ActFrac = 7
	// MaxTrainMetaBytes caps Meta.
	MaxTrainMetaBytes = 64 << 10 // a quantisation rule for a few thousand features (784 take ~5 KiB)
	// MaxLRShift: a larger shift makes every update zero.
	MaxLRShift = 31
)

// NewTrain builds a version-1 training program.
func NewTrain(spec TrainSpec) *Program {
	s := spec
	return &Program{Version: Version1, Kind: KindTrain, Spec: &s}
}

// Train returns the training spec of a KindTrain program (nil for others).
func (p *Program) Train() *TrainSpec {
	if p.Kind != KindTrain {
		return nil
	}
	return p.Spec
}

// fracBits is the number of fraction bits of layer l's int8 weights, from
// its fan-in: 4 + ⌈⌈log2 in⌉/2⌉. He init (std √(2/in)) then puts the int8
// copies at a standard deviation of 22..32 whatever the width, room for
// 4..5 σ below OperandMax. It is also the layer's activation shift: z =
// A·W8 carries ActFrac + fracBits fraction bits, the next activation ActFrac.
func fracBits(in uint32) uint8 {
	c := bits.Len32(in - 1) // ⌈log2 in⌉ for in ≥ 1
	return uint8(4 + (c+1)/2)
}

// ActShift is hidden layer l's activation shift, a static function of the
// widths: fracBits(Layers[l]).
func (s *TrainSpec) ActShift(l int) uint8 { return fracBits(s.Layers[l]) }

// layers is the number of weight layers.
func (s *TrainSpec) layers() int { return len(s.Layers) - 1 }

// StepWork is the MACs of one step (3·Σ_l B·in_l·out_l − B·in_0·out_0): the
// forward products A_l·W8_l (B×in_l·in_l×out_l) and the weight gradients
// A_lᵀ·δ_l (in_l×B·B×out_l) of every layer l, and the input gradients
// δ_l·W8_lᵀ (B×out_l·out_l×in_l) of every layer but the first. The integer
// softmax, requantisations and SGD updates (O(B·width) or O(params)) are not
// counted. ok is false on overflow.
func (s *TrainSpec) StepWork() (w uint64, ok bool) {
	b := uint64(s.Batch)
	for l := range s.layers() {
		hi, lo := bits.Mul64(b*uint64(s.Layers[l]), uint64(s.Layers[l+1]))
		n := 3
		if l == 0 {
			n = 2
		}
		hi2, lo2 := bits.Mul64(lo, uint64(n))
		if hi != 0 || hi2 != 0 {
			return 0, false
		}
		var c uint64
		w, c = bits.Add64(w, lo2, 0)
		if c != 0 {
			return 0, false
		}
	}
	return w, true
}

// work is the job's work W = Steps · StepWork.
func (s *TrainSpec) work() (uint64, bool) {
	sw, ok := s.StepWork()
	if !ok {
		return 0, false
	}
	hi, lo := bits.Mul64(sw, uint64(s.Steps))
	return lo, hi == 0
}

// params is Σ_l in_l·out_l + out_l, the number of int32 values in a state.
func (s *TrainSpec) params() uint64 {
	var n uint64
	for l := range s.layers() {
		n = satAdd(n, satMul(uint64(s.Layers[l])+1, uint64(s.Layers[l+1])))
	}
	return n
}

// Checkpoints is the number of checkpoint roots a job of steps steps has
// with interval k: one after every k steps and one at the end, ⌈steps/k⌉.
func Checkpoints(steps, k uint32) uint64 {
	if k == 0 {
		return 0
	}
	return ceilDiv(uint64(steps), uint64(k))
}

// TrainResultBytes is the size of a training job's result data: the final
// state's int32 values (4 bytes each) and 32 bytes per checkpoint root, for
// checkpoint interval k.
func (s *TrainSpec) TrainResultBytes(k uint32) uint64 {
	return satAdd(satMul(4, s.params()), satMul(32, Checkpoints(s.Steps, k)))
}

// inputBytes is what the job's inputs take: X, Y and Meta.
func (s *TrainSpec) inputBytes() uint64 {
	return satAdd(satMul(uint64(s.Rows), uint64(s.Layers[0])+1), uint64(len(s.Meta)))
}

// checkTrain is Check for KindTrain: structure and the caps on the declared
// sizes first (widths, steps, batch, K of every product, input bytes, work,
// result bytes, memory), then the data (lengths, values, labels). Nothing
// here allocates but an error.
func (p *Program) checkTrain(lim Limits) error {
	if len(p.Inputs) != 0 {
		return reject(ErrShape, "a training program takes no inputs (got %d); put the data in the training spec", len(p.Inputs))
	}
	s := p.Spec
	if s == nil {
		return reject(ErrShape, "a training program needs a training spec (layers, steps, batch, data)")
	}
	if lim.CheckpointInterval == 0 || lim.MaxTrainSteps == 0 {
		return reject(ErrTooLarge, "this node's limits accept no training jobs (no checkpoint interval or step limit set)")
	}
	if n := len(s.Layers); n < 2 {
		return reject(ErrShape, "layers %v: a network needs at least 2 widths (input and classes)", s.Layers)
	} else if uint64(n) > uint64(lim.MaxTrainLayers) {
		return reject(ErrTooLarge, "%d widths exceed the limit of %d; train a shallower network", n, lim.MaxTrainLayers)
	}
	for i, w := range s.Layers {
		if w == 0 {
			return reject(ErrShape, "layer width %d (index %d) is zero; every width must be at least 1", w, i)
		}
		if w > lim.MaxTrainWidth {
			return reject(ErrTooLarge, "layer width %d (index %d) exceeds the limit of %d; use narrower layers", w, i, lim.MaxTrainWidth)
		}
	}
	nl := s.layers()
	if c := s.Layers[nl]; c < 2 {
		return reject(ErrShape, "the last width is the number of classes and must be at least 2, got %d", c)
	}
	if s.Steps == 0 {
		return reject(ErrShape, "steps is 0; a training job runs at least 1 step")
	}
	if s.Steps > lim.MaxTrainSteps {
		return reject(ErrTooLarge, "%d steps exceed the limit of %d; train for fewer steps or split the job", s.Steps, lim.MaxTrainSteps)
	}
	if s.Rows == 0 {
		return reject(ErrShape, "the training set is empty (rows 0); give at least one example")
	}
	if s.Batch == 0 {
		return reject(ErrShape, "batch is 0; a step needs at least 1 example")
	}
	if s.Batch > s.Rows {
		return reject(ErrShape, "batch %d is larger than the training set (%d rows); use a batch of at most %d", s.Batch, s.Rows, s.Rows)
	}
	if s.Batch > lim.MaxTrainBatch {
		return reject(ErrTooLarge, "batch %d exceeds the limit of %d; use a smaller batch", s.Batch, lim.MaxTrainBatch)
	}
	if s.LRShift > MaxLRShift {
		return reject(ErrShape, "learning-rate shift %d is over %d, where every update is zero; use a smaller shift", s.LRShift, MaxLRShift)
	}
	if len(s.Meta) > MaxTrainMetaBytes {
		return reject(ErrTooLarge, "meta is %d bytes, more than the %d-byte limit; shorten the quantisation rule", len(s.Meta), MaxTrainMetaBytes)
	}
	// K of every product: forward in_l, weight gradient B, input gradient out_l (l ≥ 1).
	for l := range nl {
		if k := s.Layers[l]; k > lim.MaxK {
			return reject(ErrTooLarge, "layer %d's forward product has K = %d (its input width), over the limit of %d; use narrower layers", l, k, lim.MaxK)
		}
		if k := s.Layers[l+1]; l >= 1 && k > lim.MaxK {
			return reject(ErrTooLarge, "layer %d's input-gradient product has K = %d (its output width), over the limit of %d; use narrower layers", l, k, lim.MaxK)
		}
	}
	if s.Batch > lim.MaxK {
		return reject(ErrTooLarge, "the weight-gradient products have K = batch = %d, over the limit of %d; use a smaller batch", s.Batch, lim.MaxK)
	}
	if in := s.inputBytes(); in > lim.MaxInputBytes {
		return reject(ErrTooLarge, "the training data hold %d bytes (X, Y, meta), more than the limit of %d; use fewer rows or features", in, lim.MaxInputBytes)
	}
	w, ok := s.work()
	if !ok {
		return reject(ErrTooLarge, "the work of %d steps overflows 64 bits; train for fewer steps or a smaller network", s.Steps)
	}
	if w > lim.MaxWork {
		sw, _ := s.StepWork()
		return reject(ErrTooLarge, "work %d steps × %d MACs = %d MACs exceeds the limit of %d; train for fewer steps, a smaller batch or a smaller network", s.Steps, sw, w, lim.MaxWork)
	}
	if rb := s.TrainResultBytes(lim.CheckpointInterval); rb > lim.MaxResultBytes {
		return reject(ErrTooLarge, "the result (final weights and %d checkpoint roots) takes %d bytes, more than the limit of %d a block may carry; train a smaller network or for fewer steps",
			Checkpoints(s.Steps, lim.CheckpointInterval), rb, lim.MaxResultBytes)
	}
	if mem := s.memoryBytes(lim.Geometry); mem > lim.MaxMemoryBytes {
		return reject(ErrTooLarge, "training needs about %d bytes of memory, more than the limit of %d; use a smaller batch or network", mem, lim.MaxMemoryBytes)
	}
	if n := uint64(s.Rows) * uint64(s.Layers[0]); n != uint64(len(s.X)) {
		return reject(ErrShape, "X: %d rows of %d features need %d bytes, got %d", s.Rows, s.Layers[0], n, len(s.X))
	}
	if uint64(len(s.Y)) != uint64(s.Rows) {
		return reject(ErrShape, "Y: %d rows need %d labels, got %d", s.Rows, s.Rows, len(s.Y))
	}
	for i, v := range s.X {
		if x := int8(v); x < -OperandMax || x > OperandMax {
			return reject(ErrValue, "X: row %d feature %d is %d; values must lie in [%d, %d]", i/int(s.Layers[0]), i%int(s.Layers[0]), x, -OperandMax, OperandMax)
		}
	}
	for i, y := range s.Y {
		if uint32(y) >= s.Layers[nl] {
			return reject(ErrValue, "Y: row %d has label %d, but there are %d classes (labels 0..%d)", i, y, s.Layers[nl], s.Layers[nl]-1)
		}
	}
	return nil
}
