package node

import (
	"context"
	"log/slog"
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

// blobsSpec is a small 3-class training job on Gaussian blobs.
func blobsSpec(steps uint32) *vm.TrainSpec {
	rng := rand.New(rand.NewPCG(3, 9))
	const rows, in = 120, 4
	x, y := make([]byte, rows*in), make([]byte, rows)
	for i := range rows {
		c := i % 3
		y[i] = byte(c)
		for j := range in {
			v := float64(40*((c+j)%3)-40) + 12*rng.NormFloat64()
			x[i*in+j] = byte(int8(max(-vm.OperandMax, min(vm.OperandMax, v))))
		}
	}
	return &vm.TrainSpec{Layers: []uint32{in, 8, 3}, Steps: steps, Batch: 16, LRShift: 7, Rows: rows, X: x, Y: y, Meta: []byte(`{"lo":[0],"hi":[1]}`)}
}

// submitTraining seals a block carrying a training job paying fee× its base fee.
func submitTraining(t *testing.T, c *chain.Chain, spec *vm.TrainSpec, times, expiry uint64) common.Hash {
	t.Helper()
	p := c.Params()
	prog := vm.NewTrain(*spec)
	code, err := vm.Encode(prog)
	if err != nil {
		t.Fatal(err)
	}
	fee := new(uint256.Int).Mul(consensus.JobBaseFee(p, p.MinDifficulty, prog.Work(), uint64(len(code))+1<<16), uint256.NewInt(times))
	tx := &types.Tx{ChainID: p.ChainID, Kind: types.TxJob, Value: new(uint256.Int), Fee: fee, Expiry: expiry, Program: code}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	sealOn(t, c, tx)
	return tx.Hash()
}

func waitJobState(t *testing.T, c *chain.Chain, id common.Hash, what string, ok func(*chain.Job) bool) *chain.Job {
	t.Helper()
	var j *chain.Job
	waitFor(t, 2*time.Minute, what, func() bool {
		j, _ = c.State().Job(id)
		return j != nil && ok(j)
	})
	return j
}

// A training job too long for one segment (the miner's cache holds two
// intervals) progresses across blocks; a second miner goes on from the
// chain's checkpoint; the final state is the canonical trajectory's, and
// the RPC serves the progress and the model.
func TestMinerTrainsAcrossBlocksAndMiners(t *testing.T) {
	c, pool := openTestChain(t, testGenesis())
	p := c.Params()
	spec := blobsSpec(7*p.TrainCheckpointInterval + 5)
	id := submitTraining(t, c, spec, 50, 1000)

	// The first miner mines one round by hand: one block.
	m1 := NewMiner(c, pool, nil, compute.Portable(), testCoinbase, slog.New(slog.DiscardHandler))
	m1.trainCacheBytes = 3 * trainStateBytes(spec) // a start state and two intervals
	m1.mineOn(context.Background(), c.CurrentBlock())
	half, _ := c.State().Job(id)
	if half.StepsDone != 2*p.TrainCheckpointInterval || half.Miner != testCoinbase {
		t.Fatalf("first segment: %d steps by %s, want %d by the first miner", half.StepsDone, half.Miner, 2*p.TrainCheckpointInterval)
	}
	second := common.HexToAddress("0x00000000000000000000000000000000c0ffee02")
	m2 := NewMiner(c, pool, nil, compute.Portable(), second, slog.New(slog.DiscardHandler))
	m2.trainCacheBytes = 3 * trainStateBytes(spec)
	if err := m2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m2.Stop() })
	done := waitJobState(t, c, id, "the job to be done", func(j *chain.Job) bool { return j.Status == chain.JobDone })
	m2.Stop()

	// Segments in order, each from the last one's end, the later ones by the second miner.
	var segs []*types.TrainSegment
	for n := c.CurrentBlock().Number(); n > 0; n-- {
		b := c.GetBlockByNumber(n)
		for _, r := range b.Results {
			if r.JobID == id {
				if n := consensus.TrainIntervals(r.Train.FromStep, r.Train.ToStep, p.TrainCheckpointInterval); n > 2 {
					t.Errorf("segment %d-%d has %d intervals; the cache holds 2", r.Train.FromStep, r.Train.ToStep, n)
				}
				segs = append([]*types.TrainSegment{r.Train}, segs...)
				if r.Train.FromStep >= half.StepsDone && b.Header.Coinbase != second {
					t.Errorf("segment %d-%d after the switch mined by %s", r.Train.FromStep, r.Train.ToStep, b.Header.Coinbase)
				}
			}
		}
	}
	if len(segs) < 4 {
		t.Fatalf("%d segments, want at least 4 (two intervals each)", len(segs))
	}
	for i, s := range segs {
		if i > 0 && s.FromStep != segs[i-1].ToStep {
			t.Fatalf("segment %d starts at %d, the one before ended at %d", i, s.FromStep, segs[i-1].ToStep)
		}
	}
	final, roots, err := vm.Train(vm.PlainProducts{Backend: compute.Portable()}, spec, id, p.TrainCheckpointInterval, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done.Checkpoint != final.Root() || done.StepsDone != spec.Steps || segs[len(segs)-1].Roots[len(segs[len(segs)-1].Roots)-1] != roots[len(roots)-1] {
		t.Fatalf("done at %d steps with checkpoint %s, the trajectory ends at %s", done.StepsDone, done.Checkpoint, final.Root())
	}
	if done.Left().Sign() != 0 || done.Paid.Sign() == 0 {
		t.Fatalf("escrow left %s, paid %s: the last segment takes all that is left", done.Left(), done.Paid)
	}

	api := newAPI(&Node{chain: c})
	job, err := api.GetJob(id)
	if err != nil {
		t.Fatal(err)
	}
	if job.Kind != "train" || job.Status != "done" || job.StepsDone != spec.Steps || job.Steps != spec.Steps || job.Checkpoint == nil || *job.Checkpoint != final.Root() {
		t.Fatalf("getJob: %+v", job)
	}
	res, err := api.GetJobResult(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := final.Model(spec)
	tm := res.Train
	if tm == nil || tm.Steps != spec.Steps || tm.Checkpoint != final.Root() || string(tm.Meta) != string(spec.Meta) || len(tm.W) != 2 || len(tm.ActShift) != 1 || tm.ActShift[0] != uint32(want.ActShift[0]) {
		t.Fatalf("getJobResult: %+v", tm)
	}
	for l := range want.W {
		for i, v := range want.W[l] {
			if int8(tm.W[l][i]) != v {
				t.Fatalf("layer %d weight %d: %d, want %d", l, i, int8(tm.W[l][i]), v)
			}
		}
	}
}

// At a difficulty a training step's products reach, a ticket wins: the
// miner finishes the interval and seals with it, its segment first in the
// block, and the chain accepts the block.
func TestMinerSealsWithTrainingTicket(t *testing.T) {
	g := testGenesis()
	// At 20,000 about 1 run in 300 found no ticket in the job's steps (the
	// parent, hence every ticket, changes with the clock); halving D
	// squares those odds.
	g.Config.InitialDifficulty, g.Config.MinDifficulty = 10_000, 10_000
	c, pool := openTestChain(t, g)
	p := c.Params()
	spec := blobsSpec(3 * p.TrainCheckpointInterval)
	id := submitTraining(t, c, spec, 50, 1000)

	m := NewMiner(c, pool, nil, compute.Portable(), testCoinbase, slog.New(slog.DiscardHandler))
	head := c.CurrentBlock()
	m.mineOn(context.Background(), head)
	b := c.CurrentBlock()
	if b.Number() != head.Number()+1 {
		t.Fatal("the round sealed no block")
	}
	w := b.Header.Seal.Work
	if w.JobID != id || w.Step%p.TrainCheckpointInterval == 0 {
		t.Fatalf("sealed with %+v, want a ticket of job %s off a checkpoint step", w, id)
	}
	seg := b.Results[0].Train
	if b.Results[0].JobID != id || seg == nil || w.Step >= seg.ToStep || seg.ToStep%p.TrainCheckpointInterval != 0 {
		t.Fatalf("block results %+v: want the job's segment, ending at the boundary after step %d", b.Results, w.Step)
	}
	if j, _ := c.State().Job(id); j.StepsDone != seg.ToStep || j.MinerFee.Sign() == 0 {
		t.Fatalf("job after the block: %d steps, miner fee %s", j.StepsDone, j.MinerFee)
	}
}

// A training job that expires part-done is served at its last checkpoint:
// pending, quern_getJobResult says how far it is; expired, it answers the
// model of the steps done.
func TestTrainingJobExpiredPartDone(t *testing.T) {
	c, pool := openTestChain(t, testGenesis())
	p := c.Params()
	spec := blobsSpec(5 * p.TrainCheckpointInterval)
	id := submitTraining(t, c, spec, 50, c.CurrentBlock().Number()+3)
	m := NewMiner(c, pool, nil, compute.Portable(), testCoinbase, slog.New(slog.DiscardHandler))
	m.trainCacheBytes = 2 * trainStateBytes(spec) // one interval a segment
	m.mineOn(context.Background(), c.CurrentBlock())
	api := newAPI(&Node{chain: c})
	if _, err := api.GetJobResult(context.Background(), id); err == nil || !strings.Contains(err.Error(), "pending (16 steps done") {
		t.Fatalf("result of a pending job: %v", err)
	}
	for {
		if j, _ := c.State().Job(id); j.Status == chain.JobExpired {
			break
		}
		sealOn(t, c)
	}
	job, err := api.GetJob(id)
	if err != nil || job.Status != "expired" || job.StepsDone != p.TrainCheckpointInterval || job.Steps != spec.Steps {
		t.Fatalf("getJob: %+v, %v", job, err)
	}
	res, err := api.GetJobResult(context.Background(), id)
	if err != nil || res.Train == nil || res.Train.Steps != p.TrainCheckpointInterval || res.Train.TotalSteps != spec.Steps || res.Train.Checkpoint != *job.Checkpoint {
		t.Fatalf("getJobResult: %+v, %v", res, err)
	}
}
