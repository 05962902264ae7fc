package types

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Work names one matrix product a miner computed: a job's product or a
// synthetic puzzle (zero JobID). Its hash is the workRef of PROTOCOL.md §3.
type Work struct {
	JobID common.Hash // zero for a synthetic puzzle
	Op    uint32      // index of the product inside the job program
	Step  uint32      // training step (0 for a plain matmul job)
}

// IsSynthetic reports whether w names a synthetic puzzle rather than a job.
func (w Work) IsSynthetic() bool { return w.JobID == (common.Hash{}) }

// Ref is workRef = Keccak256(rlp(w)).
func (w Work) Ref() common.Hash { return rlpHash(&w) }

// Seal is the proof of useful work carried in a header: the miner's nonce,
// the product it computed, the winning output tile and that tile's digest.
type Seal struct {
	Nonce      uint64
	Work       Work
	TileI      uint32
	TileJ      uint32
	TileDigest common.Hash
}

// Header is a block header. Time is in unix milliseconds; Difficulty is the
// expected number of multiply-accumulates (MACs) behind one block.
type Header struct {
	ParentHash common.Hash
	Number     uint64
	Time       uint64
	Coinbase   common.Address
	Difficulty uint64
	StateRoot  common.Hash
	TxRoot     common.Hash
	ResultRoot common.Hash
	Seal       Seal
}

// Hash is Keccak256(rlp(header)); it also keys Freivalds' vectors, so it
// commits to the results (through ResultRoot) as well as the seal.
func (h *Header) Hash() common.Hash { return rlpHash(h) }

// Copy returns a deep copy (headers hold no pointers, so a value copy).
func (h *Header) Copy() *Header { c := *h; return &c }

func rlpHash(v any) common.Hash {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		// Only reachable with a type rlp cannot encode: a programming error.
		panic("types: rlp encode: " + err.Error())
	}
	return crypto.Keccak256Hash(b)
}
