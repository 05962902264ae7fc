package chain_test

import (
	"context"
	"errors"
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

// TestRealEngine seals blocks with the real miner and imports them through
// the real engine: a synthetic seal, then a job seal whose result is checked
// with Freivalds. The difficulty is so low that every tile wins.
func TestRealEngine(t *testing.T) {
	g := chain.DevGenesis()
	g.Config.SyntheticDim, g.Config.InitialDifficulty, g.Config.MinDifficulty = 64, 1000, 1000
	g.Alloc = map[common.Address]*uint256.Int{addr1: qrn(1_000_000)}
	c, err := chain.Open(t.TempDir(), g, consensus.New(compute.Portable()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(genesisTimeMs) + 3600_000) })
	p := c.Params()
	miner := consensus.NewMiner(p, compute.Portable())
	ctx := context.Background()

	job := newTestJob(t, 5, 64, 64, 64)
	fee := new(uint256.Int).Add(consensus.JobBaseFee(p, p.InitialDifficulty, job.work(), job.bytes()), qrn(1))
	jtx := job.tx(t, key1, 0, 10, fee)

	gen := c.Genesis()
	b1, err := c.BuildBlock(gen, miner1, gen.Header.Time+2000, []*types.Tx{jtx}, nil)
	if err != nil || len(b1.Txs) != 1 {
		t.Fatalf("build: %v", err)
	}
	seal, err := miner.MineSynthetic(ctx, gen.Header, b1.Header.Difficulty, miner1, 0)
	if err != nil || seal == nil {
		t.Fatalf("synthetic seal: %v %v", seal, err)
	}
	forged := withHeader(b1, func(h *types.Header) { h.Seal = *seal; h.Seal.TileDigest[0] ^= 1 })
	if err := c.InsertBlock(forged); !errors.Is(err, consensus.ErrBadTileDigest) || chain.RuleCodeOf(err) != chain.ErrBadSeal {
		t.Fatalf("forged digest: %v", err)
	}
	b1.Header.Seal = *seal
	if err := c.InsertBlock(b1); err != nil {
		t.Fatal(err)
	}

	prog, err := vm.Decode(job.program, chain.JobLimits(p))
	if err != nil {
		t.Fatal(err)
	}
	d := c.NextDifficulty(b1.Header)
	product, jseal, err := miner.MineJob(ctx, b1.Header, d, miner2, 7, jtx.Hash(), prog)
	if err != nil || jseal == nil {
		t.Fatalf("job seal: %v %v", jseal, err)
	}
	res := &types.JobResult{JobID: jtx.Hash(), Rows: 64, Cols: 64, Data: vm.EncodeResult(product)}
	b2, err := c.BuildBlock(b1, miner2, b1.Header.Time+2000, nil, []*types.JobResult{res})
	if err != nil || len(b2.Results) != 1 {
		t.Fatalf("build: %v", err)
	}
	b2.Header.Seal = *jseal

	wrong := &types.JobResult{JobID: res.JobID, Rows: 64, Cols: 64, Data: append([]byte(nil), res.Data...)}
	wrong.Data[100] ^= 4
	err = c.InsertBlock(withResults(b2, wrong))
	if !errors.Is(err, consensus.ErrBadResult) || chain.RuleCodeOf(err) != chain.ErrBadResult {
		t.Fatalf("wrong product: %v", err)
	}
	// The job's ticket without its result in the block.
	err = c.InsertBlock(withResults(b2))
	if !errors.Is(err, consensus.ErrWorkNotInBlock) || chain.RuleCodeOf(err) != chain.ErrBadSeal {
		t.Fatalf("job seal without result: %v", err)
	}
	if err := c.InsertBlock(b2); err != nil {
		t.Fatal(err)
	}
	if j, _ := c.State().Job(jtx.Hash()); j.Status != chain.JobDone || j.Miner != miner2 {
		t.Fatalf("job %+v", j)
	}
	if got, err := c.JobResult(jtx.Hash()); err != nil || got.Hash() != res.Hash() {
		t.Fatalf("JobResult: %v", err)
	}
}
