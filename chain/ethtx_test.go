package chain_test

import (
	"crypto/ecdsa"
	"errors"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	ethtypes "github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// ethTransfer signs txdata with key for the chain id inside it (legacy:
// chainID) and wraps it as a quern TxEth.
func ethTransfer(t testing.TB, key *ecdsa.PrivateKey, chainID uint64, txdata ethtypes.TxData) *types.Tx {
	t.Helper()
	etx, err := ethtypes.SignNewTx(key, ethtypes.LatestSignerForChainID(new(big.Int).SetUint64(chainID)), txdata)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := etx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tx, err := types.NewEthTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Hash() != etx.Hash() {
		t.Fatalf("quern hash %s, ethereum hash %s", tx.Hash(), etx.Hash())
	}
	return tx
}

func dynFee(nonce uint64, to common.Address, value *uint256.Int, feeCap, tip *big.Int) *ethtypes.DynamicFeeTx {
	return &ethtypes.DynamicFeeTx{ChainID: big.NewInt(7357), Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap,
		Gas: 21000, To: &to, Value: value.ToBig()}
}

func legacy(nonce uint64, to common.Address, value *uint256.Int, price *big.Int) *ethtypes.LegacyTx {
	return &ethtypes.LegacyTx{Nonce: nonce, GasPrice: price, Gas: 21000, To: &to, Value: value.ToBig()}
}

func TestEthTxApplied(t *testing.T) {
	h := newHarness(t)
	p := h.c.Params()
	base := types.EthBaseFee(p)
	if want := uint256.NewInt(47619047620); !base.Eq(want) { // ⌈10^15 / 21000⌉
		t.Fatalf("base fee %s, want %s", base, want)
	}
	// 1559 with ethers' fee cap (2 × base + tip) and tip 5 wei: pays base + 5.
	// Gas limit 30000: charged 21000 all the same.
	d := dynFee(0, addr2, qrn(3), new(big.Int).Add(new(big.Int).Mul(base.ToBig(), big.NewInt(2)), big.NewInt(5)), big.NewInt(5))
	d.Gas = 30000
	tx1 := ethTransfer(t, key1, 7357, d)
	// Legacy at the base fee, nonce shared with a native transfer between.
	tx2 := transfer(t, key1, 1, addr2, qrn(1))
	tx3 := ethTransfer(t, key1, 7357, legacy(2, addr2, qrn(2), base.ToBig()))
	if tx1.Nonce != 0 || tx1.To != addr2 || !tx1.Value.Eq(qrn(3)) || tx1.ChainID != 7357 {
		t.Fatalf("derived fields: %+v", tx1)
	}
	if from, err := tx1.Sender(); err != nil || from != addr1 {
		t.Fatalf("sender %s, %v", from, err)
	}
	before1, before2 := h.balance(addr1), h.balance(addr2)
	b := h.mine(miner1, []*types.Tx{tx1, tx2, tx3})

	fee1 := new(uint256.Int).Mul(new(uint256.Int).AddUint64(base, 5), uint256.NewInt(21000))
	fee3 := new(uint256.Int).Mul(base, uint256.NewInt(21000))
	spent := new(uint256.Int).Add(qrn(6), fee1)
	spent.Add(spent, minFee).Add(spent, fee3)
	if got := new(uint256.Int).Sub(before1, h.balance(addr1)); !got.Eq(spent) {
		t.Fatalf("sender paid %s, want %s", got, spent)
	}
	if got := new(uint256.Int).Sub(h.balance(addr2), before2); !got.Eq(qrn(6)) {
		t.Fatalf("recipient got %s", got)
	}
	if n := h.c.State().Account(addr1).Nonce; n != 3 {
		t.Fatalf("nonce %d, want 3", n)
	}
	// The block commits to the raw bytes, and the lookup goes by the eth hash.
	got, l, ok := h.c.GetTransaction(tx3.Hash())
	if !ok || l.Number != b.Number() || l.Index != 2 || got.Kind != types.TxEth || string(got.Program) != string(tx3.Program) {
		t.Fatalf("lookup %v %+v", ok, l)
	}
	// Read back from the store after a restart.
	h.reopen()
	stored := h.c.GetBlockByNumber(b.Number())
	if stored == nil || stored.Txs[0].Hash() != tx1.Hash() || !stored.Txs[0].Value.Eq(qrn(3)) {
		t.Fatalf("stored block %v", stored)
	}
}

func TestEthTxRules(t *testing.T) {
	h := newHarness(t)
	base := types.EthBaseFee(h.c.Params())
	low := new(big.Int).Sub(base.ToBig(), big.NewInt(1))
	withData := legacy(0, addr2, qrn(1), base.ToBig())
	withData.Data = []byte{1}
	lowGas := legacy(0, addr2, qrn(1), base.ToBig())
	lowGas.Gas = 20999
	create := legacy(0, addr2, qrn(1), base.ToBig())
	create.To = nil
	tipAbove := dynFee(0, addr2, qrn(1), base.ToBig(), new(big.Int).Add(base.ToBig(), big.NewInt(1)))
	al := dynFee(0, addr2, qrn(1), base.ToBig(), big.NewInt(0))
	al.AccessList = ethtypes.AccessList{{Address: addr2}}
	cases := []struct {
		name string
		tx   *types.Tx
		code chain.RuleCode
	}{
		{"data", ethTransfer(t, key1, 7357, withData), chain.ErrBadEthTx},
		{"gas", ethTransfer(t, key1, 7357, lowGas), chain.ErrBadEthTx},
		{"create", ethTransfer(t, key1, 7357, create), chain.ErrBadEthTx},
		{"chain id", ethTransfer(t, key1, 1, legacy(0, addr2, qrn(1), base.ToBig())), chain.ErrBadChainID},
		{"legacy price", ethTransfer(t, key1, 7357, legacy(0, addr2, qrn(1), low)), chain.ErrFeeTooLow},
		{"fee cap", ethTransfer(t, key1, 7357, dynFee(0, addr2, qrn(1), low, big.NewInt(0))), chain.ErrFeeTooLow},
		{"tip above cap", ethTransfer(t, key1, 7357, tipAbove), chain.ErrBadEthTx},
		{"access list", ethTransfer(t, key1, 7357, al), chain.ErrBadEthTx},
		{"nonce", ethTransfer(t, key1, 7357, legacy(1, addr2, qrn(1), base.ToBig())), chain.ErrBadNonce},
		{"balance", ethTransfer(t, key2, 7357, legacy(0, addr1, qrn(10), base.ToBig())), chain.ErrInsufficientBalance},
	}
	// An unprotected (pre-EIP-155) legacy tx.
	etx, err := ethtypes.SignNewTx(key1, ethtypes.HomesteadSigner{}, legacy(0, addr2, qrn(1), base.ToBig()))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := etx.MarshalBinary()
	unprot, err := types.NewEthTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name string
		tx   *types.Tx
		code chain.RuleCode
	}{"unprotected", unprot, chain.ErrBadSignature})
	// Envelope fields that disagree with the raw tx (a block built in memory).
	forged := ethTransfer(t, key1, 7357, legacy(0, addr2, qrn(1), base.ToBig()))
	forged.Value = qrn(500)
	cases = append(cases, struct {
		name string
		tx   *types.Tx
		code chain.RuleCode
	}{"forged envelope", forged, chain.ErrBadEthTx})

	pool := newPool(t, h)
	parent := h.c.CurrentBlock()
	good := h.build(parent, miner1, nil)
	for _, tc := range cases {
		err := h.c.InsertBlock(withTxs(good, tc.tx))
		if !errors.Is(err, &chain.RuleError{Code: tc.code}) {
			t.Errorf("%s: block: got %v, want rule %q", tc.name, err, tc.code)
		}
		if err := pool.Add(tc.tx); err == nil && tc.code != chain.ErrBadNonce { // a future nonce is queued
			t.Errorf("%s: the pool took it", tc.name)
		}
	}
	// The valid block still goes in: none of the rejections was cached for it.
	h.insert(good)
}

func TestEthTxEncoding(t *testing.T) {
	g := testGenesis()
	base := types.EthBaseFee(&g.Config)
	tx := ethTransfer(t, key1, 7357, dynFee(4, addr2, qrn(1), base.ToBig(), big.NewInt(0)))
	enc, err := rlp.EncodeToBytes(tx)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(enc)) != types.TxEncodedSize(tx) {
		t.Fatalf("encoded %d bytes, TxEncodedSize says %d", len(enc), types.TxEncodedSize(tx))
	}
	var back types.Tx
	if err := rlp.DecodeBytes(enc, &back); err != nil {
		t.Fatal(err)
	}
	if back.Hash() != tx.Hash() || back.Nonce != 4 || back.To != addr2 || back.ChainID != 7357 || !back.Value.Eq(qrn(1)) {
		t.Fatalf("decoded %+v", &back)
	}
	// Every envelope field but kind and raw must be zero on the wire: none
	// can be changed without changing the hash the block commits to.
	type fields struct {
		ChainID, Nonce uint64
		Kind           uint8
		To             common.Address
		Value, Fee     *uint256.Int
		Expiry         uint64
		Program, Sig   []byte
	}
	bad, _ := rlp.EncodeToBytes(&fields{Nonce: 4, Kind: types.TxEth, Value: new(uint256.Int), Fee: new(uint256.Int), Program: tx.Program})
	if err := rlp.DecodeBytes(bad, new(types.Tx)); !errors.Is(err, types.ErrEthTx) {
		t.Fatalf("non-zero envelope field: %v", err)
	}
	garbage, _ := rlp.EncodeToBytes(&fields{Kind: types.TxEth, Value: new(uint256.Int), Fee: new(uint256.Int), Program: []byte{2, 0xc0}})
	if err := rlp.DecodeBytes(garbage, new(types.Tx)); !errors.Is(err, types.ErrEthTx) {
		t.Fatalf("garbage raw tx: %v", err)
	}
	// Native txs encode as before: the codec is the plain struct's.
	n := transfer(t, key1, 0, addr2, qrn(1))
	enc, _ = rlp.EncodeToBytes(n)
	plain, _ := rlp.EncodeToBytes(&fields{n.ChainID, n.Nonce, n.Kind, n.To, n.Value, n.Fee, n.Expiry, n.Program, n.Sig})
	if string(enc) != string(plain) {
		t.Fatal("native tx encoding changed")
	}
}

func TestTxPoolEthTx(t *testing.T) {
	h := newHarness(t)
	pool := newPool(t, h)
	base := types.EthBaseFee(h.c.Params())
	tx := ethTransfer(t, key1, 7357, legacy(0, addr2, qrn(1), base.ToBig()))
	if err := pool.Add(tx); err != nil {
		t.Fatal(err)
	}
	if got := pool.Get(tx.Hash()); got != tx {
		t.Fatalf("pool.Get by eth hash: %v", got)
	}
	if err := pool.Add(tx); !errors.Is(err, chain.ErrKnownTx) {
		t.Fatalf("again: %v", err)
	}
	// A replacement must raise the fee the chain charges by 10%.
	same := ethTransfer(t, key1, 7357, dynFee(0, addr2, qrn(1), new(big.Int).Mul(base.ToBig(), big.NewInt(3)), big.NewInt(1)))
	if err := pool.Add(same); !errors.Is(err, chain.ErrReplaceUnderpriced) {
		t.Fatalf("replacement paying base + 1: %v", err)
	}
	low := ethTransfer(t, key1, 7357, legacy(1, addr2, qrn(1), new(big.Int).Sub(base.ToBig(), big.NewInt(1))))
	if err := pool.Add(low); !errors.Is(err, chain.ErrUnderpriced) {
		t.Fatalf("below the base fee: %v", err)
	}
	if n := pool.PendingNonce(addr1); n != 1 {
		t.Fatalf("pending nonce %d", n)
	}
	pending := pool.Pending()
	if len(pending) != 1 || pending[0] != tx {
		t.Fatalf("pending %v", pending)
	}
	h.mine(miner1, pending)
	waitPool(t, "the eth tx to leave", func() bool { return pool.Len() == 0 })
	if _, _, ok := h.c.GetTransaction(tx.Hash()); !ok {
		t.Fatal("mined eth tx not found by its hash")
	}
}

// The txpool journal keeps an Ethereum tx across a restart (its quern
// envelope is what the journal writes).
func TestTxPoolJournalEthTx(t *testing.T) {
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "txpool.rlp")
	first := chain.NewTxPool(h.c, nil, chain.WithJournal(path))
	base := types.EthBaseFee(h.c.Params())
	tx := ethTransfer(t, key1, 7357, dynFee(0, addr2, qrn(1), base.ToBig(), big.NewInt(0)))
	if err := first.Add(tx); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := chain.NewTxPool(h.c, nil, chain.WithJournal(path))
	defer second.Close()
	got := second.Get(tx.Hash())
	if got == nil || got.Kind != types.TxEth || !got.Value.Eq(qrn(1)) {
		t.Fatalf("after restart: %+v", got)
	}
}
