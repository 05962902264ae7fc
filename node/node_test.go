package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

func TestConfigErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	if _, err := New(cfg, nil); !errors.Is(err, ErrNoNetwork) {
		t.Fatalf("no network: got %v, want %v", err, ErrNoNetwork)
	}
	if !strings.Contains(ErrNoNetwork.Error(), "no network selected: pass --dev for the devnet or --genesis FILE") {
		t.Fatalf("unexpected message %q", ErrNoNetwork)
	}

	cfg.GenesisFile = filepath.Join(t.TempDir(), "genesis.json")
	cfg.Mine = true
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "--miner.address") {
		t.Fatalf("--mine without --miner.address: got %v", err)
	}

	cfg = testConfig(t.TempDir())
	cfg.Mine, cfg.MinerAddress = true, "0x1234"
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "not a hex address") {
		t.Fatalf("bad --miner.address: got %v", err)
	}

	cfg = testConfig(t.TempDir())
	cfg.LogLevel = "loud"
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "log level") {
		t.Fatalf("bad log level: got %v", err)
	}

	// --dev --mine without an address mines to the dev account.
	cfg = testConfig(t.TempDir())
	cfg.Mine = true
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Coinbase() != chain.DevAddress() {
		t.Fatalf("dev coinbase %s, want %s", n.Coinbase(), chain.DevAddress())
	}
}

func TestDevKeystore(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ { // the second start must not import it twice
		n, err := New(testConfig(dir), nil)
		if err != nil {
			t.Fatal(err)
		}
		n.Close()
	}
	entries, err := os.ReadDir(filepath.Join(dir, "keystore"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("keystore holds %d files, want 1", len(entries))
	}
	if !hasKeyFile(filepath.Join(dir, "keystore"), chain.DevAddress()) {
		t.Fatalf("keystore file %s is not the dev key's", entries[0].Name())
	}
}

func TestDatadirLock(t *testing.T) {
	dir := t.TempDir()
	n, err := New(testConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(testConfig(dir), nil)
	want := "datadir " + dir + " is in use by another quern node"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second node on the same datadir: got %v, want %q", err, want)
	}
	n.Close()
	n2, err := New(testConfig(dir), nil) // released on Close
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	n2.Close()
}

// signedTransfer returns the RLP of a dev-key transfer.
func signedTransfer(t *testing.T, tn *testNode, nonce uint64, to common.Address, value *uint256.Int) (hexutil.Bytes, *types.Tx) {
	t.Helper()
	p := tn.Chain().Params()
	tx := &types.Tx{ChainID: p.ChainID, Nonce: nonce, Kind: types.TxTransfer, To: to, Value: value, Fee: new(uint256.Int).Set(p.MinTxFee)}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	raw, err := rlp.EncodeToBytes(tx)
	if err != nil {
		t.Fatal(err)
	}
	return raw, tx
}

func (tn *testNode) balance(a common.Address) *uint256.Int {
	tn.t.Helper()
	var s string
	tn.call(&s, "getBalance", a)
	v, err := uint256.FromDecimal(s)
	if err != nil {
		tn.t.Fatalf("balance %q: %v", s, err)
	}
	return v
}

func TestMiningNodeRPC(t *testing.T) {
	m := newMiner(t, "miner")
	p := m.Chain().Params()

	if got, want := m.loggedRPC(), m.RPCEndpoint(); got != want || strings.HasSuffix(got, ":0") {
		t.Fatalf("logged rpc url %q, want %q", got, want)
	}

	m.waitHeight(3, time.Minute)
	b1 := m.block(1)
	if b1 == nil || b1.Number != 1 || b1.Coinbase != testCoinbase || b1.ParentHash != m.Chain().Genesis().Hash() {
		t.Fatalf("block 1: %+v", b1)
	}
	if b1.Hash != m.Chain().GetBlockByNumber(1).Hash() {
		t.Fatalf("block 1 hash %s differs from the chain's", b1.Hash)
	}
	latest := m.block("latest")
	if latest == nil || latest.Number < 3 || latest.TotalDiff == "0" {
		t.Fatalf("latest: %+v", latest)
	}
	if b := m.block(uint64(1) << 40); b != nil {
		t.Fatalf("block 2^40: got %+v, want null", b)
	}

	var chainID uint64
	m.call(&chainID, "chainId")
	if chainID != p.ChainID {
		t.Fatalf("chainId %d, want %d", chainID, p.ChainID)
	}
	var info RPCNodeInfo
	m.call(&info, "nodeInfo")
	if len(info.Addrs) == 0 || !strings.Contains(info.Addrs[0], "/p2p/"+info.ID) || !info.Mining || info.Network != p.Network {
		t.Fatalf("nodeInfo: %+v", info)
	}
	if info.Genesis != m.Chain().Genesis().Hash() {
		t.Fatalf("nodeInfo genesis %s", info.Genesis)
	}
	var syncing any
	m.call(&syncing, "syncing")
	if syncing != false {
		t.Fatalf("syncing: %v", syncing)
	}
	var fee string
	m.call(&fee, "jobBaseFee", uint64(1_000_000))
	if v, err := uint256.FromDecimal(fee); err != nil || v.IsZero() {
		t.Fatalf("jobBaseFee: %q %v", fee, err)
	}

	dev := chain.DevAddress()
	devStart := m.balance(dev)
	if want := new(uint256.Int).Mul(uint256.NewInt(1_000_000), types.QRN); !devStart.Eq(want) {
		t.Fatalf("dev balance %s, want %s", devStart, want)
	}

	// A transfer lands and moves the balances.
	to := common.HexToAddress("0x00000000000000000000000000000000000beef1")
	var nonce uint64
	m.call(&nonce, "getTransactionCount", dev, "pending")
	if nonce != 0 {
		t.Fatalf("dev pending nonce %d", nonce)
	}
	raw, tx := signedTransfer(t, m, nonce, to, new(uint256.Int).Set(types.QRN))
	var h common.Hash
	m.call(&h, "sendRawTransaction", raw)
	if h != tx.Hash() {
		t.Fatalf("tx hash %s, want %s", h, tx.Hash())
	}
	m.call(&nonce, "getTransactionCount", dev) // default "pending"
	if nonce != 1 {
		t.Fatalf("dev pending nonce after send: %d", nonce)
	}
	// The same tx again is refused with the pool's error.
	if err := m.tryCall(&h, "sendRawTransaction", raw); err == nil {
		t.Fatal("duplicate tx accepted")
	}
	if err := m.tryCall(&h, "sendRawTransaction", hexutil.Bytes{0x01, 0x02}); err == nil || !strings.Contains(err.Error(), "decode transaction") {
		t.Fatalf("garbage tx: %v", err)
	}
	waitFor(t, time.Minute, "the transfer to land", func() bool { return m.balance(to).Eq(types.QRN) })
	var latestNonce uint64
	m.call(&latestNonce, "getTransactionCount", dev, "latest")
	if latestNonce != 1 {
		t.Fatalf("latest nonce %d", latestNonce)
	}
	spent := new(uint256.Int).Add(types.QRN, p.MinTxFee)
	if got, want := m.balance(dev), new(uint256.Int).Sub(devStart, spent); !got.Eq(want) {
		t.Fatalf("dev balance %s, want %s", got, want)
	}

	// Rewards: subsidy per block mined plus the fees of what it carried.
	m.miner.Stop()
	var rewards RPCRewards
	m.call(&rewards, "minerRewards", testCoinbase)
	head := m.blockNumber()
	want := expectedRewards(t, m, head, testCoinbase)
	if rewards.Total != want.Dec() {
		t.Fatalf("minerRewards %s, want %s (head %d)", rewards.Total, want, head)
	}
	if got := m.balance(testCoinbase); !got.Eq(want) {
		t.Fatalf("coinbase balance %s, want %s", got, want)
	}
}

// expectedRewards sums, over canonical blocks 1..head mined by cb, the
// subsidy, the transfer fees and the job miner fees.
func expectedRewards(t *testing.T, tn *testNode, head uint64, cb common.Address) *uint256.Int {
	t.Helper()
	p := tn.Chain().Params()
	total := new(uint256.Int)
	for n := uint64(1); n <= head; n++ {
		b := tn.block(n)
		if b == nil {
			t.Fatalf("block %d missing", n)
		}
		if b.Coinbase != cb {
			continue
		}
		total.Add(total, p.Subsidy)
		for _, tx := range b.Txs {
			if tx.Kind == "transfer" {
				total.Add(total, uint256.MustFromDecimal(tx.Fee))
			}
		}
		for _, r := range b.Results {
			var j RPCJob
			tn.call(&j, "getJob", r.JobID)
			total.Add(total, uint256.MustFromDecimal(j.MinerFee))
		}
	}
	return total
}

func TestSyncAndRestart(t *testing.T) {
	m := newMiner(t, "miner")
	m.waitHeight(5, time.Minute)

	f := newFollower(t, "follower", m)
	f.waitHeight(5, time.Minute)
	for _, n := range []uint64{1, 5} {
		fb, mb := f.block(n), m.block(n)
		if fb.Hash != mb.Hash || fb.StateRoot != mb.StateRoot {
			t.Fatalf("block %d: follower %s/%s, miner %s/%s", n, fb.Hash, fb.StateRoot, mb.Hash, mb.StateRoot)
		}
	}

	// With mining stopped the follower reaches the very same head.
	m.miner.Stop()
	mh := m.block("latest")
	waitFor(t, time.Minute, "the follower to reach the miner's head", func() bool {
		return f.block("latest").Hash == mh.Hash
	})
	if fh := f.block("latest"); fh.StateRoot != mh.StateRoot {
		t.Fatalf("state roots differ at head %d: %s vs %s", mh.Number, fh.StateRoot, mh.StateRoot)
	}
	var info RPCNodeInfo
	f.call(&info, "nodeInfo")
	if info.Peers == 0 || info.Mining {
		t.Fatalf("follower nodeInfo %+v", info)
	}

	// A restart on the same datadir keeps the head; a second node on it fails.
	cfg := m.cfg
	m.stop()
	cfg.Mine = false
	r := startNode(t, "restarted", cfg)
	if got := r.block("latest"); got.Hash != mh.Hash {
		t.Fatalf("after restart head %d %s, want %d %s", got.Number, got.Hash, mh.Number, mh.Hash)
	}
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "is in use by another quern node") {
		t.Fatalf("second node on a used datadir: %v", err)
	}
}
