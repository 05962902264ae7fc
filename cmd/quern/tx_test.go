package main

import (
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/node"
)

// quern tx status against a real, non-mining dev node: txs stay in its pool.
func TestTxStatus(t *testing.T) {
	n := startDevNode(t, devNodeOpts{})
	url := n.url

	p := n.Chain().Params()
	sign := func(nonce uint64, fee *uint256.Int) *types.Tx {
		tx := &types.Tx{ChainID: p.ChainID, Nonce: nonce, To: common.HexToAddress("0xbeef"), Value: uint256.NewInt(1), Fee: fee}
		if err := tx.Sign(chain.DevKey()); err != nil {
			t.Fatal(err)
		}
		if err := n.TxPool().Add(tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	pending := sign(0, p.MinTxFee)
	replaced := sign(3, p.MinTxFee)
	queued := sign(3, new(uint256.Int).Mul(p.MinTxFee, uint256.NewInt(2)))

	for _, tc := range []struct {
		hash         common.Hash
		want, detail string
	}{
		{pending.Hash(), "pending", ""},
		{queued.Hash(), "queued", "earlier nonce"},
		{replaced.Hash(), "dropped", "dropped: replaced: by " + queued.Hash().Hex()},
		{common.HexToHash("0x77"), "unknown", "has not seen it"},
	} {
		stdout, stderr, code := quern(t, "tx", "status", "--rpc", url, tc.hash.Hex())
		if code != 0 || stdout != tc.want+"\n" || !strings.Contains(stderr, tc.detail) {
			t.Errorf("tx status %s: exit %d, stdout %q, stderr %q; want %q and %q", tc.hash, code, stdout, stderr, tc.want, tc.detail)
		}
	}
	var st node.RPCTxStatus
	jsonOf(t, &st, "tx", "status", "--json", "--rpc", url, replaced.Hash().Hex())
	if st.Hash != replaced.Hash() || st.Status != "dropped" || st.Reason != "replaced: by "+queued.Hash().Hex() || st.DroppedAt == 0 {
		t.Errorf("tx status --json: %+v", st)
	}
	_, stderr, code := quern(t, "tx", "status", "--rpc", url, "0x12")
	wantError(t, stderr, code, "64 hex digits")
}
