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

// The state trie's nodes live in badger, keyed by hash: "T" ‖ hash → the
// node. Beside each, "R" ‖ hash → its reference count (uvarint): how many
// trie positions, over every state kept, hold it. A block's transaction
// writes the nodes it made (its journal's Born) blindly, reading nothing,
// and marks its births uncounted ("I" ‖ number ‖ hash). The pruner, beside
// the imports, counts them: each of its passes first adds one per birth of
// every marked block (and clears the mark), then, and only if no mark is
// left, releases what fell out of the retention window: a canonical block
// its Dead, whose states are behind the window now, and a side block its
// Born, which no kept state descends from. A node is deleted when its count
// reaches zero, so a node a kept state still reads is never touched
// (docs/protocol.md §8). A block's birth committed while a release runs is
// not counted by it, so the release commits only if no import since it
// began stored a node it deletes (updateFenced); otherwise it runs again,
// after counting that birth.

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
		blob, err = readNode(txn, h)
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

// readNode returns node h's bytes (nil: not stored).
func readNode(r dbReader, h common.Hash) ([]byte, error) {
	v, err := get(r, trieNodeKey(h))
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("trie node %s: empty record", h)
	}
	return v, nil
}

// readCount returns node h's reference count (0: none counted).
func readCount(r dbReader, h common.Hash) (uint64, error) {
	v, err := get(r, nodeCountKey(h))
	if errors.Is(err, errNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, k := binary.Uvarint(v)
	if k <= 0 || k != len(v) || n == 0 {
		return 0, fmt.Errorf("trie node %s: bad reference count record", h)
	}
	return n, nil
}

// writeCount stores node h's reference count n > 0.
func writeCount(w dbWriter, h common.Hash, n uint64) error {
	return w.Set(nodeCountKey(h), binary.AppendUvarint(nil, n))
}

// writeBornNodes stores the nodes of born (bytes from blobs), reading
// nothing: a node stored already is rewritten with the same bytes. Their
// references are counted later (addRefs, by the pruner).
func writeBornNodes(w dbWriter, born []common.Hash, blobs map[common.Hash][]byte) error {
	seen := make(map[common.Hash]struct{}, len(born))
	for _, h := range born {
		if _, ok := seen[h]; ok {
			continue
		}
		seen[h] = struct{}{}
		blob, ok := blobs[h]
		if !ok {
			return fmt.Errorf("trie node %s: born without its bytes", h)
		}
		if err := w.Set(trieNodeKey(h), blob); err != nil {
			return err
		}
	}
	return nil
}

// addRefs adds one reference to each hash in hs (stored by writeBornNodes).
func addRefs(txn *badger.Txn, hs []common.Hash) error {
	refs, err := readRefs(txn, hs)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if err := writeCount(txn, r.h, r.n+r.k); err != nil {
			return err
		}
	}
	return nil
}

// releaseNodes drops one reference from each hash, deleting a node whose
// count reaches zero, and returns the nodes it deleted. Its transaction
// must be committed by updateFenced (see the top of this file).
func releaseNodes(txn *badger.Txn, hs []common.Hash) ([]common.Hash, error) {
	refs, err := readRefs(txn, hs)
	if err != nil {
		return nil, err
	}
	var deleted []common.Hash
	for _, r := range refs {
		switch {
		case r.n == 0:
			// Not counted (a bug, or a node an interrupted sync never got):
			// nothing to release.
			continue
		case r.n <= r.k:
			if err := firstErr(txn.Delete(trieNodeKey(r.h)), txn.Delete(nodeCountKey(r.h))); err != nil {
				return deleted, err
			}
			deleted = append(deleted, r.h)
		default:
			if err := writeCount(txn, r.h, r.n-r.k); err != nil {
				return deleted, err
			}
		}
	}
	return deleted, nil
}

// nodeRef is a node's stored count n and k, how many times the caller's
// list names it.
type nodeRef struct {
	h    common.Hash
	n, k uint64
}

// parallelReadMin is the list length from which readRefs reads on every
// core: a block's journal names thousands of nodes, and each read is a
// badger lookup.
const parallelReadMin = 256

// readRefs reads the stored count of each distinct hash in hs, in the
// order of first mention. The reads share txn and run in parallel, none
// concurrent with a write to it (badger allows concurrent Gets).
func readRefs(txn *badger.Txn, hs []common.Hash) ([]nodeRef, error) {
	at := make(map[common.Hash]int, len(hs))
	refs := make([]nodeRef, 0, len(hs))
	for _, h := range hs {
		if i, ok := at[h]; ok {
			refs[i].k++
			continue
		}
		at[h] = len(refs)
		refs = append(refs, nodeRef{h: h, k: 1})
	}
	read := func(r *nodeRef) (err error) {
		r.n, err = readCount(txn, r.h)
		return err
	}
	workers := min(runtime.GOMAXPROCS(0), len(refs)/(parallelReadMin/2))
	if workers < 2 {
		for i := range refs {
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
			for i := next.Add(1) - 1; i < int64(len(refs)) && first.Load() == nil; i = next.Add(1) - 1 {
				if err := read(&refs[i]); err != nil {
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

// markBirths records, in block (n, h)'s own transaction, that its Born are
// not counted yet.
func markBirths(w dbWriter, n uint64, h common.Hash) error {
	return w.Set(birthMarkKey(n, h), nil)
}
