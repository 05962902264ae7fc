package consensus

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/vm"
)

// Miner searches noised products for a winning tile. It is stateless apart
// from its parameters and backend, so one Miner serves every head.
type Miner struct {
	p  *types.Params
	be compute.Backend
}

// NewMiner returns a miner for the chain parameters p computing on be.
func NewMiner(p *types.Params, be compute.Backend) *Miner { return &Miner{p: p, be: be} }

// search runs one noised product and returns its first winning tile's seal.
// With stopAtWin the product is abandoned at the first win and never
// denoised (a synthetic puzzle has no other use: the returned C is empty);
// otherwise it runs to the end so the exact product comes back. ctx cancellation stops it between tiles.
func (m *Miner) search(ctx context.Context, parent *types.Header, d uint64, coinbase common.Address, nonce uint64, work types.Work, a, b compute.I8, stopAtWin bool) (compute.I32, *types.Seal, error) {
	seed := Seed(parent.Hash(), coinbase, nonce)
	ref := work.Ref()
	nz := Noise(m.p, seed, work, a.Rows, a.Cols, b.Cols)
	tile := int(m.p.TileSize)

	var (
		mu  sync.Mutex
		win *types.Seal
	)
	visit := func(ti, tj int, digest [32]byte) bool {
		if ctx.Err() != nil {
			return false
		}
		t := Ticket(seed, ref, uint32(ti), uint32(tj), digest)
		if !Wins(t, TileWork(a.Rows, a.Cols, b.Cols, tile, uint32(ti), uint32(tj)), d) {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		if win == nil {
			win = &types.Seal{Nonce: nonce, Work: work, TileI: uint32(ti), TileJ: uint32(tj), TileDigest: digest}
		}
		return !stopAtWin
	}
	var (
		c        compute.I32
		complete bool
	)
	if stopAtWin {
		// Nobody wants the product: the transcript alone, no denoising, no C.
		complete = compute.NoisedTranscript(m.be, a, b, nz, Geometry(m.p, work), visit)
	} else {
		c, complete = m.be.NoisedMatMul(a, b, nz, Geometry(m.p, work), visit)
	}
	if err := ctx.Err(); err != nil {
		return compute.I32{}, nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if !complete && !stopAtWin {
		return compute.I32{}, nil, context.Canceled
	}
	return c, win, nil
}

// MineSynthetic tries the synthetic puzzle of one nonce and returns a seal if
// one of its tiles won, nil otherwise.
func (m *Miner) MineSynthetic(ctx context.Context, parent *types.Header, d uint64, coinbase common.Address, nonce uint64) (*types.Seal, error) {
	a, b := SyntheticOperands(Seed(parent.Hash(), coinbase, nonce), int(m.p.SyntheticDim))
	_, seal, err := m.search(ctx, parent, d, coinbase, nonce, types.Work{}, a, b, true)
	return seal, err
}

// MineJob computes job prog's product noised for (parent, coinbase, nonce)
// and returns the exact product and, if one of its tiles won, the seal. A
// block sealed by a job tile must carry that job's result.
func (m *Miner) MineJob(ctx context.Context, parent *types.Header, d uint64, coinbase common.Address, nonce uint64, jobID common.Hash, prog *vm.Program) (compute.I32, *types.Seal, error) {
	a, b, err := prog.MatMulOperands()
	if err != nil {
		return compute.I32{}, nil, err
	}
	return m.search(ctx, parent, d, coinbase, nonce, types.Work{JobID: jobID}, a, b, false)
}

// TrainRun is a stretch of a training job's canonical trajectory as a miner
// computed it: the state at its first step (a multiple of the checkpoint
// interval k) and after every checkpoint boundary up to its last. The
// trajectory does not depend on the seed, so a run stays valid across new
// heads and nonces; only its tickets are tied to them.
type TrainRun struct {
	JobID  common.Hash
	Spec   *vm.TrainSpec
	States []*vm.TrainState // States[0] at From(), then one per boundary
}

// From is the step the run starts at; To the step it reached.
func (r *TrainRun) From() uint32 { return r.States[0].Step }
func (r *TrainRun) To() uint32   { return r.States[len(r.States)-1].Step }

// Extend appends next, a run that starts where r ends.
func (r *TrainRun) Extend(next *TrainRun) error {
	if next.From() != r.To() || next.JobID != r.JobID {
		return fmt.Errorf("train run: cannot append steps from %d of job %s to steps up to %d of job %s", next.From(), next.JobID, r.To(), r.JobID)
	}
	r.States = append(r.States, next.States[1:]...)
	return nil
}

// Prefix is the run cut at step `to` (a checkpoint boundary it holds, or its
// end): the part of it one block may carry (MaxTrainSegmentSteps).
func (r *TrainRun) Prefix(to uint32) *TrainRun {
	for i, st := range r.States {
		if st.Step >= to && i > 0 {
			return &TrainRun{JobID: r.JobID, Spec: r.Spec, States: r.States[:i+1]}
		}
	}
	return r
}

// Segment is the block body's segment for the run's steps (From, To]: the
// roots, the end state, and the samples a validator reads under seal (the
// header's final seal, whatever work it names: TrainCheckIntervals).
func (r *TrainRun) Segment(p *types.Params, seal *types.Seal) (*types.TrainSegment, error) {
	if len(r.States) < 2 {
		return nil, errors.New("train run: no steps")
	}
	seg := &types.TrainSegment{FromStep: r.From(), ToStep: r.To()}
	for _, s := range r.States[1:] {
		seg.Roots = append(seg.Roots, s.Root())
	}
	end, err := r.States[len(r.States)-1].Encode()
	if err != nil {
		return nil, err
	}
	seg.EndState = end
	for _, i := range TrainCheckIntervals(p, seal, r.JobID, seg) {
		if i == 0 {
			continue
		}
		enc, err := r.States[i].Encode()
		if err != nil {
			return nil, err
		}
		seg.Samples = append(seg.Samples, types.TrainSample{Interval: i, State: enc})
	}
	return seg, nil
}

// noisedProducts computes a training step's products as tickets: each is a
// job product with Work{jobID, op, step}, noised and denoised exactly as
// MineJob does; the first winning tile is kept. Steps right after a
// checkpoint (step mod k = 0) cannot carry a seal and are computed plainly.
type noisedProducts struct {
	m        *Miner
	ctx      context.Context
	parent   *types.Header
	d        uint64
	coinbase common.Address
	nonce    uint64
	jobID    common.Hash
	win      *types.Seal
}

func (np *noisedProducts) MatMul(step, op uint32, a, b compute.I8) (compute.I32, error) {
	if err := np.ctx.Err(); err != nil {
		return compute.I32{}, err
	}
	if step%np.m.p.TrainCheckpointInterval == 0 {
		return np.m.be.MatMul(a, b), nil
	}
	c, seal, err := np.m.search(np.ctx, np.parent, np.d, np.coinbase, np.nonce, types.Work{JobID: np.jobID, Op: op, Step: step}, a, b, false)
	if err != nil {
		return compute.I32{}, err
	}
	if np.win == nil && seal != nil {
		np.win = seal
	}
	return c, nil
}

// MineTrain runs training job jobID from start (its checkpoint on chain or
// the end of the miner's own run, at a multiple of k) up to step to (a
// multiple of k or the job's last step) with every product noised for
// (parent, coinbase, nonce), and returns the exact trajectory and the first
// winning seal, if any. With stopAtWin it stops at the first checkpoint
// boundary after a win. A block sealed by a training ticket must carry the
// run's Segment (from the job's checkpoint on chain) for that seal.
func (m *Miner) MineTrain(ctx context.Context, parent *types.Header, d uint64, coinbase common.Address, nonce uint64,
	jobID common.Hash, spec *vm.TrainSpec, start *vm.TrainState, to uint32, stopAtWin bool,
) (*TrainRun, *types.Seal, error) {
	k := m.p.TrainCheckpointInterval
	if start.Step%k != 0 || to <= start.Step || to > spec.Steps || (to%k != 0 && to != spec.Steps) {
		return nil, nil, fmt.Errorf("train job %s: steps %d to %d do not run between checkpoints (interval %d, %d steps)", jobID, start.Step, to, k, spec.Steps)
	}
	np := &noisedProducts{m: m, ctx: ctx, parent: parent, d: d, coinbase: coinbase, nonce: nonce, jobID: jobID}
	run := &TrainRun{JobID: jobID, Spec: spec, States: []*vm.TrainState{start}}
	for s := start; s.Step < to; {
		var err error
		if s, err = s.Next(spec, jobID, np); err != nil {
			return nil, nil, err
		}
		if s.Step%k == 0 || s.Step == to {
			run.States = append(run.States, s)
			if stopAtWin && np.win != nil {
				break
			}
		}
	}
	return run, np.win, nil
}
