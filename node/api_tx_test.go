package node

import (
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

// signedDevTx returns the RLP of a dev-key transfer of 1 wei paying fee.
func signedDevTx(t *testing.T, tn *testNode, nonce uint64, fee *uint256.Int) (hexutil.Bytes, *types.Tx) {
	t.Helper()
	tx := &types.Tx{ChainID: tn.Chain().Params().ChainID, Nonce: nonce, To: testCoinbase, Value: uint256.NewInt(1), Fee: fee}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	raw, err := rlp.EncodeToBytes(tx)
	if err != nil {
		t.Fatal(err)
	}
	return raw, tx
}

func TestGetTransactionStatus(t *testing.T) {
	m := newMiner(t, "miner")
	floor := m.Chain().Params().MinTxFee
	status := func(h common.Hash) *RPCTxStatus {
		t.Helper()
		var st *RPCTxStatus
		m.call(&st, "getTransactionStatus", h)
		if st == nil || st.Hash != h {
			t.Fatalf("status of %s: %+v", h, st)
		}
		return st
	}
	send := func(raw hexutil.Bytes) {
		t.Helper()
		var h common.Hash
		m.call(&h, "sendRawTransaction", raw)
	}

	rawMined, mined := signedDevTx(t, m, 0, floor)
	send(rawMined)
	// Nonce 2 waits on nonce 1, which never comes; a +10% bump replaces it.
	rawQueued, queued := signedDevTx(t, m, 2, floor)
	send(rawQueued)
	rawBump, bump := signedDevTx(t, m, 2, new(uint256.Int).Mul(floor, uint256.NewInt(2)))
	send(rawBump)

	if st := status(bump.Hash()); st.Status != TxStatusQueued {
		t.Fatalf("gapped tx: %+v", st)
	}
	if st := status(queued.Hash()); st.Status != TxStatusDropped || !strings.HasPrefix(st.Reason, string(chain.DropReplaced)) || st.DroppedAt == 0 {
		t.Fatalf("replaced tx: %+v", st)
	}
	if st := status(common.HexToHash("0x1234")); st.Status != TxStatusUnknown || st.Block != nil || st.Reason != "" {
		t.Fatalf("unknown tx: %+v", st)
	}
	var st *RPCTxStatus
	waitFor(t, time.Minute, "the transfer to be mined", func() bool { st = status(mined.Hash()); return st.Status == TxStatusMined })
	b := m.block(*st.Block)
	if st.BlockHash == nil || b == nil || b.Hash != *st.BlockHash {
		t.Fatalf("mined tx: %+v, block %v", st, b)
	}
}
