package chain

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
)

// The state trie's nodes live in badger, keyed by hash ("T" ‖ hash), each
// value the node's reference count (uvarint) followed by the node: the count
// is how many trie positions, over every state kept, hold it. A block's commit adds one for each node it writes
// (its journal's Born) at once, in the block's own transaction. The nodes it
// replaced (Dead) are released only when the block falls out of the
// retention window: then a canonical block releases its Dead, whose states
// are behind the window now, and a side block its Born, which no kept state
// descends from. A node is deleted when its count reaches zero, so a node a
// kept state still reads is never touched (docs/protocol.md §8).

// The node cache holds the trie's top levels, which every access reads:
// nodes at depth ≤ nodeCacheDepth nibbles (at most 1+16+…+16^4 = 69905).
// Deeper nodes, mostly leaves, are each read rarely: caching them would
// only evict the top.
const (
	nodeCacheDepth = 4
	nodeCacheSize  = 1 << 17
)

// nodeStore reads trie nodes from badger through a cache. Nodes are
// content-addressed, so a cached blob is never stale.
type nodeStore struct {
	db    *badger.DB
	cache *lru[common.Hash, []byte]
}

func newNodeStore(db *badger.DB) *nodeStore {
	return &nodeStore{db: db, cache: newLRU[common.Hash, []byte](nodeCacheSize)}
}

// node returns the node with hash h at trie depth depth (nibbles; -1:
// unknown), or nil if it is not stored.
func (ns *nodeStore) node(h common.Hash, depth int) ([]byte, error) {
	if blob, ok := ns.cache.get(h); ok {
		return blob, nil
	}
	var blob []byte
	err := ns.db.View(func(txn *badger.Txn) (err error) {
		_, blob, err = readNode(txn, h)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("trie node %s: %w", h, err)
	}
	if blob != nil && depth >= 0 && depth <= nodeCacheDepth {
		ns.cache.add(h, blob)
	}
	return blob, nil
}

// readNode returns node h's reference count and bytes (0, nil: not stored).
func readNode(r dbReader, h common.Hash) (uint64, []byte, error) {
	v, err := get(r, trieNodeKey(h))
	if errors.Is(err, errNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	n, k := binary.Uvarint(v)
	if k <= 0 || n == 0 || k == len(v) {
		return 0, nil, fmt.Errorf("trie node %s: bad record", h)
	}
	return n, v[k:], nil
}

// nodeRecord is a node's stored value: count, then the node.
func nodeRecord(n uint64, blob []byte) []byte {
	return append(binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(blob)), n), blob...)
}

// writeNodes adds one reference to each hash in born, writing the node
// (from blobs) when it is new.
func writeNodes(txn *badger.Txn, born []common.Hash, blobs map[common.Hash][]byte) error {
	for _, h := range born {
		n, blob, err := readNode(txn, h)
		if err != nil {
			return err
		}
		if n == 0 {
			var ok bool
			if blob, ok = blobs[h]; !ok {
				return fmt.Errorf("trie node %s: born without its bytes", h)
			}
		}
		if err := txn.Set(trieNodeKey(h), nodeRecord(n+1, blob)); err != nil {
			return err
		}
	}
	return nil
}

// releaseNodes drops one reference from each hash, deleting a node whose
// count reaches zero. It returns how many nodes it deleted.
func releaseNodes(txn *badger.Txn, hs []common.Hash) (int, error) {
	deleted := 0
	for _, h := range hs {
		n, blob, err := readNode(txn, h)
		if err != nil {
			return deleted, err
		}
		switch n {
		case 0:
			// Not stored (a bug, or a node an interrupted sync never got):
			// nothing to release.
			continue
		case 1:
			if err := txn.Delete(trieNodeKey(h)); err != nil {
				return deleted, err
			}
			deleted++
		default:
			if err := txn.Set(trieNodeKey(h), nodeRecord(n-1, blob)); err != nil {
				return deleted, err
			}
		}
	}
	return deleted, nil
}

// writeStateRecord stores block h's (number n) state journal under the
// state index, which is also the record that the block's state is kept.
func writeStateRecord(w dbWriter, n uint64, h common.Hash, j *stateJournal) error {
	return w.Set(stateIndexKey(n, h), mustRLP(j))
}

func hasStateRecord(r dbReader, n uint64, h common.Hash) (bool, error) {
	return has(r, stateIndexKey(n, h))
}
