package chain_test

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
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
