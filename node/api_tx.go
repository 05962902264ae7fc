package node

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
)

// Statuses of quern_getTransactionStatus.
const (
	TxStatusPending = "pending" // executable: the miner takes it
	TxStatusQueued  = "queued"  // waits on a nonce gap or funds
	TxStatusMined   = "mined"   // in the canonical chain
	TxStatusDropped = "dropped" // the pool let it go without a block; reason says why
	TxStatusUnknown = "unknown" // never seen here, or dropped too long ago to be remembered
)

// RPCTxStatus is quern_getTransactionStatus's answer.
type RPCTxStatus struct {
	Hash      common.Hash  `json:"hash"`
	Status    string       `json:"status"`
	Block     *uint64      `json:"block,omitempty"`     // mined: the block's number
	BlockHash *common.Hash `json:"blockHash,omitempty"` // mined: the block's hash
	Reason    string       `json:"reason,omitempty"`    // dropped: "evicted: pool full: outbid by 0x…"
	DroppedAt uint64       `json:"droppedAt,omitempty"` // dropped: unix ms
}

// GetTransactionStatus says where tx h stands: mined (in the canonical
// chain), pending or queued in this node's pool, dropped by it with a
// reason, or unknown. A tx this node accepted is never unknown while the
// pool remembers its drop (tens of thousands of drops back).
func (api *API) GetTransactionStatus(h common.Hash) *RPCTxStatus {
	out := &RPCTxStatus{Hash: h}
	if _, l, ok := api.n.chain.GetTransaction(h); ok {
		out.Status, out.Block, out.BlockHash = TxStatusMined, &l.Number, &l.BlockHash
		return out
	}
	st := api.n.pool.Status(h)
	switch st.State {
	case chain.TxPending:
		out.Status = TxStatusPending
	case chain.TxQueued:
		out.Status = TxStatusQueued
	case chain.TxDropped:
		out.Status, out.Reason = TxStatusDropped, string(st.Drop.Reason)
		if st.Drop.Detail != "" {
			out.Reason += ": " + st.Drop.Detail
		}
		out.DroppedAt = uint64(st.Drop.Time.UnixMilli())
	default:
		out.Status = TxStatusUnknown
	}
	return out
}
