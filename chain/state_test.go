package chain_test

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
)

// The state read back from the store (a reopened chain) is the one the block
// committed: same root, accounts, jobs, rewards and pending index; copies
// are independent and a read of an absent account changes nothing.
func TestStateStoredAndReadBack(t *testing.T) {
	h := newHarness(t)
	job := newTestJob(t, 9, 2, 2, 2)
	h.mine(miner1, []*types.Tx{transfer(t, key1, 0, addr2, qrn(1)), job.tx(t, key1, 1, 50, qrn(1))})
	st := h.c.State()
	bal, reward := st.Account(addr2).Balance, st.MinerReward(miner1)
	h.reopen()
	dec := h.c.State()
	if dec.Root() != st.Root() || !dec.Account(addr2).Balance.Eq(bal) || !dec.MinerReward(miner1).Eq(reward) {
		t.Fatal("reopened state differs")
	}
	if pj := dec.PendingJobs(); len(pj) != 1 || pj[0].ID != job.tx(t, key1, 1, 50, qrn(1)).Hash() {
		t.Fatalf("pending jobs after reopen: %v", pj)
	}
	if dec.Account(addr1).Nonce != 2 {
		t.Fatal("nonce lost")
	}
	cp := dec.Copy()
	if cp.Root() != dec.Root() {
		t.Fatal("copy changed the root")
	}
	if acc := cp.Account(common.Address{5}); !acc.Balance.IsZero() || acc.Nonce != 0 {
		t.Fatal("absent account not zero")
	}
	if cp.Root() != dec.Root() {
		t.Fatal("reading an absent account changed the root")
	}
	acc := dec.Account(addr1)
	acc.Balance.SetUint64(0) // a copy: must not write through
	if dec.Account(addr1).Balance.IsZero() {
		t.Fatal("Account returned a shared balance")
	}
	if err := dec.Err(); err != nil {
		t.Fatal(err)
	}
}
