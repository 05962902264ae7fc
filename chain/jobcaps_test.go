package chain_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// Attacks on the job caps (docs/security.md, "Jobs priced and bounded by
// everything they cost"). Each plays the attacker with real components: a
// signed job tx into the txpool, and a block that carries it into import.

// allocatedBy returns the bytes f allocates (TotalAlloc).
func allocatedBy(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// shapeJob is a job tx for an m×k·k×n product with real (zero) data.
func shapeJob(t *testing.T, nonce, expiry uint64, fee *uint256.Int, m, k, n int) *types.Tx {
	t.Helper()
	prog := &vm.Program{Version: vm.Version1, Kind: vm.KindMatMul, Inputs: []vm.Tensor{
		{Rows: uint32(m), Cols: uint32(k), Data: make([]byte, m*k)},
		{Rows: uint32(k), Cols: uint32(n), Data: make([]byte, k*n)},
	}}
	code, err := vm.Encode(prog)
	if err != nil {
		t.Fatal(err)
	}
	return signed(t, key1, &types.Tx{Nonce: nonce, Kind: types.TxJob, Fee: fee, Expiry: expiry, Program: code})
}

// refusedEverywhere asserts the txpool refuses jtx and a block carrying it
// is rejected on import, both as a bad job whose cause is vm.ErrTooLarge
// naming msg, and that neither allocates more than maxAlloc bytes.
func refusedEverywhere(t *testing.T, jtx *types.Tx, msg string, maxAlloc uint64) {
	t.Helper()
	h := newHarness(t)
	pool := newPool(t, h)
	var err error
	if n := allocatedBy(func() { err = pool.Add(jtx) }); n > maxAlloc {
		t.Errorf("txpool allocated %d bytes refusing the job (at most %d)", n, maxAlloc)
	}
	if chain.RuleCodeOf(err) != chain.ErrBadJob || !errors.Is(err, vm.ErrTooLarge) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("txpool: %v, want a bad job (too large) saying %q", err, msg)
	}
	// The attacker mines the block itself: BuildBlock would skip the tx,
	// so the tx is put into an otherwise valid block by hand.
	b := withTxs(h.build(h.c.CurrentBlock(), miner1, nil), jtx)
	if n := allocatedBy(func() { err = h.c.InsertBlock(b) }); n > maxAlloc+uint64(len(jtx.Program)) {
		t.Errorf("import allocated %d bytes rejecting the block", n)
	}
	if chain.RuleCodeOf(err) != chain.ErrBadJob || !errors.Is(err, vm.ErrTooLarge) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("import: %v, want a bad job (too large) saying %q", err, msg)
	}
	if h.c.CurrentBlock().Number() != 0 {
		t.Fatal("the block carrying the job became the head")
	}
}

// TestSkinnyJobRefused: a 3000×1·1×3000 job has a 6 KB program and a 36 MB
// result, over the 32 MiB gossip and sync caps: mined, it would split the
// network. The result cap refuses it on the declared shape; the 36 MB is
// never allocated.
func TestSkinnyJobRefused(t *testing.T) {
	jtx := shapeJob(t, 0, 100, qrn(1), 3000, 1, 3000)
	// MemStats counts every goroutine (badger's too): the bound is loose,
	// and still far below the 36 MB result.
	refusedEverywhere(t, jtx, "result 3000×3000 takes 36000000 bytes", 16<<20)
}

// TestHugeJobRefused: 1e6×1·1×1e6 (a 2 MB program, a 4 TB result) with an
// expiry a million blocks ahead crashed every miner with an out-of-memory in
// compute.NewI32 at HEAD. It is refused on its declared work before anything
// of its size is allocated (the 2 MB program aside).
func TestHugeJobRefused(t *testing.T) {
	jtx := shapeJob(t, 0, 1_000_000, qrn(1), 1_000_000, 1, 1_000_000)
	refusedEverywhere(t, jtx, "MACs exceeds the limit of 68719476736", 32<<20) // the result would be 4 TB
}

// TestJobLifetimeCap: an expiry more than MaxJobLifetime blocks ahead is
// refused (escrow parked for free for ever); exactly the lifetime is fine.
func TestJobLifetimeCap(t *testing.T) {
	h := newHarness(t)
	pool := newPool(t, h)
	life := h.c.Params().MaxJobLifetime
	job := newTestJob(t, 9, 4, 8, 3)
	far := job.tx(t, key1, 0, 1+life+1, qrn(1))
	err := pool.Add(far)
	if chain.RuleCodeOf(err) != chain.ErrBadJob || !strings.Contains(err.Error(), "job lifetime") {
		t.Fatalf("expiry past the lifetime: %v", err)
	}
	b := withTxs(h.build(h.c.CurrentBlock(), miner1, nil), far)
	wantRule(t, h.c.InsertBlock(b), chain.ErrBadJob)
	if err := pool.Add(job.tx(t, key1, 0, 1+life, qrn(1))); err != nil {
		t.Fatalf("expiry at the lifetime: %v", err)
	}
}

// TestJobBaseFeeCoversBytes: the least fee includes jobByteFee per byte of
// program and result, and the whole base is burned when the result lands.
func TestJobBaseFeeCoversBytes(t *testing.T) {
	h := newHarness(t)
	p := h.c.Params()
	job := newTestJob(t, 3, 64, 32, 64) // 4 KiB program, 16 KiB result
	d := h.c.NextDifficulty(h.c.CurrentBlock().Header)
	workOnly := consensus.JobBaseFee(p, d, job.work(), 0)
	base := consensus.JobBaseFee(p, d, job.work(), job.bytes())
	byteFee := new(uint256.Int).Mul(p.JobByteFee, uint256.NewInt(job.bytes()))
	if want := new(uint256.Int).Add(workOnly, byteFee); !base.Eq(want) {
		t.Fatalf("base %s, want work part %s + bytes %s", base, workOnly, byteFee)
	}
	short := job.tx(t, key1, 0, 10, new(uint256.Int).Sub(base, uint256.NewInt(1)))
	b := withTxs(h.build(h.c.CurrentBlock(), miner1, nil), short)
	if err := h.c.InsertBlock(b); chain.RuleCodeOf(err) != chain.ErrFeeTooLow || !strings.Contains(err.Error(), "bytes of program and result") {
		t.Fatalf("a job paying the work part only: %v", err)
	}
	fee := new(uint256.Int).Add(base, qrn(1))
	jtx := job.tx(t, key1, 0, 10, fee)
	b1 := h.mine(miner1, []*types.Tx{jtx})
	b2 := h.mine(miner2, nil, job.jobResult(jtx.Hash()))
	j, _ := h.c.State().Job(jtx.Hash())
	burn := consensus.JobBaseFee(p, b2.Header.Difficulty, job.work(), job.bytes())
	if j.Status != chain.JobDone || !j.Burned.Eq(burn) || !j.MinerFee.Eq(new(uint256.Int).Sub(fee, burn)) {
		t.Fatalf("job after its result (block %d): %+v, want %s burned", b1.Number(), j, burn)
	}
}

// TestBlockOverByteCapRejected: a block whose encoding is over
// MaxBlockBytes is rejected with the typed error before anything in it is
// hashed or run.
func TestBlockOverByteCapRejected(t *testing.T) {
	h := newHarness(t)
	p := h.c.Params()
	job := newTestJob(t, 2, 4, 8, 3)
	fat := &types.JobResult{JobID: types.Keccak([]byte("fat")), Rows: 1, Cols: 1, Data: make([]byte, p.MaxBlockBytes)}
	b := withResults(h.build(h.c.CurrentBlock(), miner1, []*types.Tx{job.tx(t, key1, 0, 10, qrn(1))}), fat)
	if size := b.EncodedSize(); size <= p.MaxBlockBytes {
		t.Fatalf("crafted block is %d bytes, not over the cap", size)
	}
	err := h.c.InsertBlock(b)
	wantRule(t, err, chain.ErrBlockTooLarge)
	if !strings.Contains(err.Error(), "byte cap") {
		t.Fatalf("message: %v", err)
	}
}

// smallBlocksHarness shrinks the byte caps so that a handful of jobs fill a
// block: inputs ≤ 64 KiB, results ≤ 64 KiB, blocks ≤ 256 KiB.
func smallBlocksHarness(t *testing.T) *harness {
	h := &harness{t: t, dir: t.TempDir(), g: testGenesis()}
	c := &h.g.Config
	c.MaxJobInputBytes, c.MaxJobResultBytes, c.MaxBlockBytes = 64<<10, 64<<10, 256<<10
	h.nowMs.Store(genesisTimeMs + 24*3600*1000)
	h.open()
	t.Cleanup(func() { h.c.Close() })
	return h
}

// TestBuildBlockStaysUnderByteCap: given more large job txs, and then more
// large results, than a block can hold, BuildBlock keeps what fits, skips
// the rest, and the block it builds imports; what was skipped goes next.
func TestBuildBlockStaysUnderByteCap(t *testing.T) {
	h := smallBlocksHarness(t)
	p := h.c.Params()
	const jobs = 7 // 60 KB programs and 40 KB results: 4 txs or 6 results a block
	var (
		txs  []*types.Tx
		list []*testJob
	)
	for i := range jobs {
		job := newTestJob(t, uint64(10+i), 100, 300, 100)
		list = append(list, job)
		txs = append(txs, job.tx(t, key1, uint64(i), 50, qrn(1)))
	}
	checkBlock := func(b *types.Block) {
		t.Helper()
		enc, err := rlp.EncodeToBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(enc)) > p.MaxBlockBytes || b.EncodedSize() != uint64(len(enc)) {
			t.Fatalf("block %d is %d bytes (EncodedSize %d), cap %d", b.Number(), len(enc), b.EncodedSize(), p.MaxBlockBytes)
		}
	}
	var mined []*types.Tx
	for len(mined) < jobs {
		b, err := h.c.BuildBlock(h.c.CurrentBlock(), miner1, h.c.CurrentBlock().Header.Time+2000, txs[len(mined):], nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Txs) == 0 || (len(mined) == 0 && len(b.Txs) == jobs) {
			t.Fatalf("block kept %d of %d job txs", len(b.Txs), jobs-len(mined))
		}
		checkBlock(b)
		h.insert(b)
		mined = append(mined, b.Txs...)
	}
	var results []*types.JobResult
	for i, job := range list {
		results = append(results, job.jobResult(mined[i].Hash()))
	}
	b, err := h.c.BuildBlock(h.c.CurrentBlock(), miner2, h.c.CurrentBlock().Header.Time+2000, nil, results)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Results) == 0 || len(b.Results) == jobs {
		t.Fatalf("block kept %d of %d results", len(b.Results), jobs)
	}
	checkBlock(b)
	h.insert(b)
	rest := h.build(h.c.CurrentBlock(), miner2, nil, results[len(b.Results):]...)
	checkBlock(rest)
	h.insert(rest)
}

// TestDevCapsAdmit2048: the devnet's caps admit a 2048×2048·2048×2048 job
// (8 MiB of inputs, a 16 MiB result: exactly the result cap, 2³³ MACs) and
// refuse one a row longer.
func TestDevCapsAdmit2048(t *testing.T) {
	p := chain.DevGenesis().Config
	lim := chain.JobLimits(&p)
	square := func(m int) *vm.Program {
		return &vm.Program{Version: vm.Version1, Kind: vm.KindMatMul, Inputs: []vm.Tensor{
			{Rows: uint32(m), Cols: 2048, Data: make([]byte, m*2048)},
			{Rows: 2048, Cols: 2048, Data: make([]byte, 2048*2048)},
		}}
	}
	ok := square(2048)
	if err := ok.Check(lim); err != nil {
		t.Fatalf("2048³ job refused: %v", err)
	}
	if mem := ok.MemoryBytes(lim.Geometry); mem > p.MaxJobMemoryBytes {
		t.Fatalf("estimate %d over the cap", mem)
	} else {
		t.Logf("2048³: memory estimate %d MiB of %d", mem>>20, p.MaxJobMemoryBytes>>20)
	}
	if err := square(2049).Check(lim); !errors.Is(err, vm.ErrTooLarge) || !strings.Contains(err.Error(), "result 2049×2048") {
		t.Fatalf("2049×2048 result: %v", err)
	}
}
