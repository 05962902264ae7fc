package chain_test

import (
	"testing"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
)

func TestReorgToHeavierBranch(t *testing.T) {
	h := newHarness(t)
	gen := h.c.Genesis()
	heads := make(chan *types.Block, 32)
	defer h.c.SubscribeHead(heads)()

	// Branch A: three blocks; a transfer in A2.
	txA := transfer(t, key1, 0, addr2, qrn(5))
	h.mine(miner1, nil)
	a2 := h.mine(miner1, []*types.Tx{txA})
	a3 := h.mine(miner1, nil)

	// Branch B from genesis, another miner and another tx. Equal weight
	// at B3 keeps the first seen (A3); B4 is heavier.
	txB := transfer(t, key1, 0, miner2, qrn(1))
	var branch []*types.Block
	parent := gen
	for i := range 3 {
		var txs []*types.Tx
		if i == 0 {
			txs = []*types.Tx{txB}
		}
		b := h.build(parent, miner2, txs)
		h.insert(b)
		if h.c.CurrentBlock().Hash() != a3.Hash() {
			t.Fatalf("side block %d took the head", b.Number())
		}
		branch, parent = append(branch, b), b
	}
	b1, b2, b3 := branch[0], branch[1], branch[2]
	b4 := h.build(b3, miner2, nil)
	if !h.c.TD(b3.Hash()).Eq(h.c.TD(a3.Hash())) {
		t.Fatal("test premise: B3 and A3 should weigh the same")
	}
	if h.c.GetBlockByHash(b2.Hash()) == nil || h.c.GetBlockByNumber(2).Hash() != a2.Hash() {
		t.Fatal("side blocks must be stored but not canonical")
	}
	h.insert(b4)
	check := func(stage string) {
		t.Helper()
		if h.c.CurrentBlock().Hash() != b4.Hash() {
			t.Fatalf("%s: head %d %s, want B4", stage, h.c.CurrentBlock().Number(), h.c.CurrentBlock().Hash())
		}
		for i, b := range []*types.Block{gen, b1, b2, b3, b4} {
			if got := h.c.GetBlockByNumber(uint64(i)); got == nil || got.Hash() != b.Hash() {
				t.Fatalf("%s: canonical %d is not branch B", stage, i)
			}
		}
		if h.c.State().Root() != b4.Header.StateRoot {
			t.Fatalf("%s: head state is not B4's", stage)
		}
		if !h.balance(miner1).IsZero() || h.c.State().Account(addr1).Nonce != 1 {
			t.Fatalf("%s: branch A's effects survived: miner1 %s", stage, h.balance(miner1))
		}
		want := new(uint256.Int).Add(qrn(1), new(uint256.Int).Mul(h.c.Params().Subsidy, uint256.NewInt(4)))
		if want.Add(want, minFee); !h.balance(miner2).Eq(want) { // miner2 is also B1's coinbase
			t.Fatalf("%s: miner2 %s, want %s", stage, h.balance(miner2), want)
		}
		if _, _, ok := h.c.GetTransaction(txA.Hash()); ok {
			t.Fatalf("%s: tx of the dropped branch still indexed", stage)
		}
		if _, l, ok := h.c.GetTransaction(txB.Hash()); !ok || l.BlockHash != b1.Hash() {
			t.Fatalf("%s: tx of the new branch not indexed", stage)
		}
	}
	check("after reorg")
	if st, err := h.c.StateAtBlock(a3.Hash()); err != nil || st.Root() != a3.Header.StateRoot {
		t.Fatalf("side state lost: %v", err)
	}
	h.reopen()
	check("after reopen")

	// Head notifications: A1..A3 then B4.
	var got []uint64
	for len(heads) > 0 {
		got = append(got, (<-heads).Number())
	}
	if len(got) != 4 || got[3] != 4 {
		t.Fatalf("head notifications %v", got)
	}
}

// A shorter but heavier branch (faster blocks raise the difficulty) must
// also unindex the old branch's higher numbers.
func TestReorgToShorterHeavierBranch(t *testing.T) {
	h := newHarness(t)
	gen := h.c.Genesis()
	var a []*types.Block
	for range 8 {
		a = append(a, h.mine(miner1, nil))
	}
	parent := gen
	var b *types.Block
	for i := range 6 {
		b = h.buildAt(parent, miner2, gen.Header.Time+uint64(i+1), nil)
		h.insert(b)
		parent = b
	}
	if !h.c.TD(b.Hash()).Gt(h.c.TD(a[7].Hash())) {
		t.Fatalf("test premise: B6 td %s not above A8 td %s", h.c.TD(b.Hash()), h.c.TD(a[7].Hash()))
	}
	if h.c.CurrentBlock().Hash() != b.Hash() {
		t.Fatal("heavier short branch did not take the head")
	}
	for n := uint64(7); n <= 8; n++ {
		if h.c.GetBlockByNumber(n) != nil {
			t.Fatalf("canonical %d survived the reorg", n)
		}
	}
	h.reopen()
	if h.c.CurrentBlock().Hash() != b.Hash() || h.c.GetBlockByNumber(7) != nil || h.c.GetBlockByNumber(6).Hash() != b.Hash() {
		t.Fatal("reopen lost the reorg")
	}
}
