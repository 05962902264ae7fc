package chain

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
)

// Every key the chain stores in badger. Values are RLP unless noted.
//
//	"v"                      → schema version, 8-byte big-endian
//	"G"                      → genesis hash (32 bytes)
//	"H"                      → head block hash (32 bytes)
//	"h" ‖ blockHash          → header
//	"b" ‖ blockHash          → body [txs, results]
//	"t" ‖ blockHash          → total difficulty, 32-byte big-endian
//	"S" ‖ number ‖ blockHash → the block's state journal [born, dead] (trie.go):
//	                           present while the block's state is kept (the last
//	                           stateRetention blocks, canonical or not; all of
//	                           them in archive mode), by height for the pruning
//	"T" ‖ nodeHash           → uvarint reference count ‖ state trie node (RLP,
//	                           go-ethereum's encoding; trie.go)
//	"n" ‖ number (8-byte BE) → canonical block hash (32 bytes)
//	"p" ‖ jobID              → job program, raw vm encoding (content-addressed:
//	                           written for every imported block, canonical or not)
//	"c" ‖ stateRoot          → training checkpoint state, raw vm.TrainState encoding
//	                           (content-addressed by its root: every job's initial
//	                           state and every segment's end state, any branch)
//	"P"                      → number of the snap sync pivot, 8-byte BE (absent:
//	                           synced from genesis); blocks below it have headers
//	                           only
//	"D" ‖ number ‖ blockHash → empty: a block whose results carry data, by height,
//	                           for the result pruning (resultRetention)
//	"d" ‖ blockHash          → rlp([resultHash…]): the block's result data was
//	                           pruned; its body keeps the results without data
//	"l" ‖ txHash             → tx lookup [blockHash, number, index], canonical only
var (
	keyVersion   = []byte("v")
	keyGenesis   = []byte("G")
	keyHead      = []byte("H")
	keySnapPivot = []byte("P")
	prefixHeader = []byte("h")
	prefixBody   = []byte("b")
	prefixTD     = []byte("t")
	prefixStateN = []byte("S")
	prefixTrie   = []byte("T")
	prefixResN   = []byte("D")
	prefixResCut = []byte("d")
	prefixCanon  = []byte("n")
	prefixProg   = []byte("p")
	prefixTxLook = []byte("l")
	prefixCkpt   = []byte("c")
)

// schemaVersion changes whenever a stored encoding does. Version 2 added the
// "S" snapshot index; version 3 the training fields of the job record (a
// hard fork: state roots and the genesis changed) and the "c" checkpoints;
// version 4 the state trie (another hard fork: the state root is the trie's)
// in place of whole snapshots. An older datadir holds another chain: it is
// refused, to be deleted.
const schemaVersion = 4

func hashKey(prefix []byte, h common.Hash) []byte {
	return append(append(make([]byte, 0, len(prefix)+common.HashLength), prefix...), h[:]...)
}

func headerKey(h common.Hash) []byte   { return hashKey(prefixHeader, h) }
func bodyKey(h common.Hash) []byte     { return hashKey(prefixBody, h) }
func tdKey(h common.Hash) []byte       { return hashKey(prefixTD, h) }
func trieNodeKey(h common.Hash) []byte { return hashKey(prefixTrie, h) }
func programKey(h common.Hash) []byte  { return hashKey(prefixProg, h) }
func checkpointKey(root common.Hash) []byte {
	return hashKey(prefixCkpt, root)
}
func txLookupKey(h common.Hash) []byte {
	return hashKey(prefixTxLook, h)
}

// stateIndexKey sorts snapshots by height, so pruning reads a key prefix.
func stateIndexKey(n uint64, h common.Hash) []byte {
	k := binary.BigEndian.AppendUint64(append(make([]byte, 0, 1+8+common.HashLength), prefixStateN...), n)
	return append(k, h[:]...)
}

// parseStateIndexKey is stateIndexKey's inverse.
func parseStateIndexKey(k []byte) (uint64, common.Hash, bool) {
	if len(k) != 1+8+common.HashLength || k[0] != prefixStateN[0] {
		return 0, common.Hash{}, false
	}
	return binary.BigEndian.Uint64(k[1:9]), common.BytesToHash(k[9:]), true
}

func canonKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefixCanon...), n)
}

// resultIndexKey sorts blocks with result data by height.
func resultIndexKey(n uint64, h common.Hash) []byte {
	k := binary.BigEndian.AppendUint64(append(make([]byte, 0, 1+8+common.HashLength), prefixResN...), n)
	return append(k, h[:]...)
}

func resultsPrunedKey(h common.Hash) []byte { return hashKey(prefixResCut, h) }
