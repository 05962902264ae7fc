package node

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	ethtypes "github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// ethCall invokes an eth_/net_/web3_ method and returns its raw answer.
func (tn *testNode) ethCall(method string, args ...any) json.RawMessage {
	tn.t.Helper()
	raw, err := tn.ethTry(method, args...)
	if err != nil {
		tn.t.Fatalf("%s: %s: %v", tn.name, method, err)
	}
	return raw
}

func (tn *testNode) ethTry(method string, args ...any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var raw json.RawMessage
	err := tn.rpc.CallContext(ctx, &raw, method, args...)
	return raw, err
}

func decodeJSON[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// hasKeys fails unless the JSON object raw has every key.
func hasKeys(t *testing.T, what string, raw json.RawMessage, keys ...string) map[string]json.RawMessage {
	t.Helper()
	m := decodeJSON[map[string]json.RawMessage](t, raw)
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: no %q in %s", what, k, raw)
		}
	}
	return m
}

func signEth(t *testing.T, txdata ethtypes.TxData) (hexutil.Bytes, common.Hash) {
	t.Helper()
	etx, err := ethtypes.SignNewTx(chain.DevKey(), ethtypes.LatestSignerForChainID(big.NewInt(7357)), txdata)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := etx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw, etx.Hash()
}

func TestEthRPC(t *testing.T) {
	m := newMiner(t, "miner")
	p := m.Chain().Params()
	dev := chain.DevAddress()
	to := common.HexToAddress("0x00000000000000000000000000000000000e7401")
	base := types.EthBaseFee(p)

	// Constants and simple answers.
	simple := []struct {
		method string
		args   []any
		want   string
	}{
		{"eth_chainId", nil, `"0x1cbd"`},
		{"net_version", nil, `"7357"`},
		{"eth_gasPrice", nil, `"` + hexutil.EncodeBig(base.ToBig()) + `"`},
		{"eth_maxPriorityFeePerGas", nil, `"0x0"`},
		{"eth_getCode", []any{dev, "latest"}, `"0x"`},
		{"eth_call", []any{map[string]any{"to": dev, "data": "0x1234"}, "latest"}, `"0x"`},
		{"eth_estimateGas", []any{map[string]any{"from": dev, "to": to, "value": "0x1"}}, `"0x5208"`},
		{"eth_accounts", nil, `[]`},
		{"eth_syncing", nil, `false`},
		{"net_listening", nil, `true`},
		{"net_peerCount", nil, `"0x0"`},
		{"eth_getTransactionReceipt", []any{common.HexToHash("0x1234")}, `null`},
		{"eth_getTransactionByHash", []any{common.HexToHash("0x1234")}, `null`},
		{"eth_getBlockByNumber", []any{"0xffffff", false}, `null`},
		{"eth_getStorageAt", []any{dev, "0x0", "latest"}, `"0x` + strings.Repeat("0", 64) + `"`},
		{"eth_getBlockTransactionCountByNumber", []any{"earliest"}, `"0x0"`},
		{"web3_sha3", []any{"0x"}, `"0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"`},
	}
	for _, tc := range simple {
		if got := string(m.ethCall(tc.method, tc.args...)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.method, got, tc.want)
		}
	}
	if v := decodeJSON[string](t, m.ethCall("web3_clientVersion")); !strings.HasPrefix(v, "quern/") {
		t.Errorf("web3_clientVersion %q", v)
	}
	for _, bad := range []map[string]any{{"to": to, "data": "0x01"}, {"value": "0x1"}} {
		if _, err := m.ethTry("eth_estimateGas", bad); err == nil || !strings.Contains(err.Error(), "no contracts") {
			t.Errorf("eth_estimateGas %v: %v", bad, err)
		}
	}

	bal := decodeJSON[hexutil.Big](t, m.ethCall("eth_getBalance", dev, "latest"))
	if want := m.balance(dev); (*big.Int)(&bal).Cmp(want.ToBig()) != 0 {
		t.Fatalf("eth_getBalance %s, quern_getBalance %s", &bal, want)
	}

	// A native transfer, an EIP-1559 and a legacy Ethereum transfer.
	rawNative, native := signedTransfer(t, m, 0, to, uint256.NewInt(5))
	var h common.Hash
	m.call(&h, "sendRawTransaction", rawNative)
	raw1559, hash1559 := signEth(t, &ethtypes.DynamicFeeTx{ChainID: big.NewInt(7357), Nonce: 1, GasTipCap: big.NewInt(0),
		GasFeeCap: new(big.Int).Mul(base.ToBig(), big.NewInt(2)), Gas: 21000, To: &to, Value: big.NewInt(7)})
	if got := decodeJSON[common.Hash](t, m.ethCall("eth_sendRawTransaction", raw1559)); got != hash1559 {
		t.Fatalf("eth_sendRawTransaction returned %s, want the ethereum hash %s", got, hash1559)
	}
	rawLegacy, hashLegacy := signEth(t, &ethtypes.LegacyTx{Nonce: 2, GasPrice: base.ToBig(), Gas: 25000, To: &to, Value: big.NewInt(11)})
	m.ethCall("eth_sendRawTransaction", rawLegacy)
	if _, err := m.ethTry("eth_sendRawTransaction", rawLegacy); err == nil || !strings.HasPrefix(err.Error(), "already known") {
		t.Fatalf("sent twice: %v", err)
	}
	rawData, _ := signEth(t, &ethtypes.LegacyTx{Nonce: 3, GasPrice: base.ToBig(), Gas: 50000, To: &to, Data: []byte{1}})
	if _, err := m.ethTry("eth_sendRawTransaction", rawData); err == nil || !strings.Contains(err.Error(), "no contracts") {
		t.Fatalf("a tx with data: %v", err)
	}
	if n := decodeJSON[hexutil.Uint64](t, m.ethCall("eth_getTransactionCount", dev, "pending")); n != 3 {
		t.Fatalf("pending nonce %d", n)
	}
	// Pooled: found, no block yet (or already mined).
	pooled := hasKeys(t, "pooled tx", m.ethCall("eth_getTransactionByHash", hashLegacy), "hash", "blockHash", "from", "gas")
	if string(pooled["hash"]) != `"`+hashLegacy.Hex()+`"` {
		t.Fatalf("pooled tx %v", pooled)
	}

	var rc json.RawMessage
	waitFor(t, time.Minute, "the three txs to be mined", func() bool {
		rc = m.ethCall("eth_getTransactionReceipt", hashLegacy)
		return string(rc) != "null" && string(m.ethCall("eth_getTransactionReceipt", hash1559)) != "null" &&
			string(m.ethCall("eth_getTransactionReceipt", native.Hash())) != "null"
	})
	rawOld, _ := signEth(t, &ethtypes.LegacyTx{Nonce: 0, GasPrice: base.ToBig(), Gas: 21000, To: &to})
	if _, err := m.ethTry("eth_sendRawTransaction", rawOld); err == nil || !strings.HasPrefix(err.Error(), "nonce too low") {
		t.Fatalf("a used nonce: %v", err)
	}
	if n := decodeJSON[hexutil.Uint64](t, m.ethCall("eth_getTransactionCount", dev, "latest")); n != 3 {
		t.Fatalf("nonce %d", n)
	}
	if got := m.balance(to); !got.Eq(uint256.NewInt(23)) {
		t.Fatalf("recipient has %s, want 23", got)
	}

	receiptKeys := []string{"transactionHash", "transactionIndex", "blockHash", "blockNumber", "from", "to",
		"cumulativeGasUsed", "gasUsed", "effectiveGasPrice", "contractAddress", "logs", "logsBloom", "type", "status"}
	type receipt struct {
		Status, GasUsed, Type hexutil.Uint64
		EffectiveGasPrice     hexutil.Big
		BlockNumber           hexutil.Big
		BlockHash             common.Hash
		From                  common.Address
		To                    *common.Address
		Logs                  []any
		QuernFee              hexutil.Big
	}
	check := func(hash common.Hash, typ uint64, fee *uint256.Int) receipt {
		t.Helper()
		raw := m.ethCall("eth_getTransactionReceipt", hash)
		hasKeys(t, "receipt", raw, receiptKeys...)
		r := decodeJSON[receipt](t, raw)
		if r.Status != 1 || r.GasUsed != 21000 || uint64(r.Type) != typ || r.From != dev || r.To == nil || *r.To != to || r.Logs == nil {
			t.Errorf("receipt of %s: %s", hash, raw)
		}
		if (*big.Int)(&r.QuernFee).Cmp(fee.ToBig()) != 0 {
			t.Errorf("receipt of %s: fee %s, want %s", hash, &r.QuernFee, fee)
		}
		return r
	}
	ethFee := new(uint256.Int).Mul(base, uint256.NewInt(21000))
	r := check(hash1559, 2, ethFee)
	if (*big.Int)(&r.EffectiveGasPrice).Cmp(base.ToBig()) != 0 {
		t.Errorf("1559 effective price %s, want the base fee %s", &r.EffectiveGasPrice, base)
	}
	check(hashLegacy, 0, ethFee)
	check(native.Hash(), 0, p.MinTxFee)

	txKeys := []string{"blockHash", "blockNumber", "transactionIndex", "hash", "type", "chainId", "from", "to", "nonce",
		"value", "gas", "gasPrice", "input", "v", "r", "s"}
	tx := hasKeys(t, "1559 tx", m.ethCall("eth_getTransactionByHash", hash1559), append(txKeys, "maxFeePerGas", "maxPriorityFeePerGas", "accessList")...)
	if string(tx["value"]) != `"0x7"` || string(tx["nonce"]) != `"0x1"` || string(tx["input"]) != `"0x"` {
		t.Errorf("1559 tx %v", tx)
	}
	hasKeys(t, "native tx", m.ethCall("eth_getTransactionByHash", native.Hash()), txKeys...)

	// Blocks, by number and by hash, hashes and full objects.
	blockKeys := []string{"number", "hash", "parentHash", "nonce", "mixHash", "sha3Uncles", "logsBloom", "transactionsRoot",
		"stateRoot", "receiptsRoot", "miner", "difficulty", "totalDifficulty", "extraData", "size", "gasLimit", "gasUsed",
		"timestamp", "baseFeePerGas", "transactions", "uncles"}
	num := hexutil.EncodeBig((*big.Int)(&r.BlockNumber))
	blk := hasKeys(t, "block", m.ethCall("eth_getBlockByNumber", num, false), blockKeys...)
	hashes := decodeJSON[[]common.Hash](t, blk["transactions"])
	found := false
	for _, x := range hashes {
		found = found || x == hash1559
	}
	if !found {
		t.Errorf("block %s does not list %s: %v", num, hash1559, hashes)
	}
	if string(blk["uncles"]) != "[]" || string(blk["baseFeePerGas"]) != `"`+hexutil.EncodeBig(base.ToBig())+`"` {
		t.Errorf("block %v", blk)
	}
	qb := m.block(uint64((*big.Int)(&r.BlockNumber).Uint64()))
	if ts := decodeJSON[hexutil.Uint64](t, blk["timestamp"]); uint64(ts) != qb.Time/1000 {
		t.Errorf("timestamp %d, quern time %d ms", ts, qb.Time)
	}
	if string(blk["hash"]) != `"`+r.BlockHash.Hex()+`"` || qb.Hash != r.BlockHash || string(blk["miner"]) != `"`+strings.ToLower(testCoinbase.Hex())+`"` {
		t.Errorf("block hash/miner %s %s, quern %s", blk["hash"], blk["miner"], qb.Hash)
	}
	full := hasKeys(t, "block by hash", m.ethCall("eth_getBlockByHash", r.BlockHash, true), blockKeys...)
	objs := decodeJSON[[]map[string]json.RawMessage](t, full["transactions"])
	if len(objs) != len(hashes) || len(objs) == 0 {
		t.Fatalf("full block: %d txs, %d hashes", len(objs), len(hashes))
	}
	for _, o := range objs {
		if _, ok := o["from"]; !ok {
			t.Errorf("full tx without from: %v", o)
		}
	}
	byIndex := hasKeys(t, "tx by block and index", m.ethCall("eth_getTransactionByBlockHashAndIndex", r.BlockHash, "0x0"), txKeys...)
	if string(byIndex["blockHash"]) != `"`+r.BlockHash.Hex()+`"` || string(m.ethCall("eth_getTransactionByBlockNumberAndIndex", num, "0x3e8")) != "null" {
		t.Errorf("tx by block and index: %v", byIndex)
	}
	if got := string(m.ethCall("eth_getLogs", map[string]any{"fromBlock": "0x0"})); got != "[]" {
		t.Errorf("eth_getLogs: %s", got)
	}
	if got := string(m.ethCall("eth_getBlockByHash", common.HexToHash("0x99"), false)); got != "null" {
		t.Errorf("unknown block hash: %s", got)
	}
	latest := hasKeys(t, "latest", m.ethCall("eth_getBlockByNumber", "latest", false), blockKeys...)
	if n := decodeJSON[hexutil.Uint64](t, m.ethCall("eth_blockNumber")); decodeJSON[hexutil.Uint64](t, latest["number"]) > n {
		t.Errorf("latest block above eth_blockNumber %d", n)
	}

	// Fee history and historic balances.
	fh := hasKeys(t, "feeHistory", m.ethCall("eth_feeHistory", "0x2", "latest", []float64{25, 75}), "oldestBlock", "baseFeePerGas", "gasUsedRatio", "reward")
	if fees := decodeJSON[[]hexutil.Big](t, fh["baseFeePerGas"]); len(fees) != 3 {
		t.Errorf("feeHistory baseFeePerGas: %d entries, want 3", len(fees))
	}
	if b0 := decodeJSON[hexutil.Big](t, m.ethCall("eth_getBalance", dev, "earliest")); (*big.Int)(&b0).Cmp(new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))) != 0 {
		t.Errorf("genesis balance %s", &b0)
	}

	// A job tx shows as a tx to null with its escrow as the fee.
	prog := randomMatMul(t, 3, 4, 8, 4)
	code, err := vm.Encode(prog)
	if err != nil {
		t.Fatal(err)
	}
	var baseFee string
	m.call(&baseFee, "jobBaseFee", prog.Work(), consensus.JobBytes(len(code), 4, 4))
	fee := new(uint256.Int).Mul(uint256.MustFromDecimal(baseFee), uint256.NewInt(4))
	fee.Add(fee, p.MinTxFee)
	jtx := &types.Tx{ChainID: p.ChainID, Nonce: 3, Kind: types.TxJob, Value: new(uint256.Int), Fee: fee,
		Expiry: m.blockNumber() + 1000, Program: code}
	if err := jtx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	rawJob, err := rlp.EncodeToBytes(jtx)
	if err != nil {
		t.Fatal(err)
	}
	m.call(&h, "sendRawTransaction", hexutil.Bytes(rawJob))
	waitFor(t, time.Minute, "the job tx to be mined", func() bool {
		return string(m.ethCall("eth_getTransactionReceipt", jtx.Hash())) != "null"
	})
	jr := hasKeys(t, "job receipt", m.ethCall("eth_getTransactionReceipt", jtx.Hash()), receiptKeys...)
	if string(jr["to"]) != "null" || string(jr["status"]) != `"0x1"` || string(jr["quernJobId"]) != `"`+jtx.Hash().Hex()+`"` ||
		string(jr["quernFee"]) != `"`+hexutil.EncodeBig(fee.ToBig())+`"` {
		t.Errorf("job receipt %v", jr)
	}
	jt := hasKeys(t, "job tx", m.ethCall("eth_getTransactionByHash", jtx.Hash()), txKeys...)
	if string(jt["to"]) != "null" || string(jt["value"]) != `"0x0"` || string(jt["quernKind"]) != `"job"` {
		t.Errorf("job tx %v", jt)
	}
}

// An Ethereum tx sent to a follower travels by gossip (the quern envelope
// around the raw bytes) to the miner, and both see it mined by its hash.
func TestEthTxGossip(t *testing.T) {
	m := newMiner(t, "miner")
	f := newFollower(t, "follower", m)
	waitFor(t, time.Minute, "the nodes to connect", func() bool { return f.P2P().PeerCount() > 0 && m.P2P().PeerCount() > 0 })
	to := common.HexToAddress("0x00000000000000000000000000000000000e7402")
	base := types.EthBaseFee(m.Chain().Params())
	raw, hash := signEth(t, &ethtypes.DynamicFeeTx{ChainID: big.NewInt(7357), Nonce: 0, GasTipCap: big.NewInt(1),
		GasFeeCap: new(big.Int).Mul(base.ToBig(), big.NewInt(2)), Gas: 21000, To: &to, Value: big.NewInt(9)})
	var rc json.RawMessage
	waitFor(t, time.Minute, "the tx to reach the miner and be mined", func() bool {
		// Resent until the miner has it: gossip only reaches a subscribed peer.
		if string(f.ethCall("eth_getTransactionByHash", hash)) == "null" {
			f.ethTry("eth_sendRawTransaction", hexutil.Bytes(raw))
		}
		rc = f.ethCall("eth_getTransactionReceipt", hash)
		return string(rc) != "null" && string(m.ethCall("eth_getTransactionReceipt", hash)) != "null"
	})
	if got := f.balance(to); !got.Eq(uint256.NewInt(9)) {
		t.Fatalf("recipient has %s on the follower", got)
	}
}
