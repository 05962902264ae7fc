package node

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// randomMatMul returns a program computing a random m×k · k×n product.
func randomMatMul(t *testing.T, seed uint64, m, k, n int) *vm.Program {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	a, b := compute.NewI8(m, k), compute.NewI8(k, n)
	for i := range a.Data {
		a.Data[i] = int8(rng.IntN(2*compute.OperandMax+1) - compute.OperandMax)
	}
	for i := range b.Data {
		b.Data[i] = int8(rng.IntN(2*compute.OperandMax+1) - compute.OperandMax)
	}
	return vm.NewMatMul(a, b)
}

func TestJobComputedByMiner(t *testing.T) {
	m := newMiner(t, "miner")
	p := m.Chain().Params()
	m.waitHeight(2, time.Minute)

	prog := randomMatMul(t, 1, 32, 48, 16)
	code, err := vm.Encode(prog)
	if err != nil {
		t.Fatal(err)
	}
	var baseFee string
	m.call(&baseFee, "jobBaseFee", prog.Work(), consensus.JobBytes(len(code), prog.Inputs[0].Rows, prog.Inputs[1].Cols))
	// Twice the base fee: the difficulty may drift down before it lands.
	fee := new(uint256.Int).Mul(uint256.MustFromDecimal(baseFee), uint256.NewInt(2))
	fee.Add(fee, p.MinTxFee)

	dev := chain.DevAddress()
	var nonce uint64
	m.call(&nonce, "getTransactionCount", dev)
	tx := &types.Tx{ChainID: p.ChainID, Nonce: nonce, Kind: types.TxJob, Value: new(uint256.Int), Fee: fee,
		Expiry: m.blockNumber() + 1000, Program: code}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	raw, err := rlp.EncodeToBytes(tx)
	if err != nil {
		t.Fatal(err)
	}
	var id common.Hash
	m.call(&id, "sendRawTransaction", hexutil.Bytes(raw))

	var missing RPCJob
	if err := m.tryCall(&missing, "getJob", common.Hash{1}); err == nil || !strings.Contains(err.Error(), "job 0x0100") || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown job: %v", err)
	}

	var job RPCJob
	waitFor(t, time.Minute, "the job to be done", func() bool {
		if m.tryCall(&job, "getJob", id) != nil {
			return false
		}
		return job.Status == "done"
	})
	if job.Owner != dev || job.Work != prog.Work() || job.Rows != 32 || job.Cols != 16 || job.Miner != testCoinbase {
		t.Fatalf("job: %+v", job)
	}
	burned, minerFee := uint256.MustFromDecimal(job.Burned), uint256.MustFromDecimal(job.MinerFee)
	if !new(uint256.Int).Add(burned, minerFee).Eq(fee) || burned.IsZero() {
		t.Fatalf("job fee split: burned %s + miner %s, fee %s", burned, minerFee, fee)
	}

	var res RPCJobResult
	m.call(&res, "getJobResult", id)
	want, err := vm.Run(compute.Portable(), prog)
	if err != nil {
		t.Fatal(err)
	}
	if res.JobID != id || res.Rows != 32 || res.Cols != 16 || res.Block != job.DoneBlock {
		t.Fatalf("result header: %+v", res)
	}
	if !bytes.Equal(res.Data, vm.EncodeResult(want)) {
		t.Fatal("job result differs from vm.Run's product")
	}
	b := m.block(job.DoneBlock)
	if len(b.Results) == 0 || b.Results[0].JobID != id {
		t.Fatalf("block %d results: %+v", job.DoneBlock, b.Results)
	}
	if !strings.Contains(m.logs.String(), "computing job "+id.Hex()) {
		t.Fatal("no 'computing job' log line")
	}

	// An unpaid job is refused by the pool with its own error.
	m.call(&nonce, "getTransactionCount", dev)
	under := &types.Tx{ChainID: p.ChainID, Nonce: nonce, Kind: types.TxJob, Value: new(uint256.Int),
		Fee: new(uint256.Int), Expiry: m.blockNumber() + 1000, Program: code}
	if err := under.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	rawUnder, _ := rlp.EncodeToBytes(under)
	if err := m.tryCall(&id, "sendRawTransaction", hexutil.Bytes(rawUnder)); err == nil || !strings.Contains(err.Error(), "fee") {
		t.Fatalf("a job with no fee: %v", err)
	}

	// Rewards include the job's miner fee.
	m.miner.Stop()
	var rewards RPCRewards
	m.call(&rewards, "minerRewards", testCoinbase)
	if wantR := expectedRewards(t, m, m.blockNumber(), testCoinbase); rewards.Total != wantR.Dec() {
		t.Fatalf("minerRewards %s, want %s", rewards.Total, wantR)
	}
}

// mineOne seals one block on tn's head by hand (tn runs no miner), carrying txs.
func mineOne(t *testing.T, tn *testNode, txs ...*types.Tx) *types.Block {
	t.Helper()
	return sealOn(t, tn.Chain(), txs...)
}

func TestJobPendingAndExpired(t *testing.T) {
	v := startNode(t, "validator", testConfig(t.TempDir()))
	p := v.Chain().Params()
	prog := randomMatMul(t, 2, 8, 8, 8)
	code, err := vm.Encode(prog)
	if err != nil {
		t.Fatal(err)
	}
	var baseFee string
	v.call(&baseFee, "jobBaseFee", prog.Work(), consensus.JobBytes(len(code), prog.Inputs[0].Rows, prog.Inputs[1].Cols))
	fee := new(uint256.Int).Mul(uint256.MustFromDecimal(baseFee), uint256.NewInt(2))
	tx := &types.Tx{ChainID: p.ChainID, Kind: types.TxJob, Value: new(uint256.Int), Fee: fee, Expiry: 3, Program: code}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	id := tx.Hash()
	var job RPCJob
	if err := v.tryCall(&job, "getJob", id); err == nil || err.Error() != "job "+id.Hex()+" not found" {
		t.Fatalf("getJob before it was sent: %v", err)
	}
	// In the txpool, not yet in a block: "submitted", not "not found".
	raw, _ := rlp.EncodeToBytes(tx)
	var sent common.Hash
	v.call(&sent, "sendRawTransaction", hexutil.Bytes(raw))
	v.call(&job, "getJob", id)
	if job.Status != "submitted" || job.Kind != "matmul" || job.Work != prog.Work() || job.Rows != prog.Inputs[0].Rows || job.Cols != prog.Inputs[1].Cols || job.Fee != fee.Dec() {
		t.Fatalf("job in the txpool: %+v", job)
	}
	var res RPCJobResult
	if err := v.tryCall(&res, "getJobResult", id); err == nil || !strings.Contains(err.Error(), "in the txpool, not yet in a block") {
		t.Fatalf("getJobResult of a job in the txpool: %v", err)
	}
	mineOne(t, v, tx)
	v.call(&job, "getJob", id)
	if job.Status != "pending" || job.Submitted != 1 || job.Expiry != 3 || job.Fee != fee.Dec() {
		t.Fatalf("pending job: %+v", job)
	}
	wantPending := "job " + id.Hex() + " is pending (no result yet)"
	if err := v.tryCall(&res, "getJobResult", id); err == nil || err.Error() != wantPending {
		t.Fatalf("getJobResult of a pending job: %v, want %q", err, wantPending)
	}
	for v.blockNumber() < 4 {
		mineOne(t, v)
	}
	v.call(&job, "getJob", id)
	if job.Status != "expired" {
		t.Fatalf("job after its expiry: %+v", job)
	}
	wantExpired := "job " + id.Hex() + " expired at block 3 without a result"
	if err := v.tryCall(&res, "getJobResult", id); err == nil || err.Error() != wantExpired {
		t.Fatalf("getJobResult of an expired job: %v, want %q", err, wantExpired)
	}
	// The escrow came back, less the program's block space (burned when
	// the job tx landed): that is all the dev account paid for the job.
	want := new(uint256.Int).Mul(uint256.NewInt(1_000_000), types.QRN)
	want.Sub(want, consensus.JobSubmissionBurn(p, len(code)))
	if got := v.balance(chain.DevAddress()); !got.Eq(want) {
		t.Fatalf("dev balance after refund %s, want %s", got, want)
	}
}
