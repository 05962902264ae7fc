package node

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/holiman/uint256"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// RPCProof is quern_getProof's answer, in the shape of EIP-1186: each proof
// is the RLP trie nodes from the state root down to the key
// (docs/protocol.md §8). Wei amounts are decimal strings, as elsewhere in
// the quern namespace.
type RPCProof struct {
	Address      common.Address  `json:"address"`
	Balance      string          `json:"balance"`
	Nonce        uint64          `json:"nonce"`
	AccountProof []hexutil.Bytes `json:"accountProof"`
	Reward       string          `json:"reward"`
	RewardProof  []hexutil.Bytes `json:"rewardProof"`
	JobProofs    []RPCJobProof   `json:"jobProofs"`
	StateRoot    common.Hash     `json:"stateRoot"`
	BlockHash    common.Hash     `json:"blockHash"`
	BlockNumber  uint64          `json:"blockNumber"`
}

// RPCJobProof proves one job record: record is its RLP encoding as the trie
// stores it, empty when there is no such job.
type RPCJobProof struct {
	ID     common.Hash     `json:"id"`
	Record hexutil.Bytes   `json:"record"`
	Proof  []hexutil.Bytes `json:"proof"`
}

// GetProof proves addr's account and miner reward and the given jobs'
// records in the state after block (a number or "latest"; both may be
// null or left out: no jobs, the head). A block whose state this node no
// longer keeps is refused with an error that says which node has it.
func (api *API) GetProof(addr common.Address, jobList *[]common.Hash, block *BlockNumber) (*RPCProof, error) {
	c := api.n.chain
	var jobs []common.Hash
	if jobList != nil {
		jobs = *jobList
	}
	hash := c.CurrentBlock().Hash()
	if block != nil && !block.Latest {
		h, ok := c.CanonicalHash(block.Number)
		if !ok {
			return nil, fmt.Errorf("no block %d (head is %d)", block.Number, c.CurrentBlock().Number())
		}
		hash = h
	}
	if len(jobs) > maxProofJobs {
		return nil, fmt.Errorf("%d jobs: at most %d in one proof", len(jobs), maxProofJobs)
	}
	p, err := c.Proof(hash, addr, jobs)
	if err != nil {
		return nil, err
	}
	return ToRPCProof(p), nil
}

// maxProofJobs bounds one quern_getProof call's work.
const maxProofJobs = 64

// ToRPCProof is p's JSON form.
func ToRPCProof(p *chain.StateProof) *RPCProof {
	out := &RPCProof{
		Address: p.Address, Balance: dec(p.Balance), Nonce: p.Nonce, Reward: dec(p.Reward),
		AccountProof: hexList(p.AccountProof), RewardProof: hexList(p.RewardProof),
		JobProofs: make([]RPCJobProof, 0, len(p.Jobs)),
		StateRoot: p.StateRoot, BlockHash: p.Block, BlockNumber: p.Number,
	}
	for _, j := range p.Jobs {
		jp := RPCJobProof{ID: j.ID, Proof: hexList(j.Proof)}
		if j.Job != nil {
			jp.Record = chain.EncodeJobRecord(j.Job)
		}
		out.JobProofs = append(out.JobProofs, jp)
	}
	return out
}

// StateProof is the proof p claims, for chain.VerifyProof.
func (p *RPCProof) StateProof() (*chain.StateProof, error) {
	bal, err := parseWei(p.Balance)
	if err != nil {
		return nil, fmt.Errorf("balance: %w", err)
	}
	reward, err := parseWei(p.Reward)
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	sp := &chain.StateProof{
		Block: p.BlockHash, Number: p.BlockNumber, StateRoot: p.StateRoot, Address: p.Address,
		Balance: bal, Nonce: p.Nonce, AccountProof: byteList(p.AccountProof),
		Reward: reward, RewardProof: byteList(p.RewardProof),
	}
	for _, jp := range p.JobProofs {
		j := chain.JobProof{ID: jp.ID, Proof: byteList(jp.Proof)}
		if len(jp.Record) > 0 {
			if j.Job, err = chain.DecodeJobRecord(jp.Record); err != nil {
				return nil, fmt.Errorf("job %s: record: %w", jp.ID, err)
			}
		}
		sp.Jobs = append(sp.Jobs, j)
	}
	return sp, nil
}

// Header rebuilds the header h's fields describe; its Hash is the block
// hash only if every field is what the block has.
func (h *RPCHeader) Header() *types.Header {
	return &types.Header{
		ParentHash: h.ParentHash, Number: h.Number, Time: h.Time, Coinbase: h.Coinbase,
		Difficulty: h.Difficulty, StateRoot: h.StateRoot, TxRoot: h.TxRoot, ResultRoot: h.ResultRoot,
		Seal: types.Seal{
			Nonce: h.Seal.Nonce, Work: types.Work{JobID: h.Seal.JobID, Op: h.Seal.Op, Step: h.Seal.Step},
			TileI: h.Seal.TileI, TileJ: h.Seal.TileJ, TileDigest: h.Seal.TileDigest,
		},
	}
}

func hexList(bs [][]byte) []hexutil.Bytes {
	out := make([]hexutil.Bytes, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
}

func byteList(bs []hexutil.Bytes) [][]byte {
	out := make([][]byte, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
}

// parseWei reads a decimal wei amount as the quern namespace writes it.
func parseWei(s string) (*uint256.Int, error) {
	v, err := uint256.FromDecimal(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a decimal amount of wei", s)
	}
	return v, nil
}
