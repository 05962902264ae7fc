package types

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// JobResult is a matrix-product job's output carried in a block body: the
// int32 product, little-endian row-major. Validators check it with
// Freivalds' algorithm; its hash is committed in the job's state record.
type JobResult struct {
	JobID common.Hash
	Rows  uint32
	Cols  uint32
	Data  []byte
}

// Hash is Keccak256(rlp(result)).
func (r *JobResult) Hash() common.Hash { return rlpHash(r) }

// Body is what a block carries besides its header.
type Body struct {
	Txs     []*Tx
	Results []*JobResult
}

// Block is a header with its body. It is encoded as the RLP list
// [header, txs, results].
type Block struct {
	Header  *Header
	Txs     []*Tx
	Results []*JobResult
}

func (b *Block) Hash() common.Hash       { return b.Header.Hash() }
func (b *Block) Number() uint64          { return b.Header.Number }
func (b *Block) ParentHash() common.Hash { return b.Header.ParentHash }
func (b *Block) Body() *Body             { return &Body{Txs: b.Txs, Results: b.Results} }

// TxRoot is Keccak256(rlp([txHash...])): a flat list commitment (v1 has no
// light clients, so no Merkle proofs are needed). Empty list included.
func TxRoot(txs []*Tx) common.Hash {
	hs := make([]common.Hash, len(txs))
	for i, tx := range txs {
		hs[i] = tx.Hash()
	}
	return rlpHash(hs)
}

// ResultRoot is Keccak256(rlp([resultHash...])).
func ResultRoot(rs []*JobResult) common.Hash {
	hs := make([]common.Hash, len(rs))
	for i, r := range rs {
		hs[i] = r.Hash()
	}
	return rlpHash(hs)
}

// EmptyRoot is the root of an empty tx or result list.
var EmptyRoot = ResultRoot(nil)

// Keccak is a convenience alias used across packages for domain hashes.
func Keccak(parts ...[]byte) common.Hash { return crypto.Keccak256Hash(parts...) }
