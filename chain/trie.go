package chain

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
)

// The state trie's nodes live in badger, keyed by hash ("T" ‖ hash), each
// with a reference count ("R" ‖ hash): how many trie positions, over every
// state kept, hold it. A block's commit adds one for each node it writes
// (its journal's Born) at once, in the block's own transaction. The nodes it
// replaced (Dead) are released only when the block falls out of the
// retention window: then a canonical block releases its Dead, whose states
// are behind the window now, and a side block its Born, which no kept state
// descends from. A node is deleted when its count reaches zero, so a node a
// kept state still reads is never touched (docs/protocol.md §8).

// nodeCacheSize bounds the decoded-blob cache of hot trie nodes (the top
// levels are read by every access).
const nodeCacheSize = 1 << 17

// nodeStore reads trie nodes from badger through a cache. Nodes are
// content-addressed, so a cached blob is never stale.
type nodeStore struct {
	db    *badger.DB
	cache *lru[common.Hash, []byte]
}

func newNodeStore(db *badger.DB) *nodeStore {
	return &nodeStore{db: db, cache: newLRU[common.Hash, []byte](nodeCacheSize)}
}

// node returns the node with hash h, or nil if it is not stored.
func (ns *nodeStore) node(h common.Hash) ([]byte, error) {
	if blob, ok := ns.cache.get(h); ok {
		return blob, nil
	}
	var blob []byte
	err := ns.db.View(func(txn *badger.Txn) (err error) {
		blob, err = get(txn, trieNodeKey(h))
		return err
	})
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trie node %s: %w", h, err)
	}
	ns.cache.add(h, blob)
	return blob, nil
}

// txnReader reads nodes inside a transaction (a snap sync's writes before
// they commit).
type txnReader interface {
	Get(key []byte) (*badger.Item, error)
}

func readRefCount(r txnReader, h common.Hash) (uint64, error) {
	b, err := get(r, trieRefKey(h))
	if errors.Is(err, errNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, fmt.Errorf("trie node %s: bad reference count", h)
	}
	return n, nil
}

// writeNodes adds one reference to each hash in born, writing the node
// (from blobs) when it is new.
func writeNodes(txn *badger.Txn, born []common.Hash, blobs map[common.Hash][]byte) error {
	for _, h := range born {
		n, err := readRefCount(txn, h)
		if err != nil {
			return err
		}
		if n == 0 {
			blob, ok := blobs[h]
			if !ok {
				return fmt.Errorf("trie node %s: born without its bytes", h)
			}
			if err := txn.Set(trieNodeKey(h), blob); err != nil {
				return err
			}
		}
		if err := txn.Set(trieRefKey(h), binary.AppendUvarint(nil, n+1)); err != nil {
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
		n, err := readRefCount(txn, h)
		if err != nil {
			return deleted, err
		}
		switch n {
		case 0:
			// Never counted (a bug, or a store from before a crash repair):
			// leaving the node is safe, deleting it might not be.
			continue
		case 1:
			if err := firstErr(txn.Delete(trieRefKey(h)), txn.Delete(trieNodeKey(h))); err != nil {
				return deleted, err
			}
			deleted++
		default:
			if err := txn.Set(trieRefKey(h), binary.AppendUvarint(nil, n-1)); err != nil {
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
