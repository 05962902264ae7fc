package types

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// JobResult is a job's output carried in a block body. For a matrix-product
// job: the int32 product, little-endian row-major, checked with Freivalds'
// algorithm. For a training job: Rows = Cols = 0, no Data, and Train is the
// segment of steps it adds (docs/protocol.md §12). A matmul result encodes
// as the four-field list it always did: Train is optional and nil. Its hash
// is committed in the job's state record.
type JobResult struct {
	JobID common.Hash
	Rows  uint32
	Cols  uint32
	Data  []byte
	Train *TrainSegment `rlp:"optional"`
}

// TrainSegment is a stretch of a training job's steps, (FromStep, ToStep]:
// the checkpoint root after each interval (every TrainCheckpointInterval
// steps, the last one possibly shorter at the job's end), the encoded state
// at ToStep (whose root is the last root) and the start states of the
// intervals a validator replays (docs/protocol.md §12).
type TrainSegment struct {
	FromStep uint32
	ToStep   uint32
	Roots    []common.Hash
	EndState []byte
	Samples  []TrainSample
}

// TrainSample is the encoded state at the start of interval Interval of a
// segment (the state after FromStep + Interval·k steps); interval 0 starts
// at the job's checkpoint on chain and never needs one.
type TrainSample struct {
	Interval uint32
	State    []byte
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

// EncodedSize is the length of rlp(b), computed without encoding the job
// programs and result data again (a block may hold tens of MiB of them):
// what the block byte cap (Params.MaxBlockBytes) is checked against.
func (b *Block) EncodedSize() uint64 {
	var txs, results uint64
	for _, tx := range b.Txs {
		txs += TxEncodedSize(tx)
	}
	for _, r := range b.Results {
		results += r.EncodedSize()
	}
	header := uint64(1) // a nil header encodes as an empty list (and is refused on decode)
	if b.Header != nil {
		enc, _ := rlp.EncodeToBytes(b.Header)
		header = uint64(len(enc))
	}
	return rlp.ListSize(header + rlp.ListSize(txs) + rlp.ListSize(results))
}

// EncodedSize is the length of rlp(r).
func (r *JobResult) EncodedSize() uint64 {
	n := withBlob(&JobResult{JobID: r.JobID, Rows: r.Rows, Cols: r.Cols}, r.Data)
	if r.Train == nil {
		return n
	}
	_, content := listParts(n)
	return rlp.ListSize(content + r.Train.EncodedSize())
}

// EncodedSize is the length of rlp(s), computed without encoding its states.
func (s *TrainSegment) EncodedSize() uint64 {
	var samples uint64
	for _, x := range s.Samples {
		samples += withBlob(&TrainSample{Interval: x.Interval}, x.State)
	}
	// The empty EndState and the empty sample list are one byte each.
	n := withBlob(&TrainSegment{FromStep: s.FromStep, ToStep: s.ToStep, Roots: s.Roots}, nil)
	_, content := listParts(n)
	return rlp.ListSize(content - 1 - 1 + blobSize(s.EndState) + rlp.ListSize(samples))
}

// listParts splits the size n of an RLP list into header and content sizes.
func listParts(n uint64) (header, content uint64) {
	for h := uint64(1); h <= 9; h++ {
		if rlp.ListSize(n-h) == n {
			return h, n - h
		}
	}
	return 0, n
}

// TxEncodedSize is the length of rlp(tx).
func TxEncodedSize(tx *Tx) uint64 {
	return withBlob(&Tx{
		ChainID: tx.ChainID, Nonce: tx.Nonce, Kind: tx.Kind, To: tx.To, Value: tx.Value, Fee: tx.Fee,
		Expiry: tx.Expiry, Sig: tx.Sig,
	}, tx.Program)
}

// withBlob sizes the RLP list v whose one empty byte-string field is to
// hold blob: the empty string's one byte gives way to blob's encoding.
func withBlob(v any, blob []byte) uint64 {
	enc, err := rlp.EncodeToBytes(v)
	if err != nil {
		return 0
	}
	_, content, _, err := rlp.Split(enc)
	if err != nil {
		return 0
	}
	return rlp.ListSize(uint64(len(content)) - 1 + blobSize(blob))
}

// blobSize is the length of a byte string's RLP encoding.
func blobSize(b []byte) uint64 {
	if len(b) == 1 && b[0] < 0x80 {
		return 1
	}
	return rlp.ListSize(uint64(len(b))) // string and list headers have the same length
}
