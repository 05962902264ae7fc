package chain_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// testEngine accepts every seal but one whose nonce is badSealNonce, and
// checks results by recomputing the product (tests use tiny jobs).
type testEngine struct{}

const badSealNonce = 0xdead

var _ consensus.Engine = testEngine{}

func (testEngine) VerifySeal(p *types.Params, h *types.Header, body *types.Body, jobs consensus.WorkSource) error {
	if h.Seal.Nonce == badSealNonce {
		return consensus.ErrLosingTicket
	}
	if !h.Seal.Work.IsSynthetic() {
		_, err := jobs.PendingJobProgram(h.Seal.Work.JobID)
		return err
	}
	return nil
}

func (testEngine) VerifyResult(p *types.Params, h *types.Header, prog *vm.Program, r *types.JobResult) error {
	a, b, err := prog.MatMulOperands()
	if err != nil {
		return err
	}
	c, err := vm.DecodeResult(r.Rows, r.Cols, r.Data)
	if err != nil {
		return fmt.Errorf("%w: %v", consensus.ErrResultShape, err)
	}
	want := matmul(a, b)
	if c.Rows != want.Rows || c.Cols != want.Cols {
		return consensus.ErrResultShape
	}
	for i := range want.Data {
		if c.Data[i] != want.Data[i] {
			return consensus.ErrBadResult
		}
	}
	return nil
}

// VerifyTrainSegment is the real sampled replay (tests train tiny networks).
func (testEngine) VerifyTrainSegment(p *types.Params, h *types.Header, spec *vm.TrainSpec, jobID common.Hash, start *vm.TrainState, seg *types.TrainSegment) error {
	return consensus.NewFaker().VerifyTrainSegment(p, h, spec, jobID, start, seg)
}

func matmul(a, b compute.I8) compute.I32 {
	c := compute.NewI32(a.Rows, b.Cols)
	for i := 0; i < a.Rows; i++ {
		for k := 0; k < a.Cols; k++ {
			x := int32(a.Data[i*a.Cols+k])
			for j := 0; j < b.Cols; j++ {
				c.Data[i*c.Cols+j] += x * int32(b.Data[k*b.Cols+j])
			}
		}
	}
	return c
}

var (
	key1, addr1   = testKey("alice")
	key2, addr2   = testKey("bob")
	miner1        = common.HexToAddress("0x1111111111111111111111111111111111111111")
	miner2        = common.HexToAddress("0x2222222222222222222222222222222222222222")
	genesisTimeMs = uint64(1767225600000)
)

func testKey(name string) (*ecdsa.PrivateKey, common.Address) {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("quern chain test key " + name)))
	if err != nil {
		panic(err)
	}
	return k, crypto.PubkeyToAddress(k.PublicKey)
}

func qrn(n uint64) *uint256.Int { return new(uint256.Int).Mul(uint256.NewInt(n), types.QRN) }

// testGenesis is the dev genesis with two funded test accounts.
func testGenesis() *chain.Genesis {
	g := chain.DevGenesis()
	g.Alloc = map[common.Address]*uint256.Int{addr1: qrn(1000), addr2: qrn(10)}
	return g
}

// harness is one chain on disk with a settable clock.
type harness struct {
	t     testing.TB
	dir   string
	g     *chain.Genesis
	c     *chain.Chain
	nowMs atomic.Uint64
}

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, dir: t.TempDir(), g: testGenesis()}
	h.nowMs.Store(genesisTimeMs + 24*3600*1000)
	h.open()
	t.Cleanup(func() {
		if h.c != nil {
			h.c.Close()
		}
	})
	return h
}

func (h *harness) open() {
	h.t.Helper()
	c, err := chain.Open(h.dir, h.g, testEngine{}, nil)
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
	chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(h.nowMs.Load())) })
	h.c = c
}

func (h *harness) reopen() {
	h.t.Helper()
	if err := h.c.Close(); err != nil {
		h.t.Fatalf("close: %v", err)
	}
	h.c = nil
	h.open()
}

// build makes a valid child of parent 2 s later and checks that every
// candidate made it in.
func (h *harness) build(parent *types.Block, coinbase common.Address, txs []*types.Tx, results ...*types.JobResult) *types.Block {
	h.t.Helper()
	return h.buildAt(parent, coinbase, parent.Header.Time+2000, txs, results...)
}

func (h *harness) buildAt(parent *types.Block, coinbase common.Address, timeMs uint64, txs []*types.Tx, results ...*types.JobResult) *types.Block {
	h.t.Helper()
	b, err := h.c.BuildBlock(parent, coinbase, timeMs, txs, results)
	if err != nil {
		h.t.Fatalf("build: %v", err)
	}
	if len(b.Txs) != len(txs) || len(b.Results) != len(results) {
		h.t.Fatalf("build: kept %d/%d txs and %d/%d results", len(b.Txs), len(txs), len(b.Results), len(results))
	}
	return b
}

func (h *harness) insert(b *types.Block) {
	h.t.Helper()
	if err := h.c.InsertBlock(b); err != nil {
		h.t.Fatalf("insert block %d: %v", b.Number(), err)
	}
}

// mine builds a child of the head and inserts it.
func (h *harness) mine(coinbase common.Address, txs []*types.Tx, results ...*types.JobResult) *types.Block {
	h.t.Helper()
	b := h.build(h.c.CurrentBlock(), coinbase, txs, results...)
	h.insert(b)
	return b
}

func (h *harness) balance(a common.Address) *uint256.Int { return h.c.State().Account(a).Balance }

func signed(t testing.TB, key *ecdsa.PrivateKey, tx *types.Tx) *types.Tx {
	t.Helper()
	if tx.ChainID == 0 {
		tx.ChainID = 7357
	}
	if tx.Value == nil {
		tx.Value = new(uint256.Int)
	}
	if tx.Fee == nil {
		tx.Fee = new(uint256.Int)
	}
	if err := tx.Sign(key); err != nil {
		t.Fatal(err)
	}
	return tx
}

var minFee = uint256.NewInt(1_000_000_000_000_000) // dev minTxFee

func transfer(t testing.TB, key *ecdsa.PrivateKey, nonce uint64, to common.Address, value *uint256.Int) *types.Tx {
	return signed(t, key, &types.Tx{Nonce: nonce, To: to, Value: value, Fee: minFee})
}

// testJob is a small matrix-product job with its true result.
type testJob struct {
	a, b    compute.I8
	program []byte
	result  compute.I32
}

func newTestJob(t testing.TB, seed uint64, m, k, n int) *testJob {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	a, b := compute.NewI8(m, k), compute.NewI8(k, n)
	for i := range a.Data {
		a.Data[i] = int8(rng.IntN(2*compute.OperandMax+1) - compute.OperandMax)
	}
	for i := range b.Data {
		b.Data[i] = int8(rng.IntN(2*compute.OperandMax+1) - compute.OperandMax)
	}
	prog, err := vm.Encode(vm.NewMatMul(a, b))
	if err != nil {
		t.Fatal(err)
	}
	return &testJob{a: a, b: b, program: prog, result: matmul(a, b)}
}

func (j *testJob) work() uint64 { return uint64(j.a.Rows * j.a.Cols * j.b.Cols) }

// bytes is the block space the job takes: program plus result.
func (j *testJob) bytes() uint64 {
	return consensus.JobBytes(len(j.program), uint32(j.a.Rows), uint32(j.b.Cols))
}

func (j *testJob) tx(t testing.TB, key *ecdsa.PrivateKey, nonce, expiry uint64, fee *uint256.Int) *types.Tx {
	return signed(t, key, &types.Tx{Nonce: nonce, Kind: types.TxJob, Fee: fee, Expiry: expiry, Program: j.program})
}

func (j *testJob) jobResult(id common.Hash) *types.JobResult {
	return &types.JobResult{JobID: id, Rows: uint32(j.result.Rows), Cols: uint32(j.result.Cols), Data: vm.EncodeResult(j.result)}
}

// withTxs replaces b's txs (fixing the tx root) on a copy of b.
func withTxs(b *types.Block, txs ...*types.Tx) *types.Block {
	hd := b.Header.Copy()
	hd.TxRoot = types.TxRoot(txs)
	return &types.Block{Header: hd, Txs: txs, Results: b.Results}
}

func withResults(b *types.Block, rs ...*types.JobResult) *types.Block {
	hd := b.Header.Copy()
	hd.ResultRoot = types.ResultRoot(rs)
	return &types.Block{Header: hd, Txs: b.Txs, Results: rs}
}

func withHeader(b *types.Block, edit func(*types.Header)) *types.Block {
	hd := b.Header.Copy()
	edit(hd)
	return &types.Block{Header: hd, Txs: b.Txs, Results: b.Results}
}

// wantRule asserts err is a rule error with code.
func wantRule(t testing.TB, err error, code chain.RuleCode) {
	t.Helper()
	if !errors.Is(err, &chain.RuleError{Code: code}) {
		t.Fatalf("got error %v, want rule %q", err, code)
	}
}

// mineSynthetic builds the child of parent (dtMs later) with txs on c, seals
// it with a synthetic puzzle the portable miner really solves, and imports
// it: a block for a chain opened with the real engine.
func mineSynthetic(t *testing.T, c *chain.Chain, parent *types.Block, dtMs uint64, txs []*types.Tx) *types.Block {
	t.Helper()
	b, err := c.BuildBlock(parent, miner1, parent.Header.Time+dtMs, txs, nil)
	if err != nil || len(b.Txs) != len(txs) {
		t.Fatalf("build: %v (%d of %d txs)", err, len(b.Txs), len(txs))
	}
	seal, err := consensus.NewMiner(c.Params(), compute.Portable()).MineSynthetic(context.Background(), parent.Header, b.Header.Difficulty, miner1, 0)
	if err != nil || seal == nil {
		t.Fatalf("synthetic seal: %v", err)
	}
	b.Header.Seal = *seal
	if err := c.InsertBlock(b); err != nil {
		t.Fatal(err)
	}
	return b
}
