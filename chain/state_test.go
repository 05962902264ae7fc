package chain_test

import (
	"bytes"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

func TestStateEncodingRoundTrip(t *testing.T) {
	h := newHarness(t)
	job := newTestJob(t, 9, 2, 2, 2)
	h.mine(miner1, []*types.Tx{transfer(t, key1, 0, addr2, qrn(1)), job.tx(t, key1, 1, 50, qrn(1))})
	st := h.c.State()
	enc := chain.EncodeState(st)
	dec, err := chain.DecodeState(enc)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Root() != st.Root() || !bytes.Equal(chain.EncodeState(dec), enc) {
		t.Fatal("state round trip changed the encoding")
	}
	if st.Root() != types.Keccak(enc) {
		t.Fatal("root is not Keccak256 of the snapshot")
	}
	if len(dec.PendingJobs()) != 1 || !dec.MinerReward(miner1).Eq(st.MinerReward(miner1)) {
		t.Fatal("decoded state lost jobs or rewards")
	}
	// Copies are independent and an untouched (zero) account does not change the root.
	cp := st.Copy()
	if cp.Root() != st.Root() {
		t.Fatal("copy changed the root")
	}
	if acc := cp.Account(common.Address{5}); !acc.Balance.IsZero() || acc.Nonce != 0 {
		t.Fatal("absent account not zero")
	}
	acc := st.Account(addr1)
	acc.Balance.SetUint64(0) // a copy: must not write through
	if st.Account(addr1).Balance.IsZero() {
		t.Fatal("Account returned a shared balance")
	}
	if _, err := chain.DecodeState([]byte{0xc3, 0x01, 0x02, 0x03}); err == nil {
		t.Fatal("garbage state decoded")
	}
}
