package node

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// JSON shapes of the `quern` RPC namespace. Amounts are decimal strings in
// wei (1 QRN = 10^18 wei) so that no client loses precision; numbers that
// fit in 64 bits are plain JSON numbers. These are a contract with users'
// scripts: add fields, never rename them.

// RPCHeader is a block header as served by quern_getBlockByNumber.
type RPCHeader struct {
	Hash       common.Hash    `json:"hash"`
	ParentHash common.Hash    `json:"parentHash"`
	Number     uint64         `json:"number"`
	Time       uint64         `json:"time"` // unix ms
	Coinbase   common.Address `json:"coinbase"`
	Difficulty uint64         `json:"difficulty"` // MACs
	TotalDiff  string         `json:"totalDifficulty"`
	StateRoot  common.Hash    `json:"stateRoot"`
	TxRoot     common.Hash    `json:"txRoot"`
	ResultRoot common.Hash    `json:"resultRoot"`
	Seal       RPCSeal        `json:"seal"`
}

// RPCSeal is the proof of useful work in a header.
type RPCSeal struct {
	Nonce      uint64      `json:"nonce"`
	JobID      common.Hash `json:"jobId"` // zero: synthetic puzzle
	Op         uint32      `json:"op"`
	Step       uint32      `json:"step"`
	TileI      uint32      `json:"tileI"`
	TileJ      uint32      `json:"tileJ"`
	TileDigest common.Hash `json:"tileDigest"`
}

// RPCBlock is quern_getBlockByNumber's answer.
type RPCBlock struct {
	RPCHeader
	Txs     []RPCTx        `json:"transactions"`
	Results []RPCResultRef `json:"results"`
}

// RPCTx is a transaction in a block.
type RPCTx struct {
	Hash   common.Hash    `json:"hash"`
	From   common.Address `json:"from"`
	Kind   string         `json:"kind"` // "transfer" | "job"
	Nonce  uint64         `json:"nonce"`
	To     common.Address `json:"to"`
	Value  string         `json:"value"`
	Fee    string         `json:"fee"`
	Expiry uint64         `json:"expiry,omitempty"`
}

// RPCResultRef names a job result carried by a block (its data is served by
// quern_getJobResult).
type RPCResultRef struct {
	JobID common.Hash `json:"jobId"`
	Rows  uint32      `json:"rows"`
	Cols  uint32      `json:"cols"`
	Hash  common.Hash `json:"hash"`
}

// RPCJob is quern_getJob's answer.
type RPCJob struct {
	ID         common.Hash    `json:"id"`
	Owner      common.Address `json:"owner"`
	Status     string         `json:"status"` // "submitted" (in the txpool) | "pending" | "done" | "expired"
	Fee        string         `json:"fee"`
	Work       uint64         `json:"work"` // MACs
	Rows       uint32         `json:"rows"`
	Cols       uint32         `json:"cols"`
	Submitted  uint64         `json:"submitted"`
	Expiry     uint64         `json:"expiry"`
	DoneBlock  uint64         `json:"doneBlock,omitempty"`
	Miner      common.Address `json:"miner,omitempty"`
	ResultHash common.Hash    `json:"resultHash,omitempty"`
	Burned     string         `json:"burned,omitempty"`
	MinerFee   string         `json:"minerFee,omitempty"`

	Kind string `json:"kind"` // "matmul" | "train"
	// Training jobs (0 and absent for matmul): steps on chain of Steps, the
	// root of the state after them, and the miner fees paid so far. While a
	// training job runs, miner and minerFee are those of its last segment.
	StepsDone  uint32       `json:"stepsDone"`
	Steps      uint32       `json:"steps"`
	Checkpoint *common.Hash `json:"checkpoint,omitempty"`
	Paid       string       `json:"paid,omitempty"`
}

// RPCJobResult is quern_getJobResult's answer: the int32 product,
// little-endian row-major bytes; for a training job no product (rows = cols
// = 0) but the trained model, and block is where it was done (0 when it
// expired).
type RPCJobResult struct {
	JobID common.Hash      `json:"jobId"`
	Rows  uint32           `json:"rows"`
	Cols  uint32           `json:"cols"`
	Data  hexutil.Bytes    `json:"data"`
	Block uint64           `json:"block"`
	Train *RPCTrainedModel `json:"train,omitempty"`
}

// RPCTrainedModel is a training job's model at a checkpoint on chain (the
// final one of a done job, the last one of an expired job): what inference
// runs (vm.Model), from the state's master weights.
type RPCTrainedModel struct {
	Layers     []uint32        `json:"layers"`   // widths, input first
	ActShift   []uint32        `json:"actShift"` // one per hidden layer
	W          []hexutil.Bytes `json:"w"`        // layer l: layers[l]×layers[l+1] int8, row-major
	B          [][]int32       `json:"b"`        // layer l: layers[l+1] biases
	Steps      uint32          `json:"steps"`    // steps the model was trained for
	TotalSteps uint32          `json:"totalSteps"`
	Checkpoint common.Hash     `json:"checkpoint"` // the state's root
	Meta       hexutil.Bytes   `json:"meta"`       // the job's meta: the client's quantisation rule
}

// RPCSyncing is quern_syncing's answer when a sync is running (otherwise false).
type RPCSyncing struct {
	Current uint64 `json:"currentBlock"`
	Highest uint64 `json:"highestBlock"`
}

// RPCSyncState is quern_syncing's answer: false, or Progress while a sync runs.
type RPCSyncState struct{ Progress *RPCSyncing }

func (s RPCSyncState) MarshalJSON() ([]byte, error) {
	if s.Progress == nil {
		return []byte("false"), nil
	}
	return json.Marshal(s.Progress)
}

func (s *RPCSyncState) UnmarshalJSON(b []byte) error {
	if t := strings.TrimSpace(string(b)); t == "false" || t == "null" {
		*s = RPCSyncState{}
		return nil
	}
	var p RPCSyncing
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("quern_syncing: want false or {currentBlock, highestBlock}: %w", err)
	}
	*s = RPCSyncState{Progress: &p}
	return nil
}

// RPCNodeInfo is quern_nodeInfo's answer.
type RPCNodeInfo struct {
	ID      string      `json:"id"`
	Addrs   []string    `json:"addrs"` // full multiaddrs with /p2p/<id>
	Network string      `json:"network"`
	ChainID uint64      `json:"chainId"`
	Genesis common.Hash `json:"genesis"`
	Head    uint64      `json:"head"`
	Peers   int         `json:"peers"`
	Mining  bool        `json:"mining"`
	Backend string      `json:"backend"` // compute backend in use
}

// RPCRewards is quern_minerRewards's answer.
type RPCRewards struct {
	Address common.Address `json:"address"`
	Total   string         `json:"total"`  // wei earned as coinbase: subsidies + fees
	Blocks  uint64         `json:"blocks"` // canonical blocks mined (0 when not counted)
}
