package chain_test

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// A proof of an account, its reward and a job verifies against the block's
// state root; so does the proof of an absent account and job. A tampered
// node, a changed value or another root is refused.
func TestStateProof(t *testing.T) {
	h := newHarness(t)
	job := newTestJob(t, 5, 2, 2, 2)
	jobTx := job.tx(t, key1, 1, 50, qrn(1))
	for range 3 {
		h.mine(miner1, nil)
	}
	b := h.mine(miner1, []*types.Tx{transfer(t, key1, 0, addr2, qrn(1)), jobTx})
	root := b.Header.StateRoot

	p, err := h.c.Proof(b.Hash(), miner1, []common.Hash{jobTx.Hash(), {7}})
	if err != nil {
		t.Fatal(err)
	}
	if err := chain.VerifyProof(root, p); err != nil {
		t.Fatalf("honest proof: %v", err)
	}
	if p.Reward.IsZero() || p.Jobs[0].Job == nil || p.Jobs[1].Job != nil {
		t.Fatal("proof lost the reward or the job")
	}
	absent, err := h.c.Proof(b.Hash(), common.Address{9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := chain.VerifyProof(root, absent); err != nil || !absent.Balance.IsZero() {
		t.Fatalf("proof of an absent account: %v", err)
	}

	tampered := *p
	tampered.AccountProof = append([][]byte(nil), p.AccountProof...)
	last := append([]byte(nil), p.AccountProof[len(p.AccountProof)-1]...)
	last[len(last)-1] ^= 1
	tampered.AccountProof[len(tampered.AccountProof)-1] = last
	if err := chain.VerifyProof(root, &tampered); !errors.Is(err, chain.ErrBadProof) {
		t.Fatalf("tampered node: %v", err)
	}
	lie := *p
	lie.Balance = new(uint256.Int).AddUint64(p.Balance, 1)
	if err := chain.VerifyProof(root, &lie); !errors.Is(err, chain.ErrBadProof) {
		t.Fatalf("changed balance: %v", err)
	}
	lieJob := *p
	j := *p.Jobs[0].Job
	j.Status = chain.JobDone
	lieJob.Jobs = []chain.JobProof{{ID: p.Jobs[0].ID, Job: &j, Proof: p.Jobs[0].Proof}}
	if err := chain.VerifyProof(root, &lieJob); !errors.Is(err, chain.ErrBadProof) {
		t.Fatalf("changed job: %v", err)
	}
	if err := chain.VerifyProof(h.c.GetBlockByNumber(1).Header.StateRoot, p); !errors.Is(err, chain.ErrBadProof) {
		t.Fatalf("another root: %v", err)
	}
}
