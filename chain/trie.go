package chain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
)

// The state trie's nodes live in badger, keyed by hash ("T" ‖ hash), each
// value the node's reference count (uvarint) followed by the node: the count
// is how many trie positions, over every state kept, hold it. A block's
// commit adds one for each node it writes (its journal's Born) at once, in
// the block's own transaction: it reads the counts of only the nodes the
// node filter cannot rule out (nodefilter.go) and writes the others' records
// as new. The nodes it replaced (Dead) are released only when the block
// falls out of the retention window: then a canonical block releases its
// Dead, whose states are behind the window now, and a side block its Born,
// which no kept state descends from. A node is deleted when its count
// reaches zero, so a node a kept state still reads is never touched
// (docs/protocol.md §8).

// The node cache holds trie nodes by hash, off the Go heap (fastcache, as
// geth's clean cache): every node a block commits and every node read from
// badger goes in, oldest out first. A block's trie walk then reads badger
// only for nodes no recent block touched. Pruning deletes the nodes it
// removes from the store, so the cache holds what is stored, and at most
// the nodes of a commit under way (cached beside it) or failed: the bytes
// of a hash are the same everywhere, so a reader is never misled. The snap
// sync's "is it stored?" and its serving read badger itself.
const DefaultNodeCacheBytes = 256 << 20

// nodeStore reads trie nodes from badger through the cache. Nodes are
// content-addressed, so a cached blob is never stale.
type nodeStore struct {
	db    *badger.DB
	cache *fastcache.Cache // nil: no cache
}

func newNodeStore(db *badger.DB, cacheBytes int) *nodeStore {
	ns := &nodeStore{db: db}
	if cacheBytes > 0 {
		ns.cache = fastcache.New(cacheBytes)
	}
	return ns
}

// node returns the node with hash h, or nil if it is not stored. cached
// false reads badger alone (for a question about what is stored).
func (ns *nodeStore) node(h common.Hash, cached bool) ([]byte, error) {
	if cached && ns.cache != nil {
		if blob, ok := ns.cache.HasGet(nil, h[:]); ok {
			return blob, nil
		}
	}
	var blob []byte
	err := ns.db.View(func(txn *badger.Txn) (err error) {
		_, blob, err = readNode(txn, h)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("trie node %s: %w", h, err)
	}
	if cached && blob != nil && ns.cache != nil {
		ns.cache.Set(h[:], blob)
	}
	return blob, nil
}

// added caches the nodes a committed transaction stored (those of born
// whose bytes are in blobs).
func (ns *nodeStore) added(born []common.Hash, blobs map[common.Hash][]byte) {
	if ns.cache == nil {
		return
	}
	for _, h := range born {
		if blob, ok := blobs[h]; ok {
			ns.cache.Set(h[:], blob)
		}
	}
}

// deleted forgets nodes a committed transaction removed from the store.
func (ns *nodeStore) deleted(hs []common.Hash) {
	if ns.cache == nil {
		return
	}
	for _, h := range hs {
		ns.cache.Del(h[:])
	}
}

// close releases the cache's memory for reuse.
func (ns *nodeStore) close() {
	if ns.cache != nil {
		ns.cache.Reset()
	}
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
// (from blobs) when it is new. A node in absent is known not to be stored
// (the node filter said so): its record is written without a read.
func writeNodes(txn *badger.Txn, born []common.Hash, blobs map[common.Hash][]byte, absent map[common.Hash]struct{}) error {
	refs, err := readRefs(txn, born, absent)
	if err != nil {
		return err
	}
	for _, r := range refs {
		blob := r.blob
		if r.n == 0 {
			var ok bool
			if blob, ok = blobs[r.h]; !ok {
				return fmt.Errorf("trie node %s: born without its bytes", r.h)
			}
		}
		if err := txn.Set(trieNodeKey(r.h), nodeRecord(r.n+r.k, blob)); err != nil {
			return err
		}
	}
	return nil
}

// releaseNodes drops one reference from each hash, deleting a node whose
// count reaches zero. It returns the nodes it deleted.
func releaseNodes(txn *badger.Txn, hs []common.Hash) ([]common.Hash, error) {
	refs, err := readRefs(txn, hs, nil)
	if err != nil {
		return nil, err
	}
	var deleted []common.Hash
	for _, r := range refs {
		switch {
		case r.n == 0:
			// Not stored (a bug, or a node an interrupted sync never got):
			// nothing to release.
			continue
		case r.n <= r.k:
			if err := txn.Delete(trieNodeKey(r.h)); err != nil {
				return deleted, err
			}
			deleted = append(deleted, r.h)
		default:
			if err := txn.Set(trieNodeKey(r.h), nodeRecord(r.n-r.k, r.blob)); err != nil {
				return deleted, err
			}
		}
	}
	return deleted, nil
}

// nodeRef is a node's stored count n and bytes, and k, how many times the
// caller's list names it.
type nodeRef struct {
	h    common.Hash
	n, k uint64
	blob []byte
}

// parallelReadMin is the list length from which readRefs reads on every
// core: a block's commit names thousands of nodes, and each read is a
// badger lookup that mostly finds nothing (a new node).
const parallelReadMin = 256

// readRefs reads the stored record of each distinct hash in hs, in the
// order of first mention, but for those in absent (known not stored: count
// 0). The reads share txn and run in parallel, none concurrent with a write
// to it (badger allows concurrent Gets).
func readRefs(txn *badger.Txn, hs []common.Hash, absent map[common.Hash]struct{}) ([]nodeRef, error) {
	at := make(map[common.Hash]int, len(hs))
	refs := make([]nodeRef, 0, len(hs))
	var toRead []int
	for _, h := range hs {
		if i, ok := at[h]; ok {
			refs[i].k++
			continue
		}
		at[h] = len(refs)
		if _, ok := absent[h]; !ok {
			toRead = append(toRead, len(refs))
		}
		refs = append(refs, nodeRef{h: h, k: 1})
	}
	read := func(r *nodeRef) (err error) {
		r.n, r.blob, err = readNode(txn, r.h)
		return err
	}
	workers := min(runtime.GOMAXPROCS(0), len(toRead)/(parallelReadMin/2))
	if workers < 2 {
		for _, i := range toRead {
			if err := read(&refs[i]); err != nil {
				return nil, err
			}
		}
		return refs, nil
	}
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		first atomic.Pointer[error]
	)
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(toRead)) && first.Load() == nil; i = next.Add(1) - 1 {
				if err := read(&refs[toRead[i]]); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return nil, *e
	}
	return refs, nil
}

// writeStateRecord stores block h's (number n) state journal under the
// state index, which is also the record that the block's state is kept.
func writeStateRecord(w dbWriter, n uint64, h common.Hash, j *stateJournal) error {
	return w.Set(stateIndexKey(n, h), mustRLP(j))
}

func hasStateRecord(r dbReader, n uint64, h common.Hash) (bool, error) {
	return has(r, stateIndexKey(n, h))
}
