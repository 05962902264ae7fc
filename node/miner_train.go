package node

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// defaultTrainCacheBytes bounds the training states a miner keeps between
// blocks, all jobs together: a run stops growing at the bound (it still
// keeps its first interval) and is carried as it is.
const defaultTrainCacheBytes = 512 << 20

// trainLogEvery is the rhythm of a training job's progress line.
const trainLogEvery = 5 * time.Second

// trainJob is a miner's progress on one training job. The trajectory is
// canonical (docs/protocol.md §12), so its checkpoint states stay valid
// across heads and miners: run holds them, keyed by step, from the job's
// checkpoint on chain (at the head the miner works on) to as far as it has
// computed.
type trainJob struct {
	spec       *vm.TrainSpec
	progLen    int
	stateBytes uint64              // memory of one state, for the cache bound
	run        *consensus.TrainRun // nil until the chain's checkpoint is loaded
	logged     time.Time
	logStep    uint32
}

// trainStateBytes is the memory of one training state of spec: its int32 values
// and their RLP framing (a bound on Encode's length too).
func trainStateBytes(spec *vm.TrainSpec) uint64 {
	var n uint64
	for l := range len(spec.Layers) - 1 {
		n += 4*(uint64(spec.Layers[l])+1)*uint64(spec.Layers[l+1]) + 2*9
	}
	return n + 16
}

// TrainSegmentBytes bounds the encoding of a segment of steps (from, to]:
// its end state, the start states of up to trainSamples + 1 replayed
// intervals (the sampled ones and a ticket's) and a root per interval. The
// miner prices a segment before computing it with it, and `quern job
// submit train` the fee a job needs.
func TrainSegmentBytes(p *types.Params, spec *vm.TrainSpec, from, to uint32) uint64 {
	n := uint64(consensus.TrainIntervals(from, to, p.TrainCheckpointInterval))
	states := min(n, uint64(p.TrainSamples)+1) + 1
	return states*trainStateBytes(spec) + 33*n + 64
}

// segmentPays reports whether a segment of steps (from, to] of j taking
// bytes pays per §12: its base fee is within the escrow left and the
// including miner earns a fee beyond it.
func segmentPays(p *types.Params, d uint64, j *chain.Job, spec *vm.TrainSpec, from, to uint32, bytes uint64) bool {
	left := j.Left()
	burn, fee := consensus.TrainSegmentPay(p, d, j.Work, spec.Steps, from, to, bytes, left)
	return burn.Lt(left) && fee.Sign() > 0
}

// trainJobs are the training jobs pending at parent whose segment can land
// in its child, with their job records at parent.
func (m *Miner) trainJobs(parent *types.Block) []*chain.Job {
	st, err := m.chain.StateAtBlock(parent.Hash())
	if err != nil {
		m.log.Warn("no state for the head; not training", "head", parent.Number(), "err", err)
		return nil
	}
	var out []*chain.Job
	for _, j := range st.PendingJobs() {
		if j.Kind == chain.JobTrain && j.Expiry >= parent.Number()+1 && j.Fee != nil {
			out = append(out, j)
		}
	}
	return out
}

// trainJobFor returns the miner's record of j, decoding its program the
// first time (m.mu held).
func (m *Miner) trainJobFor(j *chain.Job) (*trainJob, error) {
	if tj, ok := m.train[j.ID]; ok {
		return tj, nil
	}
	prog, progLen, err := m.chain.DecodedJobProgram(j.ID)
	if err != nil {
		return nil, err
	}
	spec := prog.Train()
	if spec == nil {
		return nil, fmt.Errorf("program kind %d is not training", prog.Kind)
	}
	tj := &trainJob{spec: spec, progLen: progLen, stateBytes: trainStateBytes(spec)}
	m.train[j.ID] = tj
	return tj, nil
}

// syncRun makes tj's run start at j's checkpoint on chain: the part of the
// run the chain already holds is dropped; a run the chain has passed, or
// that does not reach back to its checkpoint (a reorg), is replaced by the
// chain's checkpoint state (m.mu held).
func (m *Miner) syncRun(j *chain.Job, tj *trainJob) error {
	if r := tj.run; r != nil && r.From() <= j.StepsDone && j.StepsDone <= r.To() {
		for i, s := range r.States {
			if s.Step == j.StepsDone {
				if s.Root() != j.Checkpoint {
					break // cannot happen on a canonical trajectory: start again from the chain
				}
				r.States = r.States[i:]
				return nil
			}
		}
	}
	enc, ok := m.chain.JobCheckpoint(j.Checkpoint)
	if !ok {
		return fmt.Errorf("checkpoint %s (step %d) not in the store", j.Checkpoint, j.StepsDone)
	}
	st, err := vm.DecodeTrainState(enc, tj.spec)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", j.Checkpoint, err)
	}
	tj.run = &consensus.TrainRun{JobID: j.ID, Spec: tj.spec, States: []*vm.TrainState{st}}
	return nil
}

// trainCacheUsed is the memory of every cached training state (m.mu held).
func (m *Miner) trainCacheUsed() uint64 {
	var n uint64
	for _, tj := range m.train {
		if tj.run != nil {
			n += uint64(len(tj.run.States)) * tj.stateBytes
		}
	}
	return n
}

// mineTraining runs the pending training jobs' steps on parent, every
// product a ticket, one checkpoint interval at a time: from the further of
// the chain's checkpoint and the miner's own progress, up to the job's last
// step or the cache bound. It returns the seal of the first winning ticket
// (the block must then carry the job's segment: blockResults puts it
// first). An interval runs to its end on the job context, so a new head
// loses no steps, only the interval's tickets.
func (m *Miner) mineTraining(ctx context.Context, parent *types.Block, d uint64, nonce *uint64) *types.Seal {
	p := m.chain.Params()
	for _, j := range m.trainJobs(parent) {
		if ctx.Err() != nil {
			return nil
		}
		m.mu.Lock()
		_, bad := m.failed[j.ID]
		var (
			tj  *trainJob
			err error
		)
		if !bad {
			if tj, err = m.trainJobFor(j); err == nil {
				err = m.syncRun(j, tj)
			}
		}
		m.mu.Unlock()
		if bad {
			continue
		}
		if err != nil {
			m.log.Warn("training job cannot be run; skipping it while it is pending", "job", j.ID, "err", err)
			m.mu.Lock()
			m.failed[j.ID] = err
			m.mu.Unlock()
			continue
		}
		spec := tj.spec
		if tj.run.To() == spec.Steps {
			continue // all computed: the next block this miner seals carries it
		}
		if !segmentPays(p, d, j, spec, j.StepsDone, spec.Steps, TrainSegmentBytes(p, spec, j.StepsDone, spec.Steps)) {
			m.log.Debug("training job's fee does not pay for its steps at this difficulty", "job", j.ID, "left", j.Left().Dec(), "difficulty", d)
			continue
		}
		seal, err := m.runTraining(ctx, parent, d, *nonce, j, tj)
		*nonce++
		if err != nil {
			if m.jobCtx.Err() != nil {
				return nil
			}
			m.log.Warn("training job failed; skipping it while it is pending", "job", j.ID, "err", err)
			m.mu.Lock()
			m.failed[j.ID] = err
			m.mu.Unlock()
			continue
		}
		if ctx.Err() != nil {
			return nil // a new head: the steps are kept, their tickets stale
		}
		if seal != nil {
			return seal
		}
	}
	return nil
}

// runTraining extends tj's run interval by interval until the job's last step,
// the cache bound, a winning ticket (returned) or a new head.
func (m *Miner) runTraining(ctx context.Context, parent *types.Block, d, nonce uint64, j *chain.Job, tj *trainJob) (*types.Seal, error) {
	k, spec := m.chain.Params().TrainCheckpointInterval, tj.spec
	stepWork, _ := spec.StepWork() // Check bounded the job's work
	for ctx.Err() == nil {
		from := tj.run.To()
		if from == spec.Steps {
			return nil, nil
		}
		m.mu.Lock()
		full := len(tj.run.States) > 1 && m.trainCacheUsed()+tj.stateBytes > m.trainCacheBytes
		m.mu.Unlock()
		if full {
			m.log.Debug("training cache full; carrying the steps computed so far", "job", j.ID, "step", from, "bytes", m.trainCacheBytes)
			return nil, nil
		}
		if from-tj.run.From() >= consensus.MaxTrainSegmentSteps(m.chain.Params(), spec, d, tj.run.From()) {
			// As much as one block may carry (the forging bound): seal it
			// first, train on from the chain's new checkpoint.
			return nil, nil
		}
		to := min(from+k, spec.Steps)
		run, seal, err := m.pow.MineTrain(m.jobCtx, parent.Header, d, m.coinbase, nonce, j.ID, spec, tj.run.States[len(tj.run.States)-1], to, false)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		err = tj.run.Extend(run)
		m.mu.Unlock()
		if err != nil {
			return nil, err
		}
		m.addWork(stepWork*uint64(to-from), 0, true)
		m.logTraining(j.ID, tj)
		if seal != nil && ctx.Err() == nil {
			m.log.Info("training ticket won", "job", j.ID, "step", seal.Work.Step, "op", seal.Work.Op, "segment", fmt.Sprintf("%d-%d", j.StepsDone, to))
			return seal, nil
		}
	}
	return nil, nil
}

// logTraining writes a job's progress line at a steady rhythm, and always
// when it reaches the job's last step.
func (m *Miner) logTraining(id common.Hash, tj *trainJob) {
	step, n := tj.run.To(), tj.spec.Steps
	if step == tj.logStep || (step != n && time.Since(tj.logged) < trainLogEvery) {
		return
	}
	tj.logged, tj.logStep = time.Now(), step
	m.log.Info(fmt.Sprintf("training job %s step %d/%d", id.Hex(), step, n), "from", tj.run.From())
}

// trainSegments are the segments to carry in parent's child sealed with
// seal: the sealing job's first (its ticket needs it), then every other
// training job this miner computed steps of, each built for the seal
// (its samples depend on it) and only where it pays.
func (m *Miner) trainSegments(parent *types.Block, d uint64, seal *types.Seal) []*types.JobResult {
	p := m.chain.Params()
	var first, rest []*types.JobResult
	for _, j := range m.trainJobs(parent) {
		m.mu.Lock()
		tj, ok := m.train[j.ID]
		var err error
		if ok && tj.run != nil {
			err = m.syncRun(j, tj)
		}
		m.mu.Unlock()
		if !ok || tj.run == nil || err != nil || len(tj.run.States) < 2 {
			continue
		}
		run := tj.run.Prefix(tj.run.From() + consensus.MaxTrainSegmentSteps(p, tj.spec, d, tj.run.From()))
		seg, err := run.Segment(p, seal)
		if err != nil {
			m.log.Warn("training segment cannot be built", "job", j.ID, "err", err)
			continue
		}
		won := seal.Work.JobID == j.ID
		if !won && !segmentPays(p, d, j, tj.spec, seg.FromStep, seg.ToStep, seg.EncodedSize()) {
			continue
		}
		r := &types.JobResult{JobID: j.ID, Train: seg}
		if won {
			first = append(first, r)
		} else {
			rest = append(rest, r)
		}
	}
	return append(first, rest...)
}

// pruneTraining forgets the training jobs that are no longer pending
// (m.mu held).
func (m *Miner) pruneTraining(live map[common.Hash]bool) {
	for id := range m.train {
		if !live[id] {
			delete(m.train, id)
		}
	}
}
