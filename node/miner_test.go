package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// gatedBackend is the portable backend whose first job product (any
// product but the synthetic puzzle's) waits for release, so a test can
// move the head while the miner is inside MineJob.
type gatedBackend struct {
	compute.Backend
	synthDim int
	started  chan struct{} // closed when the first job product begins
	release  chan struct{} // closed by the test to let it finish
	once     sync.Once
	jobRuns  atomic.Int32
}

func (g *gatedBackend) NoisedMatMul(a, b compute.I8, nz *compute.Noise, geo compute.Geometry, visit compute.TileVisitor) (compute.I32, bool) {
	if a.Rows != g.synthDim || b.Cols != g.synthDim {
		g.jobRuns.Add(1)
		g.once.Do(func() { close(g.started) })
		<-g.release
	}
	return g.Backend.NoisedMatMul(a, b, nz, geo, visit)
}

// openTestChain opens a chain of genesis g in a temp dir, with the real
// engine on the portable backend, and a txpool on it; both close with t.
func openTestChain(t *testing.T, g *chain.Genesis) (*chain.Chain, *chain.TxPool) {
	t.Helper()
	c, err := chain.Open(t.TempDir(), g, consensus.New(compute.Portable()), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pool := chain.NewTxPool(c, nil)
	t.Cleanup(pool.Close)
	return c, pool
}

// sealOn seals a child of c's head with a synthetic puzzle, carrying txs.
func sealOn(t *testing.T, c *chain.Chain, txs ...*types.Tx) *types.Block {
	t.Helper()
	return sealWithResults(t, c, txs, nil)
}

// sealWithResults seals a child of c's head with a synthetic puzzle,
// carrying txs and results; it fails if the block left any of them out.
func sealWithResults(t *testing.T, c *chain.Chain, txs []*types.Tx, results []*types.JobResult) *types.Block {
	t.Helper()
	parent := c.CurrentBlock()
	pow := consensus.NewMiner(c.Params(), compute.Portable())
	var seal *types.Seal
	for nonce := uint64(0); seal == nil; nonce++ {
		s, err := pow.MineSynthetic(context.Background(), parent.Header, c.NextDifficulty(parent.Header), testCoinbase, nonce)
		if err != nil {
			t.Fatal(err)
		}
		seal = s
	}
	b, err := c.BuildBlock(parent, testCoinbase, max(uint64(time.Now().UnixMilli()), parent.Header.Time+1, c.MinTime(parent.Header)), txs, results)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Txs) != len(txs) || len(b.Results) != len(results) {
		t.Fatalf("block left out %d of %d txs and %d of %d results", len(txs)-len(b.Txs), len(txs), len(results)-len(b.Results), len(results))
	}
	b.Header.Seal = *seal
	if err := c.InsertBlock(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// A job whose product is interrupted by a new head is finished, not
// restarted, and its result lands in a block on the new head.
func TestMinerFinishesJobAcrossHeads(t *testing.T) {
	g := testGenesis()
	c, pool := openTestChain(t, g)
	p := c.Params()

	// Block 1 submits the job.
	prog := randomMatMul(t, 3, 16, 24, 8)
	code, err := vm.Encode(prog)
	if err != nil {
		t.Fatal(err)
	}
	fee := new(uint256.Int).Mul(consensus.JobBaseFee(p, p.MinDifficulty, prog.Work(), consensus.JobBytes(len(code), prog.Inputs[0].Rows, prog.Inputs[1].Cols)), uint256.NewInt(4))
	fee.Add(fee, p.MinTxFee)
	tx := &types.Tx{ChainID: p.ChainID, Kind: types.TxJob, Value: new(uint256.Int), Fee: fee, Expiry: 1000, Program: code}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	sealOn(t, c, tx)
	id := tx.Hash()

	be := &gatedBackend{Backend: compute.Portable(), synthDim: int(p.SyntheticDim),
		started: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(be.release) }) }
	t.Cleanup(release) // before the miner's Stop, which would wait on the job

	m := NewMiner(c, pool, nil, be, testCoinbase, slog.New(slog.DiscardHandler))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	select {
	case <-be.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the miner never started the job")
	}

	// Another miner's block arrives while the job computes on head 1.
	interrupt := sealOn(t, c)
	release()

	var job *chain.Job
	waitFor(t, 30*time.Second, "the job's result to land", func() bool {
		j, ok := c.State().Job(id)
		job = j
		return ok && j.Status == chain.JobDone
	})
	if job.DoneBlock <= interrupt.Number() || job.Miner != testCoinbase {
		t.Fatalf("result landed in block %d by %s, want after the interrupting block %d by the miner",
			job.DoneBlock, job.Miner, interrupt.Number())
	}
	if n := be.jobRuns.Load(); n != 1 {
		t.Fatalf("job product computed %d times, want once (finished across the head change)", n)
	}
	b := c.GetBlockByNumber(job.DoneBlock)
	if len(b.Results) != 1 || b.Results[0].JobID != id {
		t.Fatalf("block %d results: %+v", job.DoneBlock, b.Results)
	}
	want, err := vm.Run(compute.Portable(), prog)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.JobResult(id); err != nil || string(r.Data) != string(vm.EncodeResult(want)) {
		t.Fatalf("job result: %v", err)
	}
}

// TestMinerRefusesJobsOverCaps: defence in depth. A pending job that the
// caps refuse (here: caps lowered under a job already in the chain, as a
// store holding a bad program would look) is neither chosen nor computed.
func TestMinerRefusesJobsOverCaps(t *testing.T) {
	c, err := chain.Open(t.TempDir(), testGenesis(), consensus.New(compute.Portable()), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := c.Params() // the chain's own: lowered below while nothing else runs
	prog := randomMatMul(t, 4, 8, 16, 8)
	code, err := vm.Encode(prog)
	if err != nil {
		t.Fatal(err)
	}
	fee := new(uint256.Int).Mul(consensus.JobBaseFee(p, p.MinDifficulty, prog.Work(), consensus.JobBytes(len(code), 8, 8)), uint256.NewInt(4))
	fee.Add(fee, p.MinTxFee)
	tx := &types.Tx{ChainID: p.ChainID, Kind: types.TxJob, Value: new(uint256.Int), Fee: fee, Expiry: 100, Program: code}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	head := sealOn(t, c, tx)
	m := NewMiner(c, nil, nil, compute.Portable(), testCoinbase, slog.New(slog.DiscardHandler)) // not started
	d := c.NextDifficulty(head.Header)
	if jobs := m.eligibleJobs(head, d); len(jobs) != 1 {
		t.Fatalf("%d eligible jobs under the real caps, want 1", len(jobs))
	}
	job, _ := c.State().Job(tx.Hash())

	saved := *p
	t.Cleanup(func() { *p = saved })
	for name, lower := range map[string]func(){
		"work":   func() { p.MaxJobWork = prog.Work() - 1 },
		"result": func() { p.MaxJobResultBytes = prog.ResultBytes() - 1 },
		"memory": func() { p.MaxJobMemoryBytes = prog.MemoryBytes(chain.JobLimits(p).Geometry) - 1 },
	} {
		*p = saved
		lower()
		if name != "memory" {
			if jobs := m.eligibleJobs(head, d); len(jobs) != 0 {
				t.Errorf("%s cap: the job is still eligible", name)
			}
		}
		if _, err := m.computeJob(context.Background(), head, d, 1, job); err == nil || !errors.Is(err, vm.ErrTooLarge) {
			t.Errorf("%s cap: computeJob = %v, want a refusal", name, err)
		}
	}
}
