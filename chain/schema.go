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
//	"s" ‖ blockHash          → state snapshot after the block (EncodeState)
//	"n" ‖ number (8-byte BE) → canonical block hash (32 bytes)
//	"p" ‖ jobID              → job program, raw vm encoding (content-addressed:
//	                           written for every imported block, canonical or not)
//	"l" ‖ txHash             → tx lookup [blockHash, number, index], canonical only
var (
	keyVersion   = []byte("v")
	keyGenesis   = []byte("G")
	keyHead      = []byte("H")
	prefixHeader = []byte("h")
	prefixBody   = []byte("b")
	prefixTD     = []byte("t")
	prefixState  = []byte("s")
	prefixCanon  = []byte("n")
	prefixProg   = []byte("p")
	prefixTxLook = []byte("l")
)

// schemaVersion changes whenever a stored encoding does.
const schemaVersion = 1

func hashKey(prefix []byte, h common.Hash) []byte {
	return append(append(make([]byte, 0, len(prefix)+common.HashLength), prefix...), h[:]...)
}

func headerKey(h common.Hash) []byte  { return hashKey(prefixHeader, h) }
func bodyKey(h common.Hash) []byte    { return hashKey(prefixBody, h) }
func tdKey(h common.Hash) []byte      { return hashKey(prefixTD, h) }
func stateKey(h common.Hash) []byte   { return hashKey(prefixState, h) }
func programKey(h common.Hash) []byte { return hashKey(prefixProg, h) }
func txLookupKey(h common.Hash) []byte {
	return hashKey(prefixTxLook, h)
}

func canonKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefixCanon...), n)
}
