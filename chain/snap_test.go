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

// snapFrom moves the state at src's block pivot into dst the way a snap
// sync does, corrupting the first node sent when tamper is set, and
// interrupting (flush, close, reopen) once halfway when interrupt is set.
func snapFrom(t *testing.T, src, dst *harness, pivot uint64, tamper, interrupt bool) error {
	t.Helper()
	var hs []*types.Header
	for n := uint64(1); n <= pivot; n++ {
		hs = append(hs, src.c.HeaderByNumber(n))
	}
	if err := dst.c.InsertSnapHeaders(hs); err != nil {
		return err
	}
	pb := src.c.GetBlockByNumber(pivot)
	st, err := dst.c.NewSnapState(pb)
	if err != nil {
		return err
	}
	for rounds := 0; ; rounds++ {
		want := st.MissingNodes(4)
		if len(want) == 0 {
			break
		}
		for _, h := range want {
			blob, ok := src.c.StateNode(h)
			if !ok {
				t.Fatalf("source lacks node %s", h)
			}
			if tamper {
				blob = append([]byte(nil), blob...)
				blob[len(blob)-1] ^= 1
				tamper = false
				if err := st.AddNode(blob); err == nil {
					t.Fatal("a tampered node was taken")
				}
				blob, _ = src.c.StateNode(h)
			}
			if err := st.AddNode(blob); err != nil {
				return err
			}
		}
		if interrupt && rounds == 3 {
			interrupt = false
			if err := st.Flush(); err != nil {
				return err
			}
			dst.reopen()
			if st, err = dst.c.NewSnapState(pb); err != nil {
				return err
			}
		}
	}
	if err := st.Flush(); err != nil {
		return err
	}
	for _, id := range st.MissingJobs() {
		tx, _, ok := src.c.GetTransaction(id)
		if !ok {
			t.Fatalf("source lacks job tx %s", id)
		}
		if err := st.AddJobTx(tx); err != nil {
			return err
		}
	}
	for _, root := range st.MissingCheckpoints() {
		cp, ok := src.c.JobCheckpoint(root)
		if !ok {
			t.Fatalf("source lacks checkpoint %s", root)
		}
		if err := st.AddCheckpoint(cp); err != nil {
			return err
		}
	}
	return st.Finish()
}

// A node that snap-syncs the state at a pivot, then imports the blocks
// above it, reaches the source's head with the same state; a tampered node
// is refused; an interrupted sync resumes; state below the pivot is
// reported as never held; a job pending at the pivot is done after it.
func TestSnapSync(t *testing.T) {
	src := newHarness(t)
	job := newTestJob(t, 3, 4, 4, 4)
	jobTx := job.tx(t, key1, 0, 60, qrn(1))
	for i := range 12 {
		var txs []*types.Tx
		switch {
		case i == 2:
			txs = []*types.Tx{jobTx}
		case i > 2:
			txs = []*types.Tx{transfer(t, key1, uint64(i-2), common.Address{byte(i)}, qrn(1))}
		}
		src.mine(miner1, txs)
	}
	const pivot = 8
	dst := newHarness(t)
	if err := snapFrom(t, src, dst, pivot, true, true); err != nil {
		t.Fatal(err)
	}
	if dst.c.CurrentBlock().Number() != pivot || dst.c.State().Root() != src.c.GetBlockByNumber(pivot).Header.StateRoot {
		t.Fatal("snap sync did not end at the pivot")
	}
	for n := uint64(pivot + 1); n <= src.c.CurrentBlock().Number(); n++ {
		dst.insert(src.c.GetBlockByNumber(n))
	}
	b := src.mine(miner2, nil, job.jobResult(jobTx.Hash()))
	dst.insert(b)
	if dst.c.CurrentBlock().Hash() != src.c.CurrentBlock().Hash() || dst.c.State().Root() != src.c.State().Root() {
		t.Fatal("snap-synced node disagrees with the source at the head")
	}
	if !dst.balance(common.Address{5}).Eq(src.balance(common.Address{5})) {
		t.Fatal("balances differ")
	}
	_, err := dst.c.StateAtBlock(src.c.GetBlockByNumber(3).Hash())
	if !errors.Is(err, chain.ErrPrunedState) {
		t.Fatalf("state below the pivot: %v", err)
	}
	if dst.c.GetBlockByNumber(3) != nil || dst.c.HeaderByNumber(3) == nil {
		t.Fatal("below the pivot there are headers only")
	}
	dst.reopen()
	if dst.c.CurrentBlock().Hash() != src.c.CurrentBlock().Hash() || dst.c.SnapPivot() != pivot {
		t.Fatal("reopen lost the snap-synced head")
	}
}

// realJobChain is a chain on the real engine (every tile wins at the
// minimum difficulty) with a synthetic-work block 1 that submits a small
// matmul job and a job-work block 2 whose seal names it and which carries
// its result, mined by the real miner.
func realJobChain(t *testing.T) (g *chain.Genesis, c *chain.Chain, jtx *types.Tx, b1, b2 *types.Block) {
	t.Helper()
	g = chain.DevGenesis()
	g.Config.SyntheticDim, g.Config.InitialDifficulty, g.Config.MinDifficulty = 64, 1000, 1000
	g.Alloc = map[common.Address]*uint256.Int{addr1: qrn(1_000_000)}
	c = openReal(t, g)
	p := c.Params()
	miner := consensus.NewMiner(p, compute.Portable())
	ctx := context.Background()
	job := newTestJob(t, 5, 16, 16, 16)
	fee := new(uint256.Int).Add(consensus.JobBaseFee(p, p.InitialDifficulty, job.work(), job.bytes()), qrn(1))
	jtx = job.tx(t, key1, 0, 10, fee)
	b1 = mineSynthetic(t, c, c.Genesis(), 2000, []*types.Tx{jtx})
	prog, err := vm.Decode(job.program, chain.JobLimits(p))
	if err != nil {
		t.Fatal(err)
	}
	product, jseal, err := miner.MineJob(ctx, b1.Header, c.NextDifficulty(b1.Header), miner2, 7, jtx.Hash(), prog)
	if err != nil || jseal == nil {
		t.Fatalf("job seal: %v", err)
	}
	res := &types.JobResult{JobID: jtx.Hash(), Rows: 16, Cols: 16, Data: vm.EncodeResult(product)}
	b2, err = c.BuildBlock(b1, miner2, b1.Header.Time+2000, nil, []*types.JobResult{res})
	if err != nil || len(b2.Results) != 1 {
		t.Fatalf("build: %v", err)
	}
	b2.Header.Seal = *jseal
	if err := c.InsertBlock(b2); err != nil {
		t.Fatal(err)
	}
	return g, c, jtx, b1, b2
}

func openReal(t *testing.T, g *chain.Genesis) *chain.Chain {
	t.Helper()
	c, err := chain.Open(t.TempDir(), g, consensus.New(compute.Portable()), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(genesisTimeMs) + 3600_000) })
	return c
}

// TestSnapJobSeal: a sampled job-work header (the last of a run always is)
// is stored only once its seal is recomputed from its block and job tx,
// fetched and bound to the header; a forged seal, a body the header does
// not commit to, another job's tx and another block are refused, each with
// the error the p2p layer blames by.
func TestSnapJobSeal(t *testing.T) {
	g, src, jtx, b1, b2 := realJobChain(t)
	if b2.Header.Seal.Work.IsSynthetic() {
		t.Fatal("block 2 should have job work")
	}
	dst := openReal(t, g)
	hs := []*types.Header{b1.Header, b2.Header}

	// Without pieces: nothing stored, the job-work header is wanted.
	var want *chain.SnapSealsWanted
	if err := dst.InsertSnapHeaders(hs); !errors.As(err, &want) || len(want.Headers) != 1 || want.Headers[0].Hash() != b2.Hash() {
		t.Fatalf("no pieces: %v", err)
	}
	if chain.IsRuleError(&chain.SnapSealsWanted{Headers: hs}) || dst.GetHeader(b1.Hash()) != nil {
		t.Fatal("a wanted seal stored headers, or counts as a lie")
	}

	// A forged seal on the same body: its digest does not verify.
	forged := withHeader(b2, func(h *types.Header) { h.Seal.TileDigest[0] ^= 1 })
	pc := &chain.SnapSealPieces{Block: forged, JobTx: jtx}
	err := dst.VerifySnapSeal(forged.Header, pc)
	if !errors.Is(err, consensus.ErrBadTileDigest) || chain.RuleCodeOf(err) != chain.ErrBadSeal || errors.Is(err, chain.ErrSnapTrainStart) {
		t.Fatalf("forged job seal: %v", err)
	}
	err = dst.InsertSnapHeaders([]*types.Header{b1.Header, forged.Header}, pc)
	if !errors.Is(err, consensus.ErrBadTileDigest) || chain.RuleCodeOf(err) != chain.ErrBadSeal {
		t.Fatalf("forged job seal through InsertSnapHeaders: %v", err)
	}
	// A losing ticket: the seal claims more difficulty than its tile wins.
	// (The header rules refuse a changed difficulty first, so this is the
	// engine's check alone.)
	losing := withHeader(b2, func(h *types.Header) { h.Difficulty = 1 << 62 })
	if err := dst.VerifySnapSeal(losing.Header, &chain.SnapSealPieces{Block: losing, JobTx: jtx}); !errors.Is(err, consensus.ErrLosingTicket) {
		t.Fatalf("losing job ticket: %v", err)
	}
	// Pieces that do not bind: a body without the result, another tx,
	// another block.
	noResult := &types.Block{Header: b2.Header, Txs: b2.Txs}
	if err := dst.VerifySnapSeal(b2.Header, &chain.SnapSealPieces{Block: noResult, JobTx: jtx}); chain.RuleCodeOf(err) != chain.ErrBadResultRoot {
		t.Fatalf("body the header does not commit to: %v", err)
	}
	other := transfer(t, key1, 1, addr2, qrn(1))
	if err := dst.VerifySnapSeal(b2.Header, &chain.SnapSealPieces{Block: b2, JobTx: other}); chain.RuleCodeOf(err) != chain.ErrBadJob {
		t.Fatalf("another tx: %v", err)
	}
	if err := dst.VerifySnapSeal(b2.Header, &chain.SnapSealPieces{Block: b1, JobTx: jtx}); !errors.Is(err, chain.ErrSnapNotThisBlock) || chain.IsRuleError(err) {
		t.Fatalf("another block: %v", err)
	}
	if dst.GetHeader(b1.Hash()) != nil {
		t.Fatal("refused runs stored headers")
	}

	// The genuine seal passes, checked first or by InsertSnapHeaders.
	pc = &chain.SnapSealPieces{Block: src.GetBlockByNumber(2), JobTx: jtx}
	if dst.SnapNeedsTrainStart(b2.Header, pc.Block, jtx) {
		t.Fatal("a matmul ticket needs no start state")
	}
	if err := dst.VerifySnapSeal(b2.Header, pc); err != nil {
		t.Fatalf("genuine job seal: %v", err)
	}
	if err := dst.InsertSnapHeaders(hs, &chain.SnapSealPieces{Block: b2, JobTx: jtx}); err != nil {
		t.Fatalf("genuine run: %v", err)
	}
	if dst.GetHeader(b2.Hash()) == nil || dst.TD(b2.Hash()) == nil {
		t.Fatal("genuine run not stored")
	}
}

// TestSnapTrainSeal: sampled training-ticket seals. A ticket in interval 0 of
// a segment from step 0 replays from the job's initial state (bound by its
// id); one in interval 0 of a later segment needs the checkpoint at the
// segment's start from a peer (SnapTrainStart serves it): the right one
// verifies, a wrong or missing one is refused marked ErrSnapTrainStart.
func TestSnapTrainSeal(t *testing.T) {
	g := chain.DevGenesis()
	g.Config.SyntheticDim, g.Config.InitialDifficulty, g.Config.MinDifficulty = 64, 1000, 1000
	g.Alloc = map[common.Address]*uint256.Int{addr1: qrn(1_000_000)}
	src, err := chain.OpenWith(t.TempDir(), g, consensus.New(compute.Portable()), nil, chain.Options{StateRetention: chain.MinStateRetention})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	chain.SetClock(src, func() time.Time { return time.UnixMilli(int64(genesisTimeMs) + 3600_000) })
	be := compute.Portable()
	p := src.Params()
	ctx := context.Background()
	spec := trainSpec(40) // k = 16: intervals end at 16, 32, 40
	jtx, _ := trainTx(t, p, 0, spec, 100)
	id := jtx.Hash()
	b1 := mineSynthetic(t, src, src.Genesis(), 2000, []*types.Tx{jtx})
	// mine seals a segment to step `to` whose first ticket lies in the
	// interval from step `from` (a run to it first, without tickets kept).
	mine := func(parent *types.Block, start *vm.TrainState, to, from uint32) *types.Block {
		t.Helper()
		d := src.NextDifficulty(parent.Header)
		m := consensus.NewMiner(p, be)
		run, seal, err := m.MineTrain(ctx, parent.Header, d, miner2, 1, id, spec, start, to, false)
		if from > start.Step {
			var more *consensus.TrainRun
			if run, _, err = m.MineTrain(ctx, parent.Header, d, miner2, 1, id, spec, start, from, false); err == nil {
				more, seal, err = m.MineTrain(ctx, parent.Header, d, miner2, 2, id, spec, run.States[len(run.States)-1], to, false)
			}
			if err == nil {
				err = run.Extend(more)
			}
		}
		if err != nil || seal == nil || seal.Work.Step < from || seal.Work.Step >= from+p.TrainCheckpointInterval {
			t.Fatalf("mine: %v %+v", err, seal)
		}
		seg, err := run.Segment(p, seal)
		if err != nil {
			t.Fatal(err)
		}
		b, err := src.BuildBlock(parent, miner2, parent.Header.Time+2000, nil, []*types.JobResult{{JobID: id, Train: seg}})
		if err != nil || len(b.Results) != 1 {
			t.Fatalf("build: %v", err)
		}
		b.Header.Seal = *seal
		if err := src.InsertBlock(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	init := vm.InitState(spec, id)
	alt := mine(b1, init, 32, 16)                             // a sibling with its ticket in interval 1: from a sample
	b2 := mine(b1, init, 32, 0)                               // interval 0 of a segment from step 0
	b3 := mine(b2, chainCheckpoint(t, src, id, spec), 40, 32) // interval 0 of a segment from step 32

	dst := openReal(t, g)
	if dst.SnapNeedsTrainStart(b2.Header, b2, jtx) || !dst.SnapNeedsTrainStart(b3.Header, b3, jtx) {
		t.Fatal("only the ticket of the later segment's interval 0 needs a start state")
	}
	if err := dst.VerifySnapSeal(b2.Header, &chain.SnapSealPieces{Block: b2, JobTx: jtx}); err != nil {
		t.Fatalf("ticket from the initial state: %v", err)
	}
	if err := dst.VerifySnapSeal(alt.Header, &chain.SnapSealPieces{Block: alt, JobTx: jtx}); err != nil {
		t.Fatalf("ticket from a sample: %v", err)
	}
	forged := withHeader(alt, func(h *types.Header) { h.Seal.TileDigest[0] ^= 1 })
	if err := dst.VerifySnapSeal(forged.Header, &chain.SnapSealPieces{Block: forged, JobTx: jtx}); chain.RuleCodeOf(err) != chain.ErrBadSeal || errors.Is(err, chain.ErrSnapTrainStart) {
		t.Fatalf("forged training seal: %v", err)
	}
	start, ok := src.SnapTrainStart(3, id)
	if !ok {
		t.Fatal("the source does not serve the start state of block 3's segment")
	}
	if st, err := vm.DecodeTrainState(start, spec); err != nil || st.Step != 32 {
		t.Fatalf("start state %v at step %d", err, st.Step)
	}
	wrong := vm.InitState(spec, id)
	wrong.Step = 32
	wrongEnc, _ := wrong.Encode()
	for name, s := range map[string][]byte{"missing": nil, "wrong": wrongEnc, "wrong step": encodeState(t, vm.InitState(spec, id))} {
		err := dst.VerifySnapSeal(b3.Header, &chain.SnapSealPieces{Block: b3, JobTx: jtx, TrainStart: s})
		if !errors.Is(err, chain.ErrSnapTrainStart) || chain.RuleCodeOf(err) != chain.ErrBadSeal {
			t.Fatalf("%s start state: %v", name, err)
		}
	}
	pc3 := &chain.SnapSealPieces{Block: b3, JobTx: jtx, TrainStart: start}
	if err := dst.VerifySnapSeal(b3.Header, pc3); err != nil {
		t.Fatalf("ticket from the served start state: %v", err)
	}
	hs := []*types.Header{b1.Header, b2.Header, b3.Header}
	if err := dst.InsertSnapHeaders(hs, &chain.SnapSealPieces{Block: b2, JobTx: jtx}, pc3); err != nil {
		t.Fatalf("genuine training run: %v", err)
	}
	if dst.TD(b3.Hash()) == nil {
		t.Fatal("run not stored")
	}

	// Once block 2's state is pruned, the server finds the start state in
	// the end of the job's previous segment.
	for range chain.MinStateRetention + 4 {
		mineSynthetic(t, src, src.CurrentBlock(), 4000, nil)
	}
	src.WaitPruning()
	if _, err := src.StateAtBlock(b2.Hash()); err == nil {
		t.Fatal("block 2's state is still kept: the test proves nothing")
	}
	if again, ok := src.SnapTrainStart(3, id); !ok || string(again) != string(start) {
		t.Fatalf("start state after pruning: found %v, same %v", ok, string(again) == string(start))
	}
	if _, ok := src.SnapTrainStart(2, common.Hash{1}); ok {
		t.Fatal("a start state for a job block 2 does not carry")
	}
}

func encodeState(t *testing.T, st *vm.TrainState) []byte {
	t.Helper()
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
