package chain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
)

func newPool(t *testing.T, h *harness) *chain.TxPool {
	p := chain.NewTxPool(h.c, nil)
	t.Cleanup(p.Close)
	return p
}

func feeTx(t testing.TB, key1Key bool, nonce uint64, fee uint64) *types.Tx {
	key, to := key1, addr2
	if !key1Key {
		key, to = key2, addr1
	}
	return signed(t, key, &types.Tx{Nonce: nonce, To: to, Value: uint256.NewInt(1), Fee: new(uint256.Int).Mul(minFee, uint256.NewInt(fee))})
}

func TestTxPoolOrdering(t *testing.T) {
	h := newHarness(t)
	p := newPool(t, h)
	// alice: fees 1, 5, 9 (nonce order must hold); bob: fees 3, 2.
	a0, a1, a2 := feeTx(t, true, 0, 1), feeTx(t, true, 1, 5), feeTx(t, true, 2, 9)
	b0, b1 := feeTx(t, false, 0, 3), feeTx(t, false, 1, 2)
	gap := feeTx(t, false, 3, 100) // bob's nonce 2 missing: not executable
	for _, tx := range []*types.Tx{a2, b1, a1, gap, b0, a0} {
		if err := p.Add(tx); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	want := []*types.Tx{b0, b1, a0, a1, a2}
	got := p.Pending()
	if len(got) != len(want) {
		t.Fatalf("pending %d txs, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Hash() != want[i].Hash() {
			t.Fatalf("pending[%d] is nonce %d, want %d", i, got[i].Nonce, want[i].Nonce)
		}
	}
	if p.Len() != 6 || p.Get(gap.Hash()) == nil {
		t.Fatal("gapped tx not kept")
	}
	if p.PendingNonce(addr1) != 3 || p.PendingNonce(addr2) != 2 {
		t.Fatalf("pending nonces %d %d", p.PendingNonce(addr1), p.PendingNonce(addr2))
	}

	// Mining the pending set drops it from the pool; the gapped tx stays.
	h.mine(miner1, p.Pending())
	deadline := time.Now().Add(5 * time.Second)
	for p.Len() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p.Len() != 1 || p.Get(gap.Hash()) == nil || len(p.Pending()) != 0 {
		t.Fatalf("after mining: %d pooled, %d pending", p.Len(), len(p.Pending()))
	}
	if err := p.Add(a0); !errors.Is(err, chain.ErrNonceTooLow) {
		t.Fatalf("mined tx re-added: %v", err)
	}
}

func TestTxPoolReplacement(t *testing.T) {
	h := newHarness(t)
	p := newPool(t, h)
	first := feeTx(t, true, 0, 2)
	if err := p.Add(first); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(first); !errors.Is(err, chain.ErrKnownTx) {
		t.Fatalf("known: %v", err)
	}
	same := signed(t, key1, &types.Tx{Nonce: 0, To: addr1, Value: uint256.NewInt(9), Fee: first.Fee})
	if err := p.Add(same); !errors.Is(err, chain.ErrReplaceUnderpriced) {
		t.Fatalf("same-fee replacement: %v", err)
	}
	if err := p.Add(feeTx(t, true, 0, 1)); !errors.Is(err, chain.ErrReplaceUnderpriced) {
		t.Fatalf("cheaper replacement: %v", err)
	}
	better := feeTx(t, true, 0, 3)
	if err := p.Add(better); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 1 || p.Get(first.Hash()) != nil || p.Pending()[0].Hash() != better.Hash() {
		t.Fatal("replacement did not replace")
	}
}

func TestTxPoolRejects(t *testing.T) {
	h := newHarness(t)
	p := newPool(t, h)
	params := h.c.Params()

	badSig := feeTx(t, true, 0, 1)
	badSig.Sig = badSig.Sig[:10]
	if err := p.Add(badSig); chain.RuleCodeOf(err) != chain.ErrBadSignature {
		t.Errorf("bad signature: %v", err)
	}
	wrongChain := signed(t, key1, &types.Tx{ChainID: 1, To: addr2, Fee: minFee})
	if err := p.Add(wrongChain); chain.RuleCodeOf(err) != chain.ErrBadChainID {
		t.Errorf("chain id: %v", err)
	}
	low := signed(t, key1, &types.Tx{To: addr2, Fee: uint256.NewInt(1)})
	if err := p.Add(low); !errors.Is(err, chain.ErrUnderpriced) {
		t.Errorf("below the floor: %v", err)
	}
	if err := p.Add(transfer(t, key2, 0, addr1, qrn(10))); !errors.Is(err, chain.ErrInsufficientFunds) {
		t.Errorf("insufficient funds: %v", err)
	}
	if err := p.Add(feeTx(t, true, 1000, 1)); !errors.Is(err, chain.ErrNonceTooHigh) {
		t.Errorf("far nonce: %v", err)
	}
	kind := signed(t, key1, &types.Tx{Kind: 7, Fee: minFee})
	if err := p.Add(kind); chain.RuleCodeOf(err) != chain.ErrBadTxKind {
		t.Errorf("kind: %v", err)
	}

	job := newTestJob(t, 4, 8, 8, 8)
	base := consensus.JobBaseFee(params, h.c.NextDifficulty(h.c.CurrentBlock().Header), job.work())
	if err := p.Add(job.tx(t, key1, 0, 9, new(uint256.Int).SubUint64(base, 1))); !errors.Is(err, chain.ErrUnderpriced) {
		t.Errorf("job below base fee: %v", err)
	}
	garbage := signed(t, key1, &types.Tx{Kind: types.TxJob, Fee: qrn(1), Expiry: 9, Program: []byte{0xde, 0xad}})
	err := p.Add(garbage)
	var re *chain.RuleError
	if !errors.As(err, &re) || re.Code != chain.ErrBadJob || re.Err == nil {
		t.Errorf("garbage program: %v", err)
	}
	if err := p.Add(job.tx(t, key1, 0, 1, qrn(1))); chain.RuleCodeOf(err) != chain.ErrBadJob {
		t.Errorf("stale expiry: %v", err)
	}
	if p.Len() != 0 {
		t.Fatalf("%d rejected txs pooled", p.Len())
	}
	// A good job goes in, is mined from Pending, and its result lands.
	jtx := job.tx(t, key1, 0, 9, qrn(1))
	if err := p.Add(jtx); err != nil {
		t.Fatal(err)
	}
	h.mine(miner1, p.Pending())
	h.mine(miner1, nil, job.jobResult(jtx.Hash()))
	if j, _ := h.c.State().Job(jtx.Hash()); j.Status != chain.JobDone {
		t.Fatal("pooled job not done")
	}
}

func TestTxPoolPendingRespectsBalance(t *testing.T) {
	h := newHarness(t)
	p := newPool(t, h)
	// bob has 10 QRN: 6 + 6 cannot both go.
	t0 := transfer(t, key2, 0, addr1, qrn(6))
	t1 := transfer(t, key2, 1, addr1, qrn(6))
	for _, tx := range []*types.Tx{t0, t1} {
		if err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Pending(); len(got) != 1 || got[0].Hash() != t0.Hash() {
		t.Fatalf("pending %d txs, want only the first", len(got))
	}
}

// waitPool polls until cond holds for the pool (head events are async).
func waitPool(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// After a reorg the txs of the abandoned blocks return to the pool, except
// those the new branch carries.
func TestTxPoolReorg(t *testing.T) {
	h := newHarness(t)
	p := newPool(t, h)
	gen := h.c.Genesis()
	a0, a1 := transfer(t, key1, 0, addr2, qrn(1)), transfer(t, key1, 1, addr2, qrn(1))
	b0 := transfer(t, key2, 0, addr1, qrn(1))
	for _, tx := range []*types.Tx{a0, a1, b0} {
		if err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	h.mine(miner1, p.Pending()) // A1 carries all three
	waitPool(t, "A1's txs to leave the pool", func() bool { return p.Len() == 0 })

	// Branch B carries only bob's tx and outweighs A at B2.
	b1 := h.build(gen, miner2, []*types.Tx{b0})
	h.insert(b1)
	b2 := h.build(b1, miner2, nil)
	h.insert(b2)
	if h.c.CurrentBlock().Hash() != b2.Hash() {
		t.Fatal("test premise: B2 should be the head")
	}
	waitPool(t, "alice's txs to come back", func() bool { return p.Len() == 2 })
	if p.Get(a0.Hash()) == nil || p.Get(a1.Hash()) == nil || p.Get(b0.Hash()) != nil {
		t.Fatal("pool after reorg: want alice's two txs, not bob's")
	}
	if got := p.Pending(); len(got) != 2 || got[0].Hash() != a0.Hash() || got[1].Hash() != a1.Hash() {
		t.Fatalf("pending after reorg: %d txs", len(got))
	}
	h.mine(miner2, p.Pending()) // and they are minable on the new branch
	waitPool(t, "the re-mined txs to leave the pool", func() bool { return p.Len() == 0 })
}
