package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// API is the `quern` JSON-RPC namespace. Method names (quern_blockNumber,
// ...) and answer shapes (api_types.go) are a contract with users.
type API struct {
	n *Node
	// blocks holds recent answers of getBlockByNumber by block hash: a block
	// and its total difficulty never change, and building the answer hashes
	// every tx and result (megabytes for job blocks) and recovers senders.
	blocks *lru.Cache[common.Hash, *RPCBlock]
	// answers bounds the memory of large answers built at once (set by
	// startRPC; nil: unbounded, as for in-process calls).
	answers *answerBudget
	// specs holds training jobs' shapes (their specs without data).
	specs *lru.Cache[common.Hash, *vm.TrainSpec]
	// mined counts canonical blocks by coinbase (api_rewards.go).
	mined minedCounter
}

// rpcBlockCacheSize answers are kept; a 1000-tx answer is about 250 KB.
const rpcBlockCacheSize = 64

func newAPI(n *Node) *API {
	return &API{n: n, blocks: lru.NewCache[common.Hash, *RPCBlock](rpcBlockCacheSize),
		specs: lru.NewCache[common.Hash, *vm.TrainSpec](trainSpecCacheSize)}
}

// BlockNumber is a block argument: a number (JSON number, decimal or 0x hex
// string) or one of the tags "latest", "pending" (both the head) and
// "earliest" (genesis).
type BlockNumber struct {
	Number uint64
	Latest bool
}

// UnmarshalJSON accepts 12, "12", "0xc", "latest", "pending", "earliest" (and
// null for the head). Numbers are strict: no sign, no fraction or exponent,
// no leading zeros, no octal, binary or underscore forms (ParseUint with base
// 0 read "012" as block 10); hex follows Ethereum's quantity rules.
func (b *BlockNumber) UnmarshalJSON(data []byte) error {
	if len(data) == 0 || data[0] != '"' {
		if string(data) == "null" {
			*b = BlockNumber{Latest: true}
			return nil
		}
		var n uint64
		if err := json.Unmarshal(data, &n); err != nil {
			return fmt.Errorf("invalid block number %s: %s", data, blockNumberForms)
		}
		*b = BlockNumber{Number: n}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("invalid block number %s: %s", data, blockNumberForms)
	}
	switch strings.ToLower(s) {
	case "latest", "pending":
		*b = BlockNumber{Latest: true}
		return nil
	case "earliest":
		*b = BlockNumber{}
		return nil
	}
	n, err := parseBlockQuantity(s)
	if err != nil {
		return fmt.Errorf("invalid block number %q: %v; %s", s, err, blockNumberForms)
	}
	*b = BlockNumber{Number: n}
	return nil
}

// MarshalJSON writes the form clients send: "latest", or the number.
func (b BlockNumber) MarshalJSON() ([]byte, error) {
	if b.Latest {
		return []byte(`"latest"`), nil
	}
	return json.Marshal(b.Number)
}

const blockNumberForms = `want a JSON number (12), a decimal string ("12"), a 0x-hex quantity ("0xc") or "latest", "pending", "earliest"`

// parseBlockQuantity reads "0x…" as an Ethereum quantity (hex digits of
// either case, no leading zeros but "0x0") and anything else as plain
// decimal digits without a leading zero.
func parseBlockQuantity(s string) (uint64, error) {
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return hexutil.DecodeUint64(s)
	}
	if s == "" {
		return 0, errors.New("empty string")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a decimal digit", r)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero (octal is not accepted)")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("above 2^64-1")
	}
	return n, nil
}

// BlockNumber is the head's number.
func (api *API) BlockNumber() uint64 { return api.n.chain.CurrentBlock().Number() }

// ChainId is the chain id transactions must be signed for.
func (api *API) ChainId() uint64 { return api.n.chain.Params().ChainID }

// GetBlockByNumber returns the canonical block at number (or the head for
// "latest"), null when there is none.
func (api *API) GetBlockByNumber(number BlockNumber) *RPCBlock {
	c := api.n.chain
	var (
		b    *types.Block
		hash common.Hash
	)
	if number.Latest {
		b = c.CurrentBlock()
		hash = b.Hash()
	} else {
		var ok bool
		if hash, ok = c.CanonicalHash(number.Number); !ok {
			return nil
		}
	}
	if out, ok := api.blocks.Get(hash); ok {
		return out
	}
	if b == nil {
		if b = c.GetBlockByHash(hash); b == nil {
			return nil
		}
	}
	t := c.TD(hash)
	out := api.rpcBlock(b, hash, t)
	if t != nil { // a block is stored with its TD; not yet, it is not cached
		api.blocks.Add(hash, out)
	}
	return out
}

// rpcBlock is rpcBlock with the result hashes of a block whose result
// data was pruned (its results' own hashes changed with their data).
func (api *API) rpcBlock(b *types.Block, hash common.Hash, t *uint256.Int) *RPCBlock {
	out := rpcBlock(b, hash, t)
	if hs := api.n.chain.PrunedResultHashes(hash); len(hs) == len(out.Results) {
		for i := range out.Results {
			out.Results[i].Hash = hs[i]
		}
	}
	return out
}

// rpcBlock is b's answer; td nil reads as "0". Callers share it: read only.
func rpcBlock(b *types.Block, hash common.Hash, t *uint256.Int) *RPCBlock {
	h := b.Header
	td := "0"
	if t != nil {
		td = t.Dec()
	}
	out := &RPCBlock{
		RPCHeader: RPCHeader{
			Hash: hash, ParentHash: h.ParentHash, Number: h.Number, Time: h.Time,
			Coinbase: h.Coinbase, Difficulty: h.Difficulty, TotalDiff: td,
			StateRoot: h.StateRoot, TxRoot: h.TxRoot, ResultRoot: h.ResultRoot,
			Seal: RPCSeal{
				Nonce: h.Seal.Nonce, JobID: h.Seal.Work.JobID, Op: h.Seal.Work.Op, Step: h.Seal.Work.Step,
				TileI: h.Seal.TileI, TileJ: h.Seal.TileJ, TileDigest: h.Seal.TileDigest,
			},
		},
		Txs:     make([]RPCTx, 0, len(b.Txs)),
		Results: make([]RPCResultRef, 0, len(b.Results)),
	}
	for _, tx := range b.Txs {
		out.Txs = append(out.Txs, rpcTx(tx))
	}
	for _, r := range b.Results {
		out.Results = append(out.Results, RPCResultRef{JobID: r.JobID, Rows: r.Rows, Cols: r.Cols, Hash: r.Hash()})
	}
	return out
}

func rpcTx(tx *types.Tx) RPCTx {
	from, _ := tx.Sender() // a tx in a block has a valid signature
	kind := "transfer"
	if tx.Kind == types.TxJob {
		kind = "job"
	}
	return RPCTx{
		Hash: tx.Hash(), From: from, Kind: kind, Nonce: tx.Nonce, To: tx.To,
		Value: dec(tx.Value), Fee: dec(tx.Fee), Expiry: tx.Expiry,
	}
}

// GetBalance is addr's balance at the head, in wei (decimal string).
func (api *API) GetBalance(addr common.Address) string {
	return dec(api.n.chain.State().Account(addr).Balance)
}

// GetTransactionCount is the next nonce of addr: counting the pool's
// transactions for "pending" (the default), the head state's for "latest".
func (api *API) GetTransactionCount(addr common.Address, tag *string) (uint64, error) {
	t := "pending"
	if tag != nil && *tag != "" {
		t = strings.ToLower(*tag)
	}
	switch t {
	case "pending":
		return api.n.pool.PendingNonce(addr), nil
	case "latest":
		return api.n.chain.State().Account(addr).Nonce, nil
	}
	return 0, fmt.Errorf("unknown block tag %q: use \"pending\" or \"latest\"", t)
}

// SendRawTransaction decodes an RLP-encoded signed transaction, adds it to
// the pool (its rejection is returned as is) and gossips it.
func (api *API) SendRawTransaction(raw hexutil.Bytes) (common.Hash, error) {
	tx := new(types.Tx)
	if err := rlp.DecodeBytes(raw, tx); err != nil {
		return common.Hash{}, fmt.Errorf("decode transaction (RLP of a signed quern tx expected): %w", err)
	}
	if err := api.n.pool.Add(tx); err != nil {
		return common.Hash{}, err
	}
	if p := api.n.p2p; p != nil {
		if err := p.BroadcastTx(tx); err != nil {
			api.n.log.Warn("broadcast tx failed (it stays in the local pool)", "tx", tx.Hash(), "err", err)
		}
	}
	return tx.Hash(), nil
}

// JobStatus names a job status as the RPC writes it.
func JobStatus(s uint8) string {
	switch s {
	case chain.JobPending:
		return "pending"
	case chain.JobDone:
		return "done"
	case chain.JobExpired:
		return "expired"
	}
	return fmt.Sprintf("unknown(%d)", s)
}

// GetJob returns a job's record in the head state.
func (api *API) GetJob(id common.Hash) (*RPCJob, error) {
	j, ok := api.n.chain.State().Job(id)
	if !ok {
		return api.poolJob(id)
	}
	out := &RPCJob{
		ID: j.ID, Owner: j.Owner, Status: JobStatus(j.Status), Fee: dec(j.Fee), Work: j.Work,
		Rows: j.Rows, Cols: j.Cols, Submitted: j.Submitted, Expiry: j.Expiry, Kind: "matmul",
	}
	if j.Status == chain.JobDone {
		out.DoneBlock, out.Miner, out.ResultHash = j.DoneBlock, j.Miner, j.ResultHash
		out.Burned, out.MinerFee = dec(j.Burned), dec(j.MinerFee)
	}
	if j.Kind == chain.JobTrain {
		if j.StepsDone > 0 && j.Status != chain.JobDone {
			out.Miner, out.Burned, out.MinerFee = j.Miner, dec(j.Burned), dec(j.MinerFee)
		}
		if err := api.addTrainFields(out, j); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// poolJob answers for a job that is not on chain: one whose tx waits in the
// txpool is "submitted" (its record as the tx declares it), one the pool
// dropped says why, anything else is not found.
func (api *API) poolJob(id common.Hash) (*RPCJob, error) {
	pool := api.n.pool
	st := pool.Status(id)
	switch st.State {
	case chain.TxDropped:
		return nil, fmt.Errorf("job %s not found: its tx was dropped from the txpool (%s: %s)", id.Hex(), st.Drop.Reason, st.Drop.Detail)
	case chain.TxPending, chain.TxQueued:
	default:
		return nil, fmt.Errorf("job %s not found", id.Hex())
	}
	tx := pool.Get(id)
	if tx == nil || tx.Kind != types.TxJob {
		return nil, fmt.Errorf("job %s not found", id.Hex())
	}
	from, _ := tx.Sender() // the pool checked it
	out := &RPCJob{ID: id, Owner: from, Status: "submitted", Fee: dec(tx.Fee), Expiry: tx.Expiry, Kind: "matmul"}
	if prog, err := vm.Decode(tx.Program, chain.JobLimits(api.n.chain.Params())); err == nil {
		out.Work = prog.Work()
		if spec := prog.Train(); spec != nil {
			out.Kind, out.Steps = "train", spec.Steps
		} else if len(prog.Inputs) == 2 {
			out.Rows, out.Cols = prog.Inputs[0].Rows, prog.Inputs[1].Cols
		}
	}
	return out, nil
}

// GetJobResult returns a done job's product (int32, little-endian, row-major).
func (api *API) GetJobResult(ctx context.Context, id common.Hash) (*RPCJobResult, error) {
	j, ok := api.n.chain.State().Job(id)
	if !ok {
		if _, err := api.poolJob(id); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("job %s is submitted: its tx is in the txpool, not yet in a block (no result yet)", id.Hex())
	}
	if j.Kind == chain.JobTrain {
		return api.trainedModel(ctx, j)
	}
	switch j.Status {
	case chain.JobPending:
		return nil, fmt.Errorf("job %s is pending (no result yet)", id.Hex())
	case chain.JobExpired:
		return nil, fmt.Errorf("job %s expired at block %d without a result", id.Hex(), j.Expiry)
	}
	// Read from the store, hex-encoded, marshalled and written: about five
	// copies of the result are alive until the answer is out.
	if err := api.answers.take(ctx, 5*4*int64(j.Rows)*int64(j.Cols)); err != nil {
		return nil, err
	}
	r, err := api.n.chain.JobResult(id)
	if err != nil {
		return nil, fmt.Errorf("job %s: result of block %d: %w", id.Hex(), j.DoneBlock, err)
	}
	if r == nil {
		return nil, fmt.Errorf("job %s: result of block %d is not stored here", id.Hex(), j.DoneBlock)
	}
	return &RPCJobResult{JobID: id, Rows: r.Rows, Cols: r.Cols, Data: r.Data, Block: j.DoneBlock}, nil
}

// Syncing is false, or the sync progress while the node catches up.
func (api *API) Syncing() RPCSyncState {
	if api.n.p2p == nil {
		return RPCSyncState{}
	}
	syncing, current, highest := api.n.p2p.SyncStatus()
	if !syncing {
		return RPCSyncState{}
	}
	return RPCSyncState{Progress: &RPCSyncing{Current: current, Highest: highest}}
}

// NodeInfo describes this node: identity, listen addresses, chain.
func (api *API) NodeInfo() RPCNodeInfo {
	n := api.n
	info := RPCNodeInfo{
		Addrs:   []string{},
		Network: n.chain.Params().Network,
		ChainID: n.chain.Params().ChainID,
		Genesis: n.chain.Genesis().Hash(),
		Head:    n.chain.CurrentBlock().Number(),
		Mining:  n.cfg.Mine,
		Backend: n.backend.Name(),
	}
	if p := n.p2p; p != nil {
		info.ID = fmt.Sprint(p.ID())
		info.Addrs = append(info.Addrs, p.Addrs()...)
		info.Peers = p.PeerCount()
	}
	return info
}

// MinerRewards is what addr has earned as coinbase: subsidies plus fees.
func (api *API) MinerRewards(addr common.Address) RPCRewards {
	return RPCRewards{Address: addr, Total: dec(api.n.chain.State().MinerReward(addr)), Blocks: api.minedBlocks(addr)}
}

// JobBaseFee is the least fee (wei, decimal) a job of work MACs taking bytes
// of block space (program plus result, consensus.JobBytes) must carry to be
// worth mining in the next block: consensus.JobBaseFee at its difficulty.
// bytes is optional (old callers send work alone): without it the answer is
// the work part only, and the job still owes jobByteFee per byte.
func (api *API) JobBaseFee(work uint64, bytes *uint64) string {
	var b uint64
	if bytes != nil {
		b = *bytes
	}
	return consensus.JobBaseFee(api.n.chain.Params(), api.n.nextDifficulty(), work, b).Dec()
}

// nextDifficulty is the difficulty of the head's child.
func (n *Node) nextDifficulty() uint64 {
	return childDifficulty(n.chain, n.chain.CurrentBlock())
}

// childDifficulty is the difficulty a child of parent must carry
// (consensus.CalcDifficulty from parent and grandparent).
func childDifficulty(c *chain.Chain, parent *types.Block) uint64 {
	return c.NextDifficulty(parent.Header)
}

func dec(v *uint256.Int) string {
	if v == nil {
		return "0"
	}
	return v.Dec()
}
