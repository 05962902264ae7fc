package chain_test

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
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
	base := consensus.JobBaseFee(params, h.c.NextDifficulty(h.c.CurrentBlock().Header), job.work(), job.bytes())
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
	// bob has 10 QRN: 6 + 6 cannot both go, so the second is refused.
	t0 := transfer(t, key2, 0, addr1, qrn(6))
	t1 := transfer(t, key2, 1, addr1, qrn(6))
	if err := p.Add(t0); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(t1); !errors.Is(err, chain.ErrInsufficientFunds) {
		t.Fatalf("overdraft: %v", err)
	}
	if got := p.Pending(); len(got) != 1 || got[0].Hash() != t0.Hash() {
		t.Fatalf("pending %d txs, want only the first", len(got))
	}
	// A replacement that spends more demotes what it leaves unaffordable.
	small := transfer(t, key2, 1, addr1, qrn(1))
	if err := p.Add(small); err != nil {
		t.Fatal(err)
	}
	big := signed(t, key2, &types.Tx{Nonce: 0, To: addr1, Value: qrn(9), Fee: new(uint256.Int).Mul(minFee, uint256.NewInt(2))})
	if err := p.Add(big); err != nil {
		t.Fatal(err)
	}
	if got := p.Pending(); len(got) != 1 || got[0].Hash() != big.Hash() {
		t.Fatalf("pending %d txs after the costly replacement, want only it", len(got))
	}
	if st := p.Status(small.Hash()); st.State != chain.TxQueued {
		t.Fatalf("unaffordable tx is %v, want queued", st.State)
	}
	if st := p.Status(t0.Hash()); st.State != chain.TxDropped || st.Drop.Reason != chain.DropReplaced {
		t.Fatalf("replaced tx: %+v", st)
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

// poolHarness is a chain whose genesis also funds n generated accounts with
// balance each, and a pool on it with a settable clock.
type poolHarness struct {
	*harness
	p     *chain.TxPool
	keys  []*ecdsa.PrivateKey
	addrs []common.Address
	nowNs atomic.Int64
}

func newPoolHarness(t *testing.T, n int, balance *uint256.Int, opts ...chain.TxPoolOption) *poolHarness {
	t.Helper()
	ph := &poolHarness{}
	g := testGenesis()
	for i := range n {
		k, a := testKey(fmt.Sprintf("pool account %d", i))
		ph.keys, ph.addrs = append(ph.keys, k), append(ph.addrs, a)
		g.Alloc[a] = balance
	}
	h := &harness{t: t, dir: t.TempDir(), g: g}
	h.nowMs.Store(genesisTimeMs + 24*3600*1000)
	h.open()
	t.Cleanup(func() { h.c.Close() })
	ph.harness = h
	ph.nowNs.Store(time.Unix(1_800_000_000, 0).UnixNano())
	clock := func(c *chain.TxPoolConfig) { c.Now = func() time.Time { return time.Unix(0, ph.nowNs.Load()) } }
	ph.p = chain.NewTxPool(h.c, nil, append([]chain.TxPoolOption{clock}, opts...)...)
	t.Cleanup(ph.p.Close)
	return ph
}

func (ph *poolHarness) advance(d time.Duration) { ph.nowNs.Add(int64(d)) }

// tx is a 1-wei transfer from account i paying mult times the fee floor.
func (ph *poolHarness) tx(i int, nonce, mult uint64) *types.Tx {
	return signed(ph.t, ph.keys[i], &types.Tx{Nonce: nonce, To: addr1, Value: uint256.NewInt(1), Fee: new(uint256.Int).Mul(minFee, uint256.NewInt(mult))})
}

// mineFromPool builds the head's child from the pool's Pending, as the
// miner does, checks that every pending tx (up to the block cap) made it in,
// and imports it.
func (ph *poolHarness) mineFromPool() *types.Block {
	ph.t.Helper()
	txs := ph.p.Pending()
	head := ph.c.CurrentBlock()
	b, err := ph.c.BuildBlock(head, miner1, head.Header.Time+2000, txs, nil)
	if err != nil {
		ph.t.Fatalf("build: %v", err)
	}
	if want := min(len(txs), int(ph.c.Params().MaxBlockTxs)); len(b.Txs) != want {
		ph.t.Fatalf("block kept %d of %d pending txs: Pending returned unexecutable txs", len(b.Txs), want)
	}
	ph.insert(b)
	return b
}

func (ph *poolHarness) wantState(tx *types.Tx, want chain.TxState, reason chain.DropReason) {
	ph.t.Helper()
	st := ph.p.Status(tx.Hash())
	if st.State != want || (want == chain.TxDropped && st.Drop.Reason != reason) {
		ph.t.Fatalf("tx nonce %d: status %v %+v, want %v %s", tx.Nonce, st.State, st.Drop, want, reason)
	}
}

func (ph *poolHarness) wantMined(tx *types.Tx) {
	ph.t.Helper()
	if _, _, ok := ph.c.GetTransaction(tx.Hash()); !ok {
		ph.t.Fatalf("tx nonce %d not mined", tx.Nonce)
	}
}

// The jam of issue 7: 64 funded accounts each send nonces 1..64 and never 0.
// None of it can execute, so it takes at most the queued cap and never the
// room of executable txs: a transfer paying 1000× the floor (and one paying
// the floor) is admitted and mined, and the jam ages out.
func TestTxPoolJamAttack(t *testing.T) {
	ph := newPoolHarness(t, 65, qrn(100))
	cfg := chain.DefaultTxPoolConfig()
	accepted := 0
	for i := range 64 {
		for n := uint64(1); n <= 64; n++ {
			err := ph.p.Add(ph.tx(i, n, 1))
			switch {
			case err == nil:
				accepted++
			case !errors.Is(err, chain.ErrPoolFull):
				t.Fatalf("jam tx %d/%d: %v", i, n, err)
			}
		}
	}
	if pending, queued := ph.p.Counts(); accepted != cfg.MaxQueued || queued != cfg.MaxQueued || pending != 0 {
		t.Fatalf("jam: %d accepted, pool %d pending %d queued; want the queued cap %d", accepted, pending, queued, cfg.MaxQueued)
	}
	rich := ph.tx(64, 0, 1000)
	if err := ph.p.Add(rich); err != nil {
		t.Fatalf("rich transfer refused by a jammed pool: %v", err)
	}
	floor := feeTx(t, true, 0, 1)
	if err := ph.p.Add(floor); err != nil {
		t.Fatalf("floor transfer refused by a jammed pool: %v", err)
	}
	ph.wantState(rich, chain.TxPending, "")
	ph.mineFromPool()
	ph.wantMined(rich)
	ph.wantMined(floor)

	// The jam expires after the lifetime.
	ph.advance(cfg.Lifetime + time.Second)
	ph.mineFromPool()
	if ph.p.Len() != 0 {
		t.Fatalf("%d jam txs outlived the lifetime", ph.p.Len())
	}
	ph.wantState(ph.tx(0, 1, 1), chain.TxDropped, chain.DropExpired)
}

// A pool whose whole room is taken by queued txs still admits an executable
// tx that pays more, by evicting the cheapest queued one; it never evicts
// for a tx paying the same.
func TestTxPoolJamFullPool(t *testing.T) {
	ph := newPoolHarness(t, 17, qrn(100), func(c *chain.TxPoolConfig) { c.MaxTxs, c.MaxQueued = 256, 256 })
	var jam []*types.Tx
	for i := range 16 {
		for n := uint64(1); n <= 16; n++ {
			tx := ph.tx(i, n, 1)
			if err := ph.p.Add(tx); err != nil {
				t.Fatal(err)
			}
			jam = append(jam, tx)
		}
	}
	if err := ph.p.Add(ph.tx(16, 0, 1)); !errors.Is(err, chain.ErrPoolFull) {
		t.Fatalf("same-fee tx into a full pool: %v", err)
	}
	rich := ph.tx(16, 0, 1000)
	if err := ph.p.Add(rich); err != nil {
		t.Fatalf("rich transfer refused: %v", err)
	}
	// The latest arrival among the equally cheap goes first.
	ph.wantState(jam[len(jam)-1], chain.TxDropped, chain.DropEvicted)
	ph.wantState(jam[0], chain.TxQueued, "")
	ph.mineFromPool()
	ph.wantMined(rich)
}

func TestTxPoolAccountCaps(t *testing.T) {
	ph := newPoolHarness(t, 2, qrn(100), func(c *chain.TxPoolConfig) { c.AccountPending, c.AccountQueued = 4, 3 })
	for n := uint64(0); n < 4; n++ {
		if err := ph.p.Add(ph.tx(0, n, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ph.p.Add(ph.tx(0, 4, 1)); !errors.Is(err, chain.ErrAccountLimit) {
		t.Fatalf("fifth pending tx: %v", err)
	}
	for n := uint64(5); n <= 7; n++ {
		if err := ph.p.Add(ph.tx(0, n, 1)); err != nil {
			t.Fatalf("queued nonce %d: %v", n, err)
		}
	}
	if err := ph.p.Add(ph.tx(0, 8, 1)); !errors.Is(err, chain.ErrNonceTooHigh) {
		t.Fatalf("nonce past the queued window: %v", err)
	}
	// Another sender is not limited by the first one's caps.
	if err := ph.p.Add(ph.tx(1, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if pending, queued := ph.p.Counts(); pending != 5 || queued != 3 {
		t.Fatalf("pool %d pending %d queued, want 5 and 3", pending, queued)
	}
	// After a block the window moves: nonce 4 fills the gap and 5..7 follow.
	ph.mineFromPool()
	if err := ph.p.Add(ph.tx(0, 4, 1)); err != nil {
		t.Fatal(err)
	}
	if got := len(ph.p.Pending()); got != 4 {
		t.Fatalf("%d pending after the gap filled, want 4 (nonces 4..7)", got)
	}
}

// Eviction: queued txs of others go first, cheapest first; then the last
// pending tx of another sender; never one paying as much as the newcomer.
func TestTxPoolEvictionOrder(t *testing.T) {
	ph := newPoolHarness(t, 8, qrn(100), func(c *chain.TxPoolConfig) { c.MaxTxs, c.MaxQueued = 6, 3 })
	a0, a1 := ph.tx(0, 0, 1), ph.tx(0, 1, 5) // pending; a0 is not a tail
	b0 := ph.tx(1, 0, 2)                     // pending
	c1, c2 := ph.tx(2, 1, 3), ph.tx(2, 2, 1) // queued
	d5 := ph.tx(3, 5, 9)                     // queued
	for _, tx := range []*types.Tx{a0, a1, b0, c1, c2, d5} {
		if err := ph.p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	e0 := ph.tx(4, 0, 2)
	if err := ph.p.Add(e0); err != nil {
		t.Fatal(err)
	}
	ph.wantState(c2, chain.TxDropped, chain.DropEvicted) // the cheapest queued
	f0 := ph.tx(5, 0, 4)
	if err := ph.p.Add(f0); err != nil {
		t.Fatal(err)
	}
	ph.wantState(c1, chain.TxDropped, chain.DropEvicted) // the next queued, though pending b0 pays less
	g0 := ph.tx(6, 0, 4)
	if err := ph.p.Add(g0); err != nil {
		t.Fatal(err)
	}
	// d5 pays more than g0, so a pending tail goes: b0 and e0 tie, the later leaves.
	ph.wantState(d5, chain.TxQueued, "")
	ph.wantState(e0, chain.TxDropped, chain.DropEvicted)
	ph.wantState(b0, chain.TxPending, "")
	// a0 is the cheapest, but evicting it would strand a1: nothing goes.
	if err := ph.p.Add(ph.tx(7, 0, 1)); !errors.Is(err, chain.ErrPoolFull) {
		t.Fatalf("floor tx into a full pool: %v", err)
	}
	// A queued newcomer may evict only queued txs paying less.
	if err := ph.p.Add(ph.tx(7, 3, 5)); !errors.Is(err, chain.ErrPoolFull) {
		t.Fatalf("queued tx outbidding no queued one: %v", err)
	}
	h3 := ph.tx(7, 3, 100)
	if err := ph.p.Add(h3); err != nil {
		t.Fatal(err)
	}
	ph.wantState(d5, chain.TxDropped, chain.DropEvicted)
	ph.wantState(h3, chain.TxQueued, "")
	ph.wantState(a0, chain.TxPending, "")
	if ph.p.Len() != 6 {
		t.Fatalf("pool holds %d txs, cap 6", ph.p.Len())
	}
}

// Queued txs become pending when the gap fills, by a pooled tx or by a block
// carrying the missing nonce.
func TestTxPoolPromotion(t *testing.T) {
	ph := newPoolHarness(t, 2, qrn(100))
	t1, t2 := ph.tx(0, 1, 1), ph.tx(0, 2, 1)
	for _, tx := range []*types.Tx{t2, t1} {
		if err := ph.p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	ph.wantState(t1, chain.TxQueued, "")
	if len(ph.p.Pending()) != 0 {
		t.Fatal("gapped txs pending")
	}
	if err := ph.p.Add(ph.tx(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	ph.wantState(t2, chain.TxPending, "")
	if got := ph.p.Pending(); len(got) != 3 || got[2].Hash() != t2.Hash() {
		t.Fatalf("pending %d txs after the gap filled", len(got))
	}

	// Account 1's nonce 0 arrives in a block built elsewhere.
	u1 := ph.tx(1, 1, 1)
	if err := ph.p.Add(u1); err != nil {
		t.Fatal(err)
	}
	ph.wantState(u1, chain.TxQueued, "")
	ph.mine(miner2, []*types.Tx{ph.tx(1, 0, 1)})
	ph.wantState(u1, chain.TxPending, "")
	ph.mineFromPool()
	ph.wantMined(u1)
	ph.wantMined(t2)
}

func TestTxPoolAgeEviction(t *testing.T) {
	ph := newPoolHarness(t, 1, qrn(100), func(c *chain.TxPoolConfig) { c.Lifetime = time.Minute })
	queued, pending := ph.tx(0, 5, 1), ph.tx(0, 0, 1)
	for _, tx := range []*types.Tx{queued, pending} {
		if err := ph.p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	ph.advance(30 * time.Second)
	ph.mine(miner2, nil)
	ph.wantState(queued, chain.TxQueued, "")
	ph.advance(31 * time.Second)
	ph.mine(miner2, nil)
	ph.wantState(queued, chain.TxDropped, chain.DropExpired)
	ph.wantState(pending, chain.TxPending, "") // pending txs do not age out
}

// A reorg onto a branch that lacks a deposit demotes the txs it paid for;
// the deposit comes back to the pool, and once mined again they are promoted.
func TestTxPoolReorgDemotion(t *testing.T) {
	ph := newPoolHarness(t, 0, nil)
	carolKey, carol := testKey("carol")
	gen := ph.c.Genesis()
	deposit := transfer(t, key1, 0, carol, qrn(5))
	if err := ph.p.Add(deposit); err != nil {
		t.Fatal(err)
	}
	ph.mineFromPool() // A1
	c0 := transfer(t, carolKey, 0, addr1, qrn(4))
	c1 := signed(t, carolKey, &types.Tx{Nonce: 1, To: addr1, Value: new(uint256.Int).Div(qrn(1), uint256.NewInt(2)), Fee: minFee})
	for _, tx := range []*types.Tx{c0, c1} {
		if err := ph.p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	ph.wantState(c1, chain.TxPending, "")

	// Branch B: bob pays carol only 4.2 QRN, and outweighs A.
	b1 := ph.build(gen, miner2, []*types.Tx{signed(t, key2, &types.Tx{To: carol, Value: new(uint256.Int).Div(qrn(42), uint256.NewInt(10)), Fee: minFee})})
	ph.insert(b1)
	ph.insert(ph.build(b1, miner2, nil))
	ph.wantState(c0, chain.TxPending, "")
	ph.wantState(c1, chain.TxQueued, "") // 4 + 0.5 QRN and fees exceed 4.2
	ph.wantState(deposit, chain.TxPending, "")
	ph.mineFromPool() // the deposit and c0
	ph.wantMined(deposit)
	ph.wantState(c1, chain.TxPending, "")
	ph.mineFromPool()
	ph.wantMined(c1)
}

// A randomized load through the real pool and chain, blocks built from
// Pending as the miner builds them: good txs, gapped ones, replacements
// (enough and not enough of a bump), underpriced, unaffordable, and senders
// bursting past their caps, into a pool small enough to overflow. Every
// accepted tx ends mined or dropped with a reason; none is unaccounted.
func TestTxPoolLoadAccounting(t *testing.T) {
	const accounts, rounds, perRound = 48, 24, 200
	cfg := func(c *chain.TxPoolConfig) {
		c.MaxTxs, c.MaxQueued = 300, 60
		c.AccountPending, c.AccountQueued = 40, 8
	}
	ph := newPoolHarness(t, accounts, qrn(1000), cfg)
	limits := chain.DefaultTxPoolConfig()
	cfg(&limits)
	rng := rand.New(rand.NewPCG(7, 11))
	type sentTx struct {
		tx   *types.Tx
		from int
	}
	var accepted []sentTx
	declined := map[string]int{}
	next := make([]uint64, accounts)
	fee := func(mult uint64) *uint256.Int { return new(uint256.Int).Mul(minFee, uint256.NewInt(mult)) }
	add := func(tx *types.Tx, from int) bool {
		err := ph.p.Add(tx)
		if err == nil {
			accepted = append(accepted, sentTx{tx, from})
			return true
		}
		for _, e := range []error{chain.ErrUnderpriced, chain.ErrInsufficientFunds, chain.ErrNonceTooHigh, chain.ErrNonceTooLow,
			chain.ErrKnownTx, chain.ErrReplaceUnderpriced, chain.ErrPoolFull, chain.ErrAccountLimit} {
			if errors.Is(err, e) {
				declined[e.Error()]++
				return false
			}
		}
		t.Fatalf("unexpected refusal: %v", err)
		return false
	}
	for round := range rounds {
		for range perRound {
			i := rng.IntN(accounts)
			switch r := rng.IntN(100); {
			case r < 55: // the next nonce; now and then a wallet asks the pool for it
				if rng.IntN(10) == 0 {
					next[i] = ph.p.PendingNonce(ph.addrs[i])
				}
				if add(ph.tx(i, next[i], 1+rng.Uint64N(20)), i) {
					next[i]++
				}
			case r < 70: // a gap
				add(ph.tx(i, next[i]+1+rng.Uint64N(4), 1+rng.Uint64N(20)), i)
			case r < 82: // replace an earlier tx, by +20% or by too little
				if len(accepted) == 0 {
					continue
				}
				old := accepted[rng.IntN(len(accepted))]
				bump := uint64(120)
				if rng.IntN(2) == 0 {
					bump = 105
				}
				f := new(uint256.Int).Mul(old.tx.Fee, uint256.NewInt(bump))
				add(signed(t, ph.keys[old.from], &types.Tx{Nonce: old.tx.Nonce, To: addr2, Value: uint256.NewInt(2), Fee: f.Div(f, uint256.NewInt(100))}), old.from)
			case r < 90: // below the floor
				tx := signed(t, ph.keys[i], &types.Tx{Nonce: next[i], To: addr1, Fee: new(uint256.Int).SubUint64(minFee, 1)})
				if err := ph.p.Add(tx); !errors.Is(err, chain.ErrUnderpriced) {
					t.Fatalf("underpriced tx: %v", err)
				}
			case r < 95: // more than the balance
				tx := signed(t, ph.keys[i], &types.Tx{Nonce: ph.p.PendingNonce(ph.addrs[i]), To: addr1, Value: qrn(5000), Fee: fee(1)})
				if err := ph.p.Add(tx); !errors.Is(err, chain.ErrInsufficientFunds) {
					t.Fatalf("unaffordable tx: %v", err)
				}
			default: // a burst past the sender's caps
				for range 3 * limits.AccountPending / 2 {
					if add(ph.tx(i, next[i], 1+rng.Uint64N(3)), i) {
						next[i]++
					}
				}
			}
		}
		if n := ph.p.Len(); n > limits.MaxTxs {
			t.Fatalf("round %d: pool holds %d txs, cap %d", round, n, limits.MaxTxs)
		}
		if round%3 == 2 {
			ph.mineFromPool()
		}
	}
	for range 10 {
		if len(ph.p.Pending()) == 0 {
			break
		}
		ph.mineFromPool()
	}
	ph.advance(limits.Lifetime + time.Second)
	ph.mineFromPool()
	if n := ph.p.Len(); n != 0 {
		pending, queued := ph.p.Counts()
		t.Fatalf("%d txs left in the pool after the lifetime (%d pending, %d queued; Pending returns %d)", n, pending, queued, len(ph.p.Pending()))
	}

	outcomes := map[string]int{}
	for _, s := range accepted {
		h := s.tx.Hash()
		if _, _, ok := ph.c.GetTransaction(h); ok {
			outcomes["mined"]++
			continue
		}
		st := ph.p.Status(h)
		if st.State != chain.TxDropped || st.Drop.Reason == "" || st.Drop.Detail == "" {
			t.Fatalf("accepted tx %s (sender %d nonce %d) is unaccounted: %v", h, s.from, s.tx.Nonce, st.State)
		}
		outcomes[string(st.Drop.Reason)]++
	}
	t.Logf("%d accepted: %v; declined: %v", len(accepted), outcomes, declined)
	for _, o := range []string{"mined", string(chain.DropReplaced), string(chain.DropEvicted), string(chain.DropExpired)} {
		if outcomes[o] == 0 {
			t.Errorf("no accepted tx ended %s: the load does not exercise it", o)
		}
	}
	for _, e := range []error{chain.ErrPoolFull, chain.ErrAccountLimit, chain.ErrReplaceUnderpriced} {
		if declined[e.Error()] == 0 {
			t.Errorf("no tx was declined with %q: the load does not exercise it", e)
		}
	}
}

// A replacement needs +10% fee: 10.9× the floor does not replace 10×, 11× does.
func TestTxPoolReplaceBump(t *testing.T) {
	ph := newPoolHarness(t, 1, qrn(100))
	first := ph.tx(0, 0, 10)
	if err := ph.p.Add(first); err != nil {
		t.Fatal(err)
	}
	short := signed(t, ph.keys[0], &types.Tx{Nonce: 0, To: addr2, Value: uint256.NewInt(1),
		Fee: new(uint256.Int).Div(new(uint256.Int).Mul(minFee, uint256.NewInt(109)), uint256.NewInt(10))})
	if err := ph.p.Add(short); !errors.Is(err, chain.ErrReplaceUnderpriced) {
		t.Fatalf("+9%% replacement: %v", err)
	}
	enough := ph.tx(0, 0, 11)
	if err := ph.p.Add(enough); err != nil {
		t.Fatalf("+10%% replacement: %v", err)
	}
	ph.wantState(first, chain.TxDropped, chain.DropReplaced)
	ph.wantState(enough, chain.TxPending, "")
}

// The per-tx size cap is params.MaxTxBytes, checked before anything else.
func TestTxPoolSizeCap(t *testing.T) {
	ph := newPoolHarness(t, 1, qrn(100))
	big := signed(t, ph.keys[0], &types.Tx{To: addr2, Fee: minFee, Program: make([]byte, ph.c.Params().MaxTxBytes())})
	if err := ph.p.Add(big); !errors.Is(err, chain.ErrTxTooLarge) {
		t.Fatalf("oversized tx: %v", err)
	}
}
