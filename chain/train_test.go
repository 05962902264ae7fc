package chain_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// trainSpec is an 8-16-3 MLP on random data, batch 16, steps steps: every
// product is one tile and a step takes microseconds.
func trainSpec(steps uint32) *vm.TrainSpec {
	r := rand.New(rand.NewPCG(5, 6))
	const rows, in = 64, 8
	x, y := make([]byte, rows*in), make([]byte, rows)
	for i := range x {
		x[i] = byte(int8(r.IntN(2*vm.OperandMax+1) - vm.OperandMax))
	}
	for i := range y {
		y[i] = byte(r.IntN(3))
	}
	return &vm.TrainSpec{Layers: []uint32{in, 16, 3}, Steps: steps, Batch: 16, LRShift: 6, Rows: rows, X: x, Y: y}
}

func trainTx(t testing.TB, p *types.Params, key1Nonce uint64, spec *vm.TrainSpec, expiry uint64) (*types.Tx, []byte) {
	t.Helper()
	code, err := vm.Encode(vm.NewTrain(*spec))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := vm.Decode(code, chain.JobLimits(p))
	if err != nil {
		t.Fatal(err)
	}
	fee := new(uint256.Int).Add(consensus.JobBaseFee(p, p.InitialDifficulty, prog.Work(), uint64(len(code))), qrn(1))
	return signed(t, key1, &types.Tx{Nonce: key1Nonce, Kind: types.TxJob, Fee: fee, Expiry: expiry, Program: code}), code
}

// chainCheckpoint is training job id's state at its checkpoint on c's head.
func chainCheckpoint(t testing.TB, c *chain.Chain, id common.Hash, spec *vm.TrainSpec) *vm.TrainState {
	t.Helper()
	j, ok := c.State().Job(id)
	if !ok {
		t.Fatalf("job %s unknown", id)
	}
	code, ok := c.JobCheckpoint(j.Checkpoint)
	if !ok {
		t.Fatalf("checkpoint %s not stored", j.Checkpoint)
	}
	st, err := vm.DecodeTrainState(code, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.Root() != j.Checkpoint || st.Step != j.StepsDone {
		t.Fatalf("stored checkpoint at step %d root %s, record says %d %s", st.Step, st.Root(), j.StepsDone, j.Checkpoint)
	}
	return st
}

// TestTrainJobTwoMiners: a training job's segments, mined by two miners on
// the real engine (training tickets as seals, sampled replay), continue
// each other from the checkpoint on chain; the final state is a single
// vm.Train run's; each segment is paid as §12 says, and the escrow ends
// burned or paid to the last wei.
func TestTrainJobTwoMiners(t *testing.T) {
	g := chain.DevGenesis()
	g.Config.SyntheticDim, g.Config.InitialDifficulty, g.Config.MinDifficulty = 64, 1000, 1000
	g.Alloc = map[common.Address]*uint256.Int{addr1: qrn(1_000_000)}
	dir := t.TempDir()
	be := compute.Portable()
	c, err := chain.Open(dir, g, consensus.New(be), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close() }()
	clock := func() time.Time { return time.UnixMilli(int64(genesisTimeMs) + 3600_000) }
	chain.SetClock(c, clock)
	p := c.Params()
	ctx := context.Background()
	spec := trainSpec(40) // k = 16: intervals end at 16, 32, 40
	jtx, _ := trainTx(t, p, 0, spec, 100)
	id := jtx.Hash()

	b1 := mineSynthetic(t, c, c.Genesis(), 2000, []*types.Tx{jtx})
	j, _ := c.State().Job(id)
	if j.Kind != chain.JobTrain || j.StepsDone != 0 || j.Checkpoint != vm.InitState(spec, id).Root() || j.Rows != 0 {
		t.Fatalf("job record %+v", j)
	}

	// mineSegment mines the job from its checkpoint on chain to step `to`
	// with coinbase's own nonce and imports the block its ticket seals.
	mineSegment := func(parent *types.Block, coinbase common.Address, to uint32) (*types.Block, *types.TrainSegment, *uint256.Int) {
		t.Helper()
		d := c.NextDifficulty(parent.Header)
		start := chainCheckpoint(t, c, id, spec)
		run, seal, err := consensus.NewMiner(p, be).MineTrain(ctx, parent.Header, d, coinbase, 42, id, spec, start, to, false)
		if err != nil || seal == nil {
			t.Fatalf("mine: %v %v", seal, err)
		}
		if seal.Work.JobID != id || seal.Work.Step%p.TrainCheckpointInterval == 0 {
			t.Fatalf("seal on %+v", seal.Work)
		}
		seg, err := run.Segment(p, seal)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := c.State().Job(id)
		b, err := c.BuildBlock(parent, coinbase, parent.Header.Time+2000, nil, []*types.JobResult{{JobID: id, Train: seg}})
		if err != nil || len(b.Results) != 1 {
			t.Fatalf("build: %v", err)
		}
		b.Header.Seal = *seal
		// The same block with its ticket moved to a checkpoint's first step,
		// or with a digest its checkpoint does not lead to.
		for _, c2 := range []struct {
			edit func(*types.Header)
			want error
		}{
			{func(h *types.Header) { h.Seal.Work.Step = seg.FromStep }, consensus.ErrTicketAfterCheckpoint},
			{func(h *types.Header) { h.Seal.TileDigest[0] ^= 1 }, consensus.ErrCheckpointMismatch},
		} {
			err := c.InsertBlock(withHeader(b, c2.edit))
			if !errors.Is(err, c2.want) || chain.RuleCodeOf(err) != chain.ErrBadSeal {
				t.Fatalf("tampered training seal: %v, want %v", err, c2.want)
			}
		}
		if err := c.InsertBlock(b); err != nil {
			t.Fatal(err)
		}
		_, fee := consensus.TrainSegmentPay(p, d, before.Work, spec.Steps, seg.FromStep, seg.ToStep, seg.EncodedSize(), before.Left())
		return b, seg, fee
	}
	b2, seg1, fee1 := mineSegment(b1, miner1, 32)
	j, _ = c.State().Job(id)
	if j.Status != chain.JobPending || j.StepsDone != 32 || j.Checkpoint != seg1.Roots[1] || !j.Paid.Eq(fee1) || j.Miner != miner1 || fee1.IsZero() {
		t.Fatalf("after miner 1: %+v (fee %s)", j, fee1)
	}
	if want := new(uint256.Int).Add(p.Subsidy, fee1); !c.State().MinerReward(miner1).Eq(new(uint256.Int).Add(want, p.Subsidy)) {
		t.Fatalf("miner 1 earned %s, want 2 subsidies + %s", c.State().MinerReward(miner1), fee1)
	}

	// Miner 2 has computed nothing: it starts from miner 1's checkpoint.
	_, seg2, fee2 := mineSegment(b2, miner2, 40)
	j, _ = c.State().Job(id)
	if j.Status != chain.JobDone || j.StepsDone != 40 || j.Miner != miner2 || !j.MinerFee.Eq(fee2) {
		t.Fatalf("after miner 2: %+v", j)
	}
	if sum := new(uint256.Int).Add(j.Burned, j.Paid); !sum.Eq(j.Fee) || !j.Paid.Eq(new(uint256.Int).Add(fee1, fee2)) {
		t.Fatalf("fee %s: burned %s + paid %s (segments %s, %s)", j.Fee, j.Burned, j.Paid, fee1, fee2)
	}
	if !c.State().MinerReward(miner2).Eq(new(uint256.Int).Add(p.Subsidy, fee2)) {
		t.Fatalf("miner 2 earned %s", c.State().MinerReward(miner2))
	}
	final, roots, err := vm.Train(vm.PlainProducts{Backend: be}, spec, id, p.TrainCheckpointInterval, nil)
	if err != nil {
		t.Fatal(err)
	}
	chained := append(append([]common.Hash(nil), seg1.Roots...), seg2.Roots...)
	if final.Root() != j.Checkpoint || len(roots) != len(chained) || roots[len(roots)-1] != chained[len(chained)-1] {
		t.Fatalf("final root %s, chain's %s", final.Root(), j.Checkpoint)
	}
	for i := range roots {
		if roots[i] != chained[i] {
			t.Fatalf("checkpoint %d: %s on chain, vm.Train gives %s", i, chained[i], roots[i])
		}
	}
	res, err := c.JobResult(id)
	if err != nil || res.Train == nil || res.Hash() != j.ResultHash {
		t.Fatalf("JobResult: %v", err)
	}
	// Checkpoints survive a restart.
	c.Close()
	if c, err = chain.Open(dir, g, consensus.New(be), nil); err != nil {
		t.Fatal(err)
	}
	chain.SetClock(c, clock)
	if code, ok := c.JobCheckpoint(j.Checkpoint); !ok || string(code) != string(res.Train.EndState) {
		t.Fatal("final state not stored after reopen")
	}
}

// TestTrainSegmentRejected: segments with a wrong end state, a wrong
// fromStep or a wrong number of roots, and a matmul-shaped result for a
// training job, are refused with typed errors; BuildBlock skips them; a
// training job left to expire refunds what its segments did not burn or
// pay.
func TestTrainSegmentRejected(t *testing.T) {
	h := newHarness(t)
	p := h.c.Params()
	spec := trainSpec(64)
	jtx, _ := trainTx(t, p, 0, spec, 4)
	id := jtx.Hash()
	b1 := h.mine(miner1, []*types.Tx{jtx})
	start := chainCheckpoint(t, h.c, id, spec)

	prods := vm.PlainProducts{Backend: compute.Portable()}
	run := &consensus.TrainRun{JobID: id, Spec: spec, States: []*vm.TrainState{start}}
	for s := start; s.Step < 32; {
		var err error
		if s, err = s.Next(spec, id, prods); err != nil {
			t.Fatal(err)
		}
		if s.Step%p.TrainCheckpointInterval == 0 {
			run.States = append(run.States, s)
		}
	}
	seg, err := run.Segment(p, &types.Seal{}) // the harness's blocks keep a zero seal
	if err != nil {
		t.Fatal(err)
	}
	good := &types.JobResult{JobID: id, Train: seg}
	b2 := h.build(b1, miner2, nil, good)

	endAt16, err := run.States[1].Encode()
	if err != nil {
		t.Fatal(err)
	}
	fake := run.States[1].Clone()
	fake.B[0][0] += 99
	fakeEnc, err := fake.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		r    *types.JobResult
		want error
	}{
		"end state of another step":    {&types.JobResult{JobID: id, Train: &types.TrainSegment{FromStep: 0, ToStep: 32, Roots: seg.Roots, EndState: endAt16, Samples: seg.Samples}}, consensus.ErrSegmentEndState},
		"from step not the steps done": {&types.JobResult{JobID: id, Train: &types.TrainSegment{FromStep: 16, ToStep: 32, Roots: seg.Roots[1:], EndState: seg.EndState}}, consensus.ErrSegmentSteps},
		"roots count":                  {&types.JobResult{JobID: id, Train: &types.TrainSegment{FromStep: 0, ToStep: 32, Roots: seg.Roots[1:], EndState: seg.EndState, Samples: seg.Samples}}, consensus.ErrSegmentRoots},
		"a forged root":                {&types.JobResult{JobID: id, Train: &types.TrainSegment{FromStep: 0, ToStep: 32, Roots: []common.Hash{fake.Root(), seg.Roots[1]}, EndState: seg.EndState, Samples: []types.TrainSample{{Interval: 1, State: fakeEnc}}}}, consensus.ErrIntervalRoot},
		"a product for a training job": {&types.JobResult{JobID: id, Rows: 1, Cols: 1, Data: make([]byte, 4)}, consensus.ErrResultShape},
	} {
		err := h.c.InsertBlock(withResults(b2, c.r))
		wantRule(t, err, chain.ErrBadResult)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
		// BuildBlock skips what breaks a rule it can check without the
		// replay (which needs the seal); only the replay sees a forged root.
		wantKept := 0
		if errors.Is(c.want, consensus.ErrIntervalRoot) {
			wantKept = 1
		}
		if b, err := h.c.BuildBlock(b1, miner2, b1.Header.Time+2000, nil, []*types.JobResult{c.r}); err != nil || len(b.Results) != wantKept {
			t.Errorf("%s: BuildBlock kept %d results (%v), want %d", name, len(b.Results), err, wantKept)
		}
	}
	h.insert(b2)
	j, _ := h.c.State().Job(id)
	if j.StepsDone != 32 || j.Checkpoint != seg.Roots[1] {
		t.Fatalf("after the segment: %+v", j)
	}
	if _, ok := h.c.JobCheckpoint(seg.Roots[1]); !ok {
		t.Fatal("segment end state not stored")
	}
	left := j.Left()
	if left.IsZero() || new(uint256.Int).Add(new(uint256.Int).Add(j.Burned, j.Paid), left).Cmp(j.Fee) != 0 {
		t.Fatalf("fee %s, burned %s, paid %s, left %s", j.Fee, j.Burned, j.Paid, left)
	}
	before := h.balance(addr1)
	for range 3 { // expiry 4: block 5 expires it
		h.mine(miner1, nil)
	}
	j, _ = h.c.State().Job(id)
	if j.Status != chain.JobExpired || !h.balance(addr1).Eq(new(uint256.Int).Add(before, left)) {
		t.Fatalf("expired: status %d, owner %s, want %s + %s", j.Status, h.balance(addr1), before, left)
	}
}

// TestTrainJobSegmentCap: a training job whose segment (end state and s + 1
// samples) could not fit a block as one result is refused at submission,
// although its final result alone would fit the result cap.
func TestTrainJobSegmentCap(t *testing.T) {
	h := newHarness(t)
	p := h.c.Params()
	const in = 1400 // P ≈ 1.96 M values: 7.9 MB a state, 6 of them over 16 MiB
	spec := &vm.TrainSpec{Layers: []uint32{in, in, 2}, Steps: 1, Batch: 1, Rows: 1, X: make([]byte, in), Y: []byte{1}}
	if rb := spec.TrainResultBytes(p.TrainCheckpointInterval); rb > p.MaxJobResultBytes {
		t.Fatalf("test job's result (%d bytes) is over the result cap already", rb)
	}
	jtx, _ := trainTx(t, p, 0, spec, 10)
	b := withTxs(h.build(h.c.CurrentBlock(), miner1, nil), jtx)
	err := h.c.InsertBlock(b)
	wantRule(t, err, chain.ErrBadJob)
	if !errors.Is(err, vm.ErrTooLarge) || !strings.Contains(err.Error(), "a segment of this training job") {
		t.Fatalf("segment cap: %v", err)
	}
	if b, err := h.c.BuildBlock(h.c.CurrentBlock(), miner1, h.c.CurrentBlock().Header.Time+2000, []*types.Tx{jtx}, nil); err != nil || len(b.Txs) != 0 {
		t.Fatalf("BuildBlock kept the job (%v)", err)
	}
}
