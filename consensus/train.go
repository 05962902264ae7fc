package consensus

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/vm"
)

// Training-segment and training-ticket rule violations (docs/protocol.md §12).
var (
	ErrSegmentSteps          = errors.New("training segment does not start at the job's steps done or does not end on a checkpoint")
	ErrSegmentRoots          = errors.New("training segment has the wrong number of checkpoint roots")
	ErrSegmentEndState       = errors.New("training segment's end state is not the state at its last root")
	ErrSegmentSample         = errors.New("training segment carries a malformed or unread sample")
	ErrMissingSample         = errors.New("training segment lacks the start state of an interval the check replays")
	ErrIntervalRoot          = errors.New("replaying a training interval does not reach its checkpoint root")
	ErrTicketStep            = errors.New("training ticket names a step outside the block's segment of its job")
	ErrTicketAfterCheckpoint = errors.New("training ticket from the first step after a checkpoint")
	ErrCheckpointMismatch    = errors.New("the ticket's checkpoint does not lead to the sealed tile")
	ErrTicketOp              = errors.New("training ticket names a product the step does not compute")
	ErrSegmentWork           = errors.New("training segment holds more work than its sampled replay can secure")
)

// TrainIntervals is the number of checkpoint intervals of the steps
// (from, to] with interval k: ⌈(to − from)/k⌉ for a from that is a multiple
// of k. Interval i runs steps from + i·k … min(from + (i+1)·k, to) − 1.
func TrainIntervals(from, to, k uint32) uint32 {
	if to <= from || k == 0 {
		return 0
	}
	return uint32(vm.Checkpoints(to-from, k))
}

// intervalEnd is the step at which interval i of a segment from `from` ends.
func intervalEnd(from, to, k, i uint32) uint32 {
	return uint32(min(uint64(from)+uint64(i+1)*uint64(k), uint64(to)))
}

// CheckTrainSegment runs the rules of a segment of a training job with
// stepsDone steps on chain that need no replay: fromStep = stepsDone (a
// multiple of k), toStep a multiple of k or the job's N and above fromStep,
// one root per interval, and an end state that decodes at toStep and hashes
// to the last root, which it returns. BuildBlock applies it to a miner's own
// segments; VerifyTrainSegment runs it first.
func CheckTrainSegment(p *types.Params, spec *vm.TrainSpec, stepsDone uint32, seg *types.TrainSegment) (*vm.TrainState, error) {
	k := p.TrainCheckpointInterval
	switch {
	case seg.FromStep != stepsDone:
		return nil, fmt.Errorf("%w: from step %d, the job has %d steps done", ErrSegmentSteps, seg.FromStep, stepsDone)
	case seg.ToStep <= seg.FromStep || seg.ToStep > spec.Steps:
		return nil, fmt.Errorf("%w: to step %d, want %d < to ≤ %d", ErrSegmentSteps, seg.ToStep, seg.FromStep, spec.Steps)
	case seg.ToStep%k != 0 && seg.ToStep != spec.Steps:
		return nil, fmt.Errorf("%w: to step %d is neither a multiple of %d nor the job's %d steps", ErrSegmentSteps, seg.ToStep, k, spec.Steps)
	}
	if n := TrainIntervals(seg.FromStep, seg.ToStep, k); uint64(len(seg.Roots)) != uint64(n) {
		return nil, fmt.Errorf("%w: %d roots for steps (%d, %d], want %d", ErrSegmentRoots, len(seg.Roots), seg.FromStep, seg.ToStep, n)
	}
	end, err := vm.DecodeTrainState(seg.EndState, spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSegmentEndState, err)
	}
	if end.Step != seg.ToStep {
		return nil, fmt.Errorf("%w: at step %d, segment ends at %d", ErrSegmentEndState, end.Step, seg.ToStep)
	}
	if root := end.Root(); root != seg.Roots[len(seg.Roots)-1] {
		return nil, fmt.Errorf("%w: root %s, last root %s", ErrSegmentEndState, root, seg.Roots[len(seg.Roots)-1])
	}
	return end, nil
}

// CheckTrainSegmentWork bounds what a segment may carry so that forging an
// interval never pays (docs/security.md): a segment of n intervals, of which
// s = trainSamples are replayed, holds at most s·D MACs (D: its block's
// difficulty) unless n ≤ s, when every interval is replayed. A miner that
// forges one interval saves its work I = W_seg/n ≤ s·D/n; hiding it means
// discarding each winning seal whose sample would expose it, an expected
// D·s/(n−s) > s·D/n MACs of lost blocks. So forging loses, however long the
// segment and however large the job.
func CheckTrainSegmentWork(p *types.Params, spec *vm.TrainSpec, d uint64, seg *types.TrainSegment) error {
	n := TrainIntervals(seg.FromStep, seg.ToStep, p.TrainCheckpointInterval)
	if n <= p.TrainSamples || seg.ToStep <= seg.FromStep {
		return nil
	}
	w, ok := segmentWork(spec, seg.ToStep-seg.FromStep)
	capW, capOK := mul64(uint64(p.TrainSamples), d)
	if !ok || (capOK && w > capW) {
		return fmt.Errorf("%w: %d intervals hold %d MACs, more than %d samples × D = %d; carry fewer steps in one block",
			ErrSegmentWork, n, w, p.TrainSamples, capW)
	}
	return nil
}

// MaxTrainSegmentSteps is how many steps from `from` one segment may carry in
// a block of difficulty d (CheckTrainSegmentWork), ending on a checkpoint:
// at least s intervals, more while s·D allows.
func MaxTrainSegmentSteps(p *types.Params, spec *vm.TrainSpec, d uint64, from uint32) uint32 {
	k, s := p.TrainCheckpointInterval, p.TrainSamples
	steps := min(spec.Steps-from, s*k)
	sw, ok := spec.StepWork()
	capW, capOK := mul64(uint64(s), d)
	if ok && sw > 0 && capOK {
		if byWork := capW / sw / uint64(k) * uint64(k); byWork > uint64(steps) {
			steps = uint32(min(byWork, uint64(spec.Steps-from)))
		}
	}
	return steps
}

func segmentWork(spec *vm.TrainSpec, steps uint32) (uint64, bool) {
	sw, ok := spec.StepWork()
	if !ok {
		return 0, false
	}
	return mul64(sw, uint64(steps))
}

func mul64(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// TrainSampleKey keys the choice of a segment's replayed intervals:
// H(rlp(seal) ‖ jobID). The seal, not the block hash, which commits to the
// samples themselves: the miner knows the seal before it completes the body.
func TrainSampleKey(seal *types.Seal, jobID common.Hash) [32]byte {
	enc, err := rlp.EncodeToBytes(seal)
	if err != nil {
		panic("consensus: rlp encode seal: " + err.Error())
	}
	return types.Keccak(enc, jobID[:])
}

// TrainSampleIntervals are the s intervals (all n if n ≤ s) of an n-interval
// segment that a validator replays, ascending: a partial Fisher–Yates
// shuffle of 0…n−1 driven by a Xoshiro stream keyed by TrainSampleKey,
// position i swapped with i + next() mod (n − i) for i < s.
func TrainSampleIntervals(seal *types.Seal, jobID common.Hash, n, s uint32) []uint32 {
	idx := make([]uint32, n)
	for i := range idx {
		idx[i] = uint32(i)
	}
	if s >= n {
		return idx
	}
	x := compute.NewXoshiro(TrainSampleKey(seal, jobID))
	for i := uint32(0); i < s; i++ {
		j := i + uint32(x.Next()%uint64(n-i))
		idx[i], idx[j] = idx[j], idx[i]
	}
	out := idx[:s]
	slices.Sort(out)
	return out
}

// ticketInterval is the interval of seg that seal's ticket lies in, if the
// seal is a ticket of job jobID inside seg.
func ticketInterval(p *types.Params, seal *types.Seal, jobID common.Hash, seg *types.TrainSegment) (uint32, bool) {
	w := seal.Work
	if w.JobID != jobID || w.Step < seg.FromStep || w.Step >= seg.ToStep {
		return 0, false
	}
	return (w.Step - seg.FromStep) / p.TrainCheckpointInterval, true
}

// TrainCheckIntervals are the intervals a validator replays for seg under
// seal: the sampled ones and the interval of the seal's ticket when it is a
// ticket of this job, ascending. A segment carries the start state of each
// (but interval 0's, the job's checkpoint on chain) and no other.
func TrainCheckIntervals(p *types.Params, seal *types.Seal, jobID common.Hash, seg *types.TrainSegment) []uint32 {
	n := TrainIntervals(seg.FromStep, seg.ToStep, p.TrainCheckpointInterval)
	out := TrainSampleIntervals(seal, jobID, n, p.TrainSamples)
	if i, ok := ticketInterval(p, seal, jobID, seg); ok && !slices.Contains(out, i) {
		out = append(out, i)
		slices.Sort(out)
	}
	return out
}

// segmentStarts decodes seg's samples and returns the start state of every
// interval in want: interval 0 is start (the job's checkpoint on chain),
// each other one the sample that carries it. Every sample must be at the
// right step, hash to the root before its interval and be wanted.
func segmentStarts(p *types.Params, spec *vm.TrainSpec, start *vm.TrainState, seg *types.TrainSegment, want []uint32) (map[uint32]*vm.TrainState, error) {
	k := p.TrainCheckpointInterval
	n := uint32(len(seg.Roots))
	starts := map[uint32]*vm.TrainState{0: start}
	for j, smp := range seg.Samples {
		i := smp.Interval
		switch {
		case i == 0 || i >= n:
			return nil, fmt.Errorf("%w: sample %d names interval %d of %d (interval 0 starts at the chain checkpoint)", ErrSegmentSample, j, i, n)
		case j > 0 && seg.Samples[j-1].Interval >= i:
			return nil, fmt.Errorf("%w: sample %d: intervals not ascending", ErrSegmentSample, j)
		case !slices.Contains(want, i):
			return nil, fmt.Errorf("%w: sample %d: interval %d is not replayed under this seal", ErrSegmentSample, j, i)
		}
		st, err := vm.DecodeTrainState(smp.State, spec)
		if err != nil {
			return nil, fmt.Errorf("%w: sample %d: %v", ErrSegmentSample, j, err)
		}
		if at := seg.FromStep + i*k; st.Step != at {
			return nil, fmt.Errorf("%w: sample %d is at step %d, interval %d starts at %d", ErrSegmentSample, j, st.Step, i, at)
		}
		if root := st.Root(); root != seg.Roots[i-1] {
			return nil, fmt.Errorf("%w: sample %d has root %s, the segment's root before interval %d is %s", ErrSegmentSample, j, root, i, seg.Roots[i-1])
		}
		starts[i] = st
	}
	for _, i := range want {
		if starts[i] == nil {
			return nil, fmt.Errorf("%w: interval %d (steps from %d)", ErrMissingSample, i, seg.FromStep+i*k)
		}
	}
	return starts, nil
}

// VerifyTrainSegment is the sampled replay of a training segment (docs/
// protocol.md §12): CheckTrainSegment, then every interval of
// TrainCheckIntervals is replayed with exact products on the engine's
// backend from its start state (start, the job's checkpoint on chain, for
// interval 0; a sample otherwise) and must reach its root. A wrong interval
// among n is caught with probability min(s, n)/n per seal.
func (e *PoUW) VerifyTrainSegment(p *types.Params, h *types.Header, spec *vm.TrainSpec, jobID common.Hash, start *vm.TrainState, seg *types.TrainSegment) error {
	return verifyTrainSegment(e.be, p, h, spec, jobID, start, seg)
}

func verifyTrainSegment(be compute.Backend, p *types.Params, h *types.Header, spec *vm.TrainSpec, jobID common.Hash, start *vm.TrainState, seg *types.TrainSegment) error {
	if _, err := CheckTrainSegment(p, spec, start.Step, seg); err != nil {
		return err
	}
	want := TrainCheckIntervals(p, &h.Seal, jobID, seg)
	starts, err := segmentStarts(p, spec, start, seg, want)
	if err != nil {
		return err
	}
	prods := vm.PlainProducts{Backend: be}
	for _, i := range want {
		to := intervalEnd(seg.FromStep, seg.ToStep, p.TrainCheckpointInterval, i)
		got, err := vm.Replay(prods, spec, jobID, starts[i], to)
		if err != nil {
			return fmt.Errorf("%w: interval %d: %v", ErrIntervalRoot, i, err)
		}
		if root := got.Root(); root != seg.Roots[i] {
			return fmt.Errorf("%w: interval %d (steps %d…%d) gives %s, segment says %s", ErrIntervalRoot, i, starts[i].Step, to, root, seg.Roots[i])
		}
	}
	return nil
}

// captureProducts computes products exactly and keeps the operands of one
// product (step, op): what a training ticket's tile is recomputed from.
type captureProducts struct {
	inner    vm.Products
	step, op uint32
	a, b     compute.I8
	hit      bool
}

func (c *captureProducts) MatMul(step, op uint32, a, b compute.I8) (compute.I32, error) {
	if step == c.step && op == c.op {
		c.a, c.b, c.hit = a, b, true
	}
	return c.inner.MatMul(step, op, a, b)
}

// trainTicketOperands resolves the product a training ticket names: the
// block must carry a segment of the job covering the step, the step must
// not be the first after a checkpoint, and the operands come from replaying
// the ticket's interval from its start state (the chain checkpoint or a
// sample in the body) to the step.
func trainTicketOperands(be compute.Backend, p *types.Params, s *types.Seal, prog *vm.Program, body *types.Body, jobs WorkSource) (a, b compute.I8, err error) {
	w := s.Work
	spec := prog.Train()
	var seg *types.TrainSegment
	if body != nil {
		for _, r := range body.Results {
			if r.JobID == w.JobID && r.Train != nil {
				seg = r.Train
				break
			}
		}
	}
	if seg == nil {
		return a, b, fmt.Errorf("%w: training job %s", ErrWorkNotInBlock, w.JobID)
	}
	k := p.TrainCheckpointInterval
	if w.Step < seg.FromStep || w.Step >= seg.ToStep {
		return a, b, fmt.Errorf("%w: step %d, segment covers steps %d…%d", ErrTicketStep, w.Step, seg.FromStep, seg.ToStep-1)
	}
	if w.Step%k == 0 {
		return a, b, fmt.Errorf("%w: step %d (checkpoint interval %d)", ErrTicketAfterCheckpoint, w.Step, k)
	}
	code, err := jobs.PendingTrainCheckpoint(w.JobID)
	if err != nil {
		return a, b, fmt.Errorf("%w: job %s: %v", ErrUnknownWork, w.JobID, err)
	}
	chk, err := vm.DecodeTrainState(code, spec)
	if err != nil {
		return a, b, fmt.Errorf("job %s: stored checkpoint: %w", w.JobID, err)
	}
	if chk.Step != seg.FromStep {
		return a, b, fmt.Errorf("%w: from step %d, the job has %d steps done", ErrSegmentSteps, seg.FromStep, chk.Step)
	}
	i := (w.Step - seg.FromStep) / k
	var from *vm.TrainState
	if i == 0 {
		from = chk
	} else {
		for _, smp := range seg.Samples {
			if smp.Interval == i {
				if from, err = vm.DecodeTrainState(smp.State, spec); err != nil {
					return a, b, fmt.Errorf("%w: interval %d: %v", ErrSegmentSample, i, err)
				}
				break
			}
		}
		if from == nil {
			return a, b, fmt.Errorf("%w: interval %d holds the ticket's step %d", ErrMissingSample, i, w.Step)
		}
		if from.Step != seg.FromStep+i*k {
			return a, b, fmt.Errorf("%w: sample of interval %d is at step %d", ErrSegmentSample, i, from.Step)
		}
	}
	prods := vm.PlainProducts{Backend: be}
	st, err := vm.Replay(prods, spec, w.JobID, from, w.Step)
	if err != nil {
		return a, b, fmt.Errorf("%w: replay to step %d: %v", ErrCheckpointMismatch, w.Step, err)
	}
	capture := &captureProducts{inner: prods, step: w.Step, op: w.Op}
	if _, err := st.Next(spec, w.JobID, capture); err != nil {
		return a, b, fmt.Errorf("%w: step %d: %v", ErrCheckpointMismatch, w.Step, err)
	}
	if !capture.hit {
		return a, b, fmt.Errorf("%w: op %d of step %d", ErrTicketOp, w.Op, w.Step)
	}
	return capture.a, capture.b, nil
}
