package chain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// With a retention of 4, only the states of the last 4 blocks behind the
// head (and the head's) stay; a fork within that window still reorganises,
// a deeper one is refused with ErrPrunedState, and a reopen goes on. After
// every step, each kept state's whole trie is readable, and the store holds
// no node that neither a kept state nor the canonical block just below the
// window (whose replaced nodes the next head releases) reads.
func TestStatePruning(t *testing.T) {
	const retention = 4
	h := newHarness(t)
	chain.SetStateRetention(h.c, retention)
	wantKeys := func(stage string, want int) {
		t.Helper()
		h.c.WaitPruning() // the pruner runs beside the imports
		states, _ := chain.CountKeys(h.c)
		if states != want {
			t.Fatalf("%s: %d state records, want %d", stage, states, want)
		}
		head := h.c.CurrentBlock().Number()
		reachable := make(map[common.Hash]bool)
		kept := 0
		for n := head - retention; n <= head; n++ {
			if err := chain.ReachableNodes(stateOf(t, h, n), reachable); err != nil {
				t.Fatalf("%s: kept state %d: %v", stage, n, err)
			}
			kept++
		}
		loose := make(map[common.Hash]bool)
		for k := range reachable {
			loose[k] = true
		}
		if st, err := h.c.StateAtBlock(h.c.GetBlockByNumber(head - retention - 1).Hash()); err == nil {
			_ = chain.ReachableNodes(st, loose)
		}
		stored := chain.StoredNodes(h.c)
		for k := range reachable {
			if !stored[k] {
				t.Fatalf("%s: node %s of a kept state missing", stage, k)
			}
		}
		for k := range loose {
			if !stored[k] && chain.NodeCached(h.c, k) {
				t.Fatalf("%s: pruned node %s still in the node cache", stage, k)
			}
		}
		extra := 0
		for k := range stored {
			if !loose[k] {
				extra++
			}
		}
		// Side blocks in the window add their own nodes: at most a few per block.
		if extra > 64 {
			t.Fatalf("%s: %d stored nodes no kept canonical state reads (of %d)", stage, extra, len(stored))
		}
	}

	a := []*types.Block{h.c.Genesis()}
	for i := range 2 {
		a = append(a, h.mine(miner1, []*types.Tx{transfer(t, key1, uint64(i), addr2, qrn(1))}))
	}
	deep := h.build(a[1], miner2, nil) // its parent's state will be pruned
	side := h.build(a[1], miner2, nil)
	side = withHeader(side, func(hd *types.Header) { hd.Seal.Nonce = 1 })
	h.insert(side) // a side block at 2, pruned with height 2
	for len(a) <= 10 {
		a = append(a, h.mine(miner1, nil))
	}
	// Head 10: heights 6..10 keep their snapshots.
	wantKeys("head 10", retention+1)
	if _, err := h.c.StateAtBlock(a[5].Hash()); !errors.Is(err, chain.ErrPrunedState) {
		t.Fatalf("state of pruned block 5: %v", err)
	}
	if _, err := h.c.StateAtBlock(side.Hash()); !errors.Is(err, chain.ErrPrunedState) {
		t.Fatalf("state of pruned side block: %v", err)
	}
	if st, err := h.c.StateAtBlock(a[6].Hash()); err != nil || st.Root() != a[6].Header.StateRoot {
		t.Fatalf("state of kept block 6: %v", err)
	}

	// A fork from block 1 is 9 deep: refused, not blamed on the block.
	err := h.c.InsertBlock(deep)
	if !errors.Is(err, chain.ErrPrunedState) || chain.IsRuleError(err) {
		t.Fatalf("deep fork: %v", err)
	}
	if h.c.HasBlock(deep.Hash()) {
		t.Fatal("deep fork stored")
	}

	// A fork from block 7 (3 deep) takes over at 11.
	parent := a[7]
	var c []*types.Block
	for range 4 {
		b := h.build(parent, miner2, nil)
		h.insert(b)
		c, parent = append(c, b), b
	}
	head := c[3]
	if h.c.CurrentBlock().Hash() != head.Hash() || h.c.State().Root() != head.Header.StateRoot {
		t.Fatal("reorg within the window did not happen")
	}
	// Head 11: heights 7..11 of both branches: A7..A10 and C8..C11.
	wantKeys("after reorg", 8)
	if _, err := h.c.StateAtBlock(a[9].Hash()); err != nil {
		t.Fatalf("state of the old branch within the window: %v", err)
	}

	h.reopen()
	chain.SetStateRetention(h.c, retention)
	if h.c.CurrentBlock().Hash() != head.Hash() || h.c.State().Root() != head.Header.StateRoot {
		t.Fatal("reopen lost the head")
	}
	h.mine(miner2, []*types.Tx{transfer(t, key1, 2, addr2, qrn(1))})
	// Head 12: heights 8..12: A8..A10, C8..C12.
	wantKeys("after reopen", 8)
	if err := h.c.InsertBlock(h.build(c[0], miner1, nil)); err != nil { // fork at 8 from head 12: kept
		t.Fatalf("fork at the edge of the window: %v", err)
	}
}

// A datadir of an older schema holds a chain from before the training-job
// hard fork (other job records, another genesis): it is refused, with what
// to do, and nothing is written to it.
func TestOldSchemaRefused(t *testing.T) {
	for _, v := range []uint64{1, 2} {
		h := newHarness(t)
		h.mine(miner1, nil)
		if err := chain.SetSchemaVersion(h.c, v); err != nil {
			t.Fatal(err)
		}
		if err := h.c.Close(); err != nil {
			t.Fatal(err)
		}
		h.c = nil
		c, err := chain.Open(h.dir, h.g, testEngine{}, nil)
		if err == nil {
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "delete the datadir") {
			t.Fatalf("schema %d: %v", v, err)
		}
	}
}

func stateOf(t *testing.T, h *harness, n uint64) *chain.State {
	t.Helper()
	b := h.c.GetBlockByNumber(n)
	if b == nil {
		t.Fatalf("no canonical block %d", n)
	}
	st, err := h.c.StateAtBlock(b.Hash())
	if err != nil {
		t.Fatalf("state of canonical block %d: %v", n, err)
	}
	return st
}

// With resultRetention 4, a result's data is pruned 4 blocks after it
// landed: the job record keeps its result hash, the block keeps the result
// without data, and JobResult says who still has it. An archive node keeps it.
func TestResultRetention(t *testing.T) {
	for _, archive := range []bool{false, true} {
		h := newHarness(t)
		h.g.Config.ResultRetention = 4
		h.c.Close()
		h.dir = t.TempDir()
		c, err := chain.OpenWith(h.dir, h.g, testEngine{}, nil, chain.Options{Archive: archive})
		if err != nil {
			t.Fatal(err)
		}
		h.c = c
		chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(h.nowMs.Load())) })
		job := newTestJob(t, 11, 3, 3, 3)
		jobTx := job.tx(t, key1, 0, 50, qrn(1))
		h.mine(miner1, []*types.Tx{jobTx})
		done := h.mine(miner1, nil, job.jobResult(jobTx.Hash()))
		if _, err := h.c.JobResult(jobTx.Hash()); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			h.mine(miner1, nil)
		}
		h.c.WaitPruning()
		r, err := h.c.JobResult(jobTx.Hash())
		if archive {
			if err != nil || len(r.Data) == 0 {
				t.Fatalf("archive lost the result: %v", err)
			}
			continue
		}
		if !errors.Is(err, chain.ErrPrunedResult) || !strings.Contains(err.Error(), "archive") {
			t.Fatalf("pruned result: %v", err)
		}
		j, _ := h.c.State().Job(jobTx.Hash())
		b := h.c.GetBlockByHash(done.Hash())
		if j.ResultHash != done.Results[0].Hash() || b == nil || len(b.Results) != 1 || len(b.Results[0].Data) != 0 || !h.c.ResultsPruned(done.Hash()) {
			t.Fatalf("the commitment or the stripped result is gone: %v %v %v", j.ResultHash == done.Results[0].Hash(), b != nil && len(b.Results) == 1 && len(b.Results[0].Data) == 0, h.c.ResultsPruned(done.Hash()))
		}
	}
}

// The pruner runs beside the imports (their transactions touch the same
// reference counts, and badger's conflict detection reruns the later one):
// 48 blocks imported back to back, each moving balances to new accounts so
// every block replaces nodes, leave every kept state whole and nothing else
// stored once the pruning asked for is done.
func TestPrunerBesideImports(t *testing.T) {
	const retention = 4
	h := newHarness(t)
	chain.SetStateRetention(h.c, retention)
	nodesOf := make(map[uint64]map[common.Hash]bool) // each head's trie, walked while it is the head
	for i := range 48 {
		to := common.BytesToAddress([]byte{0xAA, byte(i)})
		b := h.mine(miner1, []*types.Tx{transfer(t, key1, uint64(i), to, qrn(1))})
		nodesOf[b.Number()] = make(map[common.Hash]bool)
		if err := chain.ReachableNodes(stateOf(t, h, b.Number()), nodesOf[b.Number()]); err != nil {
			t.Fatalf("head %d: %v", b.Number(), err)
		}
	}
	h.c.WaitPruning()
	head := h.c.CurrentBlock().Number()
	stored := chain.StoredNodes(h.c)
	for n := head - retention; n <= head; n++ {
		if err := chain.ReachableNodes(stateOf(t, h, n), make(map[common.Hash]bool)); err != nil {
			t.Fatalf("kept state %d: %v", n, err)
		}
		for k := range nodesOf[n] {
			if !stored[k] {
				t.Fatalf("node %s of kept state %d missing", k, n)
			}
		}
	}
	// Stored: the kept states' nodes and those the block just below the
	// window holds alone (released when the next head moves the window).
	for k := range stored {
		held := false
		for n := head - retention - 1; n <= head && !held; n++ {
			held = nodesOf[n][k]
		}
		if !held {
			t.Fatalf("node %s stored, read by no kept state (of %d stored)", k, len(stored))
		}
	}
	if states, _ := chain.CountKeys(h.c); states != retention+1 {
		t.Fatalf("%d state records, want %d", states, retention+1)
	}
}

// An import's transaction and the pruner's that touch the same count: the
// one committing second conflicts and is run again on the count stored then.
func TestUpdateRerunsConflicts(t *testing.T) {
	h := newHarness(t)
	runs, seen, err := chain.UpdateAfterConflict(h.c)
	if err != nil || runs != 2 || seen != 6 {
		t.Fatalf("runs %d, count seen last %d, err %v; want 2 runs, 6 (1, then 5 more), no error", runs, seen, err)
	}
}

// Close stops the pruner and may be called again (a deferred Close after an
// explicit one) without a panic.
func TestCloseTwice(t *testing.T) {
	h := newHarness(t)
	h.mine(miner1, nil)
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = h.c.Close() // badger reports it is closed already; no panic
}

// A twin side block (the same parent, txs and coinbase, another seal)
// stores exactly the nodes its canonical twin stored: the node filter must
// say they may be stored, so the twin's import reads their counts and adds
// one (a blind "new node" record would reset them to one, and the twin's
// release would then delete nodes the canonical states still read). Once
// built in the running chain, and once built from the store after a reopen.
func TestTwinSideBlock(t *testing.T) {
	const retention = 4
	for _, reopen := range []bool{false, true} {
		h := newHarness(t)
		chain.SetStateRetention(h.c, retention)
		for i := range 3 {
			h.mine(miner1, []*types.Tx{transfer(t, key1, uint64(i), common.BytesToAddress([]byte{0xCD, byte(i)}), qrn(1))})
		}
		b := h.build(h.c.CurrentBlock(), miner1, []*types.Tx{transfer(t, key1, 3, addr2, qrn(1))})
		h.insert(b)
		if reopen {
			h.reopen()
			chain.SetStateRetention(h.c, retention)
		}
		waitFilter(t, h.c, 1)
		twin := withHeader(b, func(hd *types.Header) { hd.Seal.Nonce++ })
		h.insert(twin)
		if twin.Header.StateRoot != b.Header.StateRoot || h.c.CurrentBlock().Hash() != b.Hash() {
			t.Fatal("the twin is not a side block with its twin's state")
		}
		born, err := chain.BornNodes(h.c, b.Number(), b.Hash())
		if err != nil || len(born) == 0 {
			t.Fatalf("born nodes of block %d: %d (%v)", b.Number(), len(born), err)
		}
		for _, n := range born {
			if c, err := chain.NodeCount(h.c, n); err != nil || c != 2 {
				t.Fatalf("reopen %v: node %s born by both twins has count %d (%v), want 2", reopen, n, c, err)
			}
		}
		for i := range retention + 3 {
			h.mine(miner1, []*types.Tx{transfer(t, key1, uint64(4+i), addr2, qrn(1))})
		}
		h.c.WaitPruning()
		head := h.c.CurrentBlock().Number()
		reachable := make(map[common.Hash]bool)
		for n := head - retention; n <= head; n++ {
			if err := chain.ReachableNodes(stateOf(t, h, n), reachable); err != nil {
				t.Fatalf("reopen %v: kept state %d: %v", reopen, n, err)
			}
		}
		stored := chain.StoredNodes(h.c)
		for k := range reachable {
			if !stored[k] {
				t.Fatalf("reopen %v: node %s of a kept state missing", reopen, k)
			}
		}
	}
}

// waitFilter waits until c has built at least builds node filters.
func waitFilter(t *testing.T, c *chain.Chain, builds int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); chain.NodeFilterBuilds(c) < builds; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d node filters built, want %d", chain.NodeFilterBuilds(c), builds)
		}
	}
}

// A full node filter is built again from the store, and the new one still
// sees every stored node: a twin side block imported after the rebuild
// counts its twin's nodes twice.
func TestNodeFilterRebuild(t *testing.T) {
	h := newHarness(t)
	waitFilter(t, h.c, 1)
	chain.FillNodeFilter(h.c)
	b := h.mine(miner1, []*types.Tx{transfer(t, key1, 0, addr2, qrn(1))}) // its nodes ask for a rebuild
	waitFilter(t, h.c, 2)
	twin := withHeader(b, func(hd *types.Header) { hd.Seal.Nonce++ })
	h.insert(twin)
	born, err := chain.BornNodes(h.c, b.Number(), b.Hash())
	if err != nil || len(born) == 0 {
		t.Fatalf("born nodes: %d (%v)", len(born), err)
	}
	for _, n := range born {
		if c, err := chain.NodeCount(h.c, n); err != nil || c != 2 {
			t.Fatalf("node %s born by both twins has count %d (%v) after a rebuild, want 2", n, c, err)
		}
	}
}

// An archive node keeps every count exact though it releases nothing, so
// its datadir reopened in full mode prunes to exactly the kept states:
// nothing a kept state reads is missing and nothing else stays stored.
func TestArchiveReopenedInFull(t *testing.T) {
	const retention = 4
	h := newHarness(t)
	h.c.Close()
	c, err := chain.OpenWith(h.dir, h.g, testEngine{}, nil, chain.Options{Archive: true})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(h.nowMs.Load())) })
	for i := range 12 {
		h.mine(miner1, []*types.Tx{transfer(t, key1, uint64(i), common.BytesToAddress([]byte{0xAB, byte(i)}), qrn(1))})
	}
	h.c.WaitPruning()
	if states, _ := chain.CountKeys(h.c); states != 13 {
		t.Fatalf("archive keeps %d states, want all 13", states)
	}
	h.reopen() // full mode
	chain.SetStateRetention(h.c, retention)
	h.mine(miner1, []*types.Tx{transfer(t, key1, 12, addr2, qrn(1))})
	h.c.WaitPruning()
	head := h.c.CurrentBlock().Number()
	reachable := make(map[common.Hash]bool)
	for n := head - retention; n <= head; n++ {
		if err := chain.ReachableNodes(stateOf(t, h, n), reachable); err != nil {
			t.Fatalf("kept state %d: %v", n, err)
		}
	}
	stored := chain.StoredNodes(h.c)
	for k := range reachable {
		if !stored[k] {
			t.Fatalf("node %s of a kept state missing", k)
		}
	}
	// The state just below the window: what it alone reads, its successor
	// replaced, and that is released at the next head.
	below := chain.StateByRoot(h.c, h.c.GetBlockByNumber(head-retention-1).Header.StateRoot)
	if err := chain.ReachableNodes(below, reachable); err != nil {
		t.Fatalf("state %d, below the window: %v", head-retention-1, err)
	}
	for k := range stored {
		if !reachable[k] {
			t.Fatalf("node %s stored though no kept state reads it (%d stored, %d reachable)", k, len(stored), len(reachable))
		}
	}
}
