package chain_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

func wantStatus(t *testing.T, p *chain.TxPool, what string, tx *types.Tx, want chain.TxState, reason chain.DropReason) {
	t.Helper()
	st := p.Status(tx.Hash())
	if st.State != want || (reason != "" && (st.Drop == nil || st.Drop.Reason != reason)) {
		t.Fatalf("%s: status %v %+v, want %v %s", what, st.State, st.Drop, want, reason)
	}
}

// A killed node forgets nothing it accepted: the journal brings back the
// pending and queued txs and the drop records; txs mined meanwhile leave
// quietly, txs no longer valid come back as dropped with the reason, and a
// torn tail (a write cut by the kill) loses only itself.
func TestTxPoolJournalSurvivesKill(t *testing.T) {
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "txpool.rlp")
	first := chain.NewTxPool(h.c, nil, chain.WithJournal(path))
	// No Close: a kill -9 leaves the journal as the last write left it.

	a0, a1 := feeTx(t, true, 0, 1), feeTx(t, true, 1, 1)
	b0, b0x := feeTx(t, false, 0, 1), feeTx(t, false, 0, 2) // b0x replaces b0
	b2 := feeTx(t, false, 2, 1)                             // queued: nonce 1 missing
	for _, tx := range []*types.Tx{a0, a1, b0, b2, b0x} {
		if err := first.Add(tx); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	wantStatus(t, first, "replaced before the kill", b0, chain.TxDropped, chain.DropReplaced)

	second := chain.NewTxPool(h.c, nil, chain.WithJournal(path))
	wantStatus(t, second, "pending a0", a0, chain.TxPending, "")
	wantStatus(t, second, "pending a1", a1, chain.TxPending, "")
	wantStatus(t, second, "pending replacement", b0x, chain.TxPending, "")
	wantStatus(t, second, "queued", b2, chain.TxQueued, "")
	wantStatus(t, second, "replaced", b0, chain.TxDropped, chain.DropReplaced)

	// Meanwhile a block carries a0 and b0x, and another tx spends bob's
	// nonce 1 and all but a little of his balance, so b2 can no longer pay.
	left := new(uint256.Int).Sub(h.balance(addr2), new(uint256.Int).Mul(minFee, uint256.NewInt(2))) // after b0x's fee
	left.Sub(left, minFee).Sub(left, uint256.NewInt(2))                                             // bob keeps 1 wei: b2 needs 1 wei + the fee
	drain := signed(t, key2, &types.Tx{Nonce: 1, To: addr1, Value: left, Fee: minFee})
	if b := h.mine(miner1, []*types.Tx{a0, b0x, drain}); len(b.Txs) != 3 {
		t.Fatalf("block carries %d of the 3 txs", len(b.Txs))
	}
	second.Close() // a clean stop rewrites the journal to the live set

	// A torn tail: half an entry after the last whole one.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0xf9, 0x01, 0x00, 0xc0})
	f.Close()

	third := chain.NewTxPool(h.c, nil, chain.WithJournal(path))
	t.Cleanup(third.Close)
	wantStatus(t, third, "still pending", a1, chain.TxPending, "")
	wantStatus(t, third, "mined", a0, chain.TxUnknown, "") // the chain's lookup has it
	if _, lookup, ok := h.c.GetTransaction(a0.Hash()); !ok || lookup == nil {
		t.Fatal("a0 not in the chain's tx lookup")
	}
	wantStatus(t, third, "replaced, remembered across two restarts", b0, chain.TxDropped, chain.DropReplaced)
	wantStatus(t, third, "queued, its sender's balance gone", b2, chain.TxDropped, chain.DropInsufficientFunds)
	if n := third.Len(); n != 1 {
		t.Fatalf("pool holds %d txs after the replay, want 1 (a1)", n)
	}
}
