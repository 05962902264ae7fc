package chain_test

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
)

func TestTransferPaysAndRewards(t *testing.T) {
	h := newHarness(t)
	p := h.c.Params()
	value := qrn(3)
	tx0 := transfer(t, key1, 0, addr2, value)
	tx1 := transfer(t, key1, 1, miner2, uint256.NewInt(7))
	b := h.mine(miner1, []*types.Tx{tx0, tx1})

	fees := new(uint256.Int).Mul(minFee, uint256.NewInt(2))
	spent := new(uint256.Int).Add(value, uint256.NewInt(7))
	spent.Add(spent, fees)
	if want := new(uint256.Int).Sub(qrn(1000), spent); !h.balance(addr1).Eq(want) {
		t.Errorf("sender %s, want %s", h.balance(addr1), want)
	}
	if want := new(uint256.Int).Add(qrn(10), value); !h.balance(addr2).Eq(want) {
		t.Errorf("recipient %s, want %s", h.balance(addr2), want)
	}
	if h.balance(miner2).Uint64() != 7 {
		t.Errorf("second recipient %s", h.balance(miner2))
	}
	reward := new(uint256.Int).Add(p.Subsidy, fees)
	if !h.balance(miner1).Eq(reward) || !h.c.State().MinerReward(miner1).Eq(reward) {
		t.Errorf("coinbase %s, reward %s, want %s", h.balance(miner1), h.c.State().MinerReward(miner1), reward)
	}
	if n := h.c.State().Account(addr1).Nonce; n != 2 {
		t.Errorf("nonce %d", n)
	}
	got, l, ok := h.c.GetTransaction(tx1.Hash())
	if !ok || got.Hash() != tx1.Hash() || l.BlockHash != b.Hash() || l.Number != 1 || l.Index != 1 {
		t.Errorf("tx lookup %v %+v", ok, l)
	}
	h.mine(miner1, nil)
	if want := new(uint256.Int).Add(reward, p.Subsidy); !h.c.State().MinerReward(miner1).Eq(want) {
		t.Errorf("cumulative reward %s, want %s", h.c.State().MinerReward(miner1), want)
	}
}

func TestRejectedBlocks(t *testing.T) {
	h := newHarness(t)
	gen := h.c.Genesis()
	good := transfer(t, key1, 0, addr2, qrn(1))
	b1 := h.build(gen, miner1, []*types.Tx{good})
	empty := h.build(gen, miner1, nil)

	badSig := transfer(t, key1, 0, addr2, qrn(1))
	badSig.Sig[64] = 7 // no such recovery id
	zeroR := transfer(t, key1, 0, addr2, qrn(1))
	copy(zeroR.Sig[:32], make([]byte, 32))
	shortSig := transfer(t, key1, 0, addr2, qrn(1))
	shortSig.Sig = shortSig.Sig[:64]
	wrongChain := signed(t, key1, &types.Tx{ChainID: 1, To: addr2, Value: qrn(1), Fee: minFee})
	tooMuch := transfer(t, key2, 0, addr1, qrn(10)) // balance 10 QRN, cost 10 QRN + fee
	lowFee := signed(t, key1, &types.Tx{To: addr2, Value: qrn(1), Fee: uint256.NewInt(1)})
	badKind := signed(t, key1, &types.Tx{Kind: 9, To: addr2, Fee: minFee})
	skipNonce := transfer(t, key1, 1, addr2, qrn(1))
	twice := transfer(t, key1, 0, addr1, qrn(2)) // same nonce as good

	tooMany := make([]*types.JobResult, h.c.Params().MaxBlockResults+1)
	for i := range tooMany {
		tooMany[i] = &types.JobResult{JobID: common.Hash{byte(i)}}
	}

	for _, tc := range []struct {
		name string
		b    *types.Block
		code chain.RuleCode
	}{
		{"state root", withHeader(b1, func(hd *types.Header) { hd.StateRoot = common.Hash{1} }), chain.ErrBadStateRoot},
		{"tx root", withHeader(b1, func(hd *types.Header) { hd.TxRoot = types.EmptyRoot }), chain.ErrBadTxRoot},
		{"result root", withHeader(b1, func(hd *types.Header) { hd.ResultRoot = common.Hash{2} }), chain.ErrBadResultRoot},
		{"bad signature", withTxs(empty, badSig), chain.ErrBadSignature},
		{"short signature", withTxs(empty, shortSig), chain.ErrBadSignature},
		{"zero R", withTxs(empty, zeroR), chain.ErrBadSignature},
		{"chain id", withTxs(empty, wrongChain), chain.ErrBadChainID},
		{"insufficient balance", withTxs(empty, tooMuch), chain.ErrInsufficientBalance},
		{"fee too low", withTxs(empty, lowFee), chain.ErrFeeTooLow},
		{"tx kind", withTxs(empty, badKind), chain.ErrBadTxKind},
		{"nonce gap", withTxs(empty, skipNonce), chain.ErrBadNonce},
		{"double spend in block", withTxs(empty, good, twice), chain.ErrBadNonce},
		{"same tx twice", withTxs(empty, good, good), chain.ErrBadNonce},
		{"too many results", withResults(empty, tooMany...), chain.ErrTooManyItems},
		{"seal", withHeader(b1, func(hd *types.Header) { hd.Seal.Nonce = badSealNonce }), chain.ErrBadSeal},
		{"number", withHeader(b1, func(hd *types.Header) { hd.Number = 2 }), chain.ErrBadNumber},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.c.InsertBlock(tc.b)
			wantRule(t, err, tc.code)
			if !chain.IsRuleError(err) || chain.RuleCodeOf(err) != tc.code {
				t.Fatalf("RuleCodeOf(%v) = %v", err, chain.RuleCodeOf(err))
			}
			if h.c.HasBlock(tc.b.Hash()) || h.c.CurrentBlock().Hash() != gen.Hash() {
				t.Fatal("a rejected block was stored")
			}
		})
	}
	err := h.c.InsertBlock(withHeader(b1, func(hd *types.Header) { hd.Seal.Nonce = badSealNonce }))
	if !errors.Is(err, consensus.ErrLosingTicket) {
		t.Errorf("seal error %v does not wrap the engine's", err)
	}

	h.insert(b1)
	if err := h.c.InsertBlock(b1); !errors.Is(err, chain.ErrKnownBlock) {
		t.Errorf("known block: %v", err)
	}
	orphan := withHeader(b1, func(hd *types.Header) { hd.ParentHash = common.Hash{9}; hd.Number = 5 })
	if err := h.c.InsertBlock(orphan); !errors.Is(err, chain.ErrUnknownParent) || chain.IsRuleError(err) {
		t.Errorf("orphan: %v", err)
	}
	// Replaying the mined tx in the next block is a double spend.
	b2 := h.build(b1, miner1, nil)
	wantRule(t, h.c.InsertBlock(withTxs(b2, good)), chain.ErrBadNonce)
	h.insert(b2)
}

func TestBuildBlockSkipsInvalid(t *testing.T) {
	h := newHarness(t)
	good := transfer(t, key1, 0, addr2, qrn(1))
	dup := transfer(t, key1, 0, addr2, qrn(2))
	broke := transfer(t, key2, 0, addr1, qrn(100))
	next := transfer(t, key1, 1, addr2, qrn(1))
	b, err := h.c.BuildBlock(h.c.CurrentBlock(), miner1, h.c.Genesis().Header.Time+2000,
		[]*types.Tx{good, dup, broke, next}, []*types.JobResult{{JobID: common.Hash{1}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Txs) != 2 || b.Txs[0] != good || b.Txs[1] != next || len(b.Results) != 0 {
		t.Fatalf("built %d txs, %d results", len(b.Txs), len(b.Results))
	}
	h.insert(b)
}
