package chain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
)

func TestJobEscrowResultBurn(t *testing.T) {
	h := newHarness(t)
	p := h.c.Params()
	job := newTestJob(t, 1, 4, 8, 3)
	base := consensus.JobBaseFee(p, h.c.Genesis().Header.Difficulty, job.work(), job.bytes())
	if base.IsZero() {
		t.Fatal("test job too small to have a base fee")
	}
	fee := new(uint256.Int).Add(base, qrn(1))
	jtx := job.tx(t, key1, 0, 10, fee)
	id := jtx.Hash()

	b1 := h.mine(miner1, []*types.Tx{jtx})
	if want := new(uint256.Int).Sub(qrn(1000), fee); !h.balance(addr1).Eq(want) {
		t.Fatalf("after escrow %s, want %s", h.balance(addr1), want)
	}
	j, ok := h.c.State().Job(id)
	if !ok || j.Status != chain.JobPending || j.Owner != addr1 || !j.Fee.Eq(fee) || j.Work != job.work() ||
		j.Rows != 4 || j.Cols != 3 || j.Expiry != 10 || j.Submitted != 1 {
		t.Fatalf("job record %+v", j)
	}
	if pj := h.c.State().PendingJobs(); len(pj) != 1 || pj[0].ID != id {
		t.Fatalf("pending jobs %v", pj)
	}
	if code, ok := h.c.JobProgram(id); !ok || string(code) != string(job.program) {
		t.Fatal("job program not stored")
	}
	if _, err := h.c.JobResult(id); err == nil || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("result of a pending job: %v", err)
	}
	// The block's coinbase got only the subsidy: a job fee is paid on its result.
	if !h.balance(miner1).Eq(p.Subsidy) {
		t.Fatalf("coinbase after job tx %s", h.balance(miner1))
	}

	res := job.jobResult(id)
	b2 := h.build(b1, miner2, nil, res)
	// Bad results first.
	wrong := job.jobResult(id)
	wrong.Data = append([]byte(nil), wrong.Data...)
	wrong.Data[0] ^= 1
	err := h.c.InsertBlock(withResults(b2, wrong))
	wantRule(t, err, chain.ErrBadResult)
	if !errors.Is(err, consensus.ErrBadResult) {
		t.Errorf("bad result does not wrap the engine error: %v", err)
	}
	shape := &types.JobResult{JobID: id, Rows: 3, Cols: 4, Data: res.Data}
	err = h.c.InsertBlock(withResults(b2, shape))
	wantRule(t, err, chain.ErrBadResult)
	if !errors.Is(err, consensus.ErrResultShape) {
		t.Errorf("bad shape does not wrap ErrResultShape: %v", err)
	}
	short := &types.JobResult{JobID: id, Rows: 4, Cols: 3, Data: res.Data[:8]}
	wantRule(t, h.c.InsertBlock(withResults(b2, short)), chain.ErrBadResult)
	wantRule(t, h.c.InsertBlock(withResults(b2, res, res)), chain.ErrDuplicateResult)
	unknown := job.jobResult(common.Hash{7})
	wantRule(t, h.c.InsertBlock(withResults(b2, unknown)), chain.ErrJobNotPending)

	h.insert(b2)
	j, _ = h.c.State().Job(id)
	burn := consensus.JobBaseFee(p, b2.Header.Difficulty, job.work(), job.bytes())
	if j.Status != chain.JobDone || j.DoneBlock != 2 || j.Miner != miner2 || j.ResultHash != res.Hash() ||
		!j.Burned.Eq(burn) || !j.MinerFee.Eq(new(uint256.Int).Sub(fee, burn)) {
		t.Fatalf("done job %+v (burn %s)", j, burn)
	}
	minerGot := new(uint256.Int).Add(p.Subsidy, j.MinerFee)
	if !h.balance(miner2).Eq(minerGot) || !h.c.State().MinerReward(miner2).Eq(minerGot) {
		t.Fatalf("miner %s, reward %s, want %s", h.balance(miner2), h.c.State().MinerReward(miner2), minerGot)
	}
	// Supply: alloc + 2 subsidies − burn.
	supply := new(uint256.Int)
	for _, a := range []common.Address{addr1, addr2, miner1, miner2} {
		supply.Add(supply, h.balance(a))
	}
	want := new(uint256.Int).Add(qrn(1010), new(uint256.Int).Mul(p.Subsidy, uint256.NewInt(2)))
	if want.Sub(want, burn); !supply.Eq(want) {
		t.Fatalf("supply %s, want %s", supply, want)
	}
	got, err := h.c.JobResult(id)
	if err != nil || got.Hash() != res.Hash() {
		t.Fatalf("JobResult: %v", err)
	}
	if len(h.c.State().PendingJobs()) != 0 {
		t.Fatal("done job still pending")
	}
	// A second result for a done job.
	b3 := h.build(b2, miner1, nil)
	wantRule(t, h.c.InsertBlock(withResults(b3, res)), chain.ErrJobNotPending)
}

func TestJobExpiresAndRefunds(t *testing.T) {
	h := newHarness(t)
	job := newTestJob(t, 2, 2, 4, 2)
	fee := qrn(2)
	jtx := job.tx(t, key2, 0, 2, fee) // result may land in blocks 2 at the latest
	h.mine(miner1, []*types.Tx{jtx})
	b2 := h.mine(miner1, nil)
	if j, _ := h.c.State().Job(jtx.Hash()); j.Status != chain.JobPending {
		t.Fatal("expired a block early")
	}
	b3 := h.build(b2, miner1, nil)
	wantRule(t, h.c.InsertBlock(withResults(b3, job.jobResult(jtx.Hash()))), chain.ErrJobNotPending)
	h.insert(b3)
	j, _ := h.c.State().Job(jtx.Hash())
	if j.Status != chain.JobExpired {
		t.Fatalf("status %d, want expired", j.Status)
	}
	// The escrow comes back less the program's block space, burned when
	// the job tx landed (and recorded as the job's burn).
	burn := consensus.JobSubmissionBurn(h.c.Params(), len(jtx.Program))
	if burn.IsZero() || !j.Burned.Eq(burn) {
		t.Fatalf("burned %s, want the program's byte fee %s", j.Burned, burn)
	}
	if want := new(uint256.Int).Sub(qrn(10), burn); !h.balance(addr2).Eq(want) || h.c.State().Account(addr2).Nonce != 1 {
		t.Fatalf("owner %s after refund, want %s", h.balance(addr2), want)
	}
	if _, err := h.c.JobResult(jtx.Hash()); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("result of an expired job: %v", err)
	}
}

func TestBadJobTxs(t *testing.T) {
	h := newHarness(t)
	p := h.c.Params()
	empty := h.build(h.c.Genesis(), miner1, nil)
	job := newTestJob(t, 3, 4, 8, 3)
	base := consensus.JobBaseFee(p, empty.Header.Difficulty, job.work(), job.bytes())
	fee := new(uint256.Int).Add(base, uint256.NewInt(1))

	garbage := signed(t, key1, &types.Tx{Kind: types.TxJob, Fee: fee, Expiry: 5, Program: []byte{1, 2, 3}})
	expired := job.tx(t, key1, 0, 1, fee)
	withValue := signed(t, key1, &types.Tx{Kind: types.TxJob, Value: uint256.NewInt(1), Fee: fee, Expiry: 5, Program: job.program})
	cheap := job.tx(t, key1, 0, 5, new(uint256.Int).SubUint64(base, 1))
	broke := job.tx(t, key2, 0, 5, qrn(11))
	for _, tc := range []struct {
		name string
		tx   *types.Tx
		code chain.RuleCode
	}{
		{"garbage program", garbage, chain.ErrBadJob},
		{"expiry not ahead", expired, chain.ErrBadJob},
		{"value", withValue, chain.ErrBadJob},
		{"below base fee", cheap, chain.ErrFeeTooLow},
		{"escrow above balance", broke, chain.ErrInsufficientBalance},
	} {
		t.Run(tc.name, func(t *testing.T) { wantRule(t, h.c.InsertBlock(withTxs(empty, tc.tx)), tc.code) })
	}
	// A ticket on a job that is not pending at the parent is a bad seal.
	jtx := job.tx(t, key1, 0, 5, fee)
	withJob := h.build(h.c.Genesis(), miner1, []*types.Tx{jtx})
	sealed := withHeader(withJob, func(hd *types.Header) { hd.Seal.Work.JobID = jtx.Hash() })
	err := h.c.InsertBlock(sealed)
	wantRule(t, err, chain.ErrBadSeal)
	if !errors.Is(err, consensus.ErrUnknownWork) {
		t.Errorf("want ErrUnknownWork inside: %v", err)
	}
	h.insert(withJob)
	next := h.build(withJob, miner1, nil, job.jobResult(jtx.Hash()))
	h.insert(withHeader(next, func(hd *types.Header) { hd.Seal.Work.JobID = jtx.Hash() }))
}
