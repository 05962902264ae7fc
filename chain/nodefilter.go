package chain

import (
	"sync"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
)

// nodeFilter answers "is trie node h certainly not stored?" without reading
// badger, so an import writes the record of a new node (count one) blindly
// and reads the counts of only the nodes that may be stored already (a node
// born again: an identical subtree, a twin side block, or a false positive).
// At 10^6 accounts a block's ~7,200 new nodes are almost all new, and each
// read of a missing key visits every level of badger's tree.
//
// It is a Bloom filter (bits-and-blooms/bloom) of the nodes stored, built in
// the background from a snapshot of the store when the chain opens (until
// then every node "may be stored") and told of every node a commit stores,
// before the commit. It is never told of deletions: a pruned node keeps
// answering "may be stored", which costs a read. Once the nodes added since
// it was built pass its capacity, a new one is built the same way while the
// old one answers.
//
// No node may be stored unseen: every commit that stores nodes (an import, a
// snap sync batch) tells the filter and commits under the chain's birthMu,
// and a build starts recording those additions and takes its snapshot under
// it too, so a node is either in the snapshot or recorded. (The genesis
// state is written before the first build starts: in its snapshot.)
type nodeFilter struct {
	mu       sync.RWMutex
	cur      *bloom.BloomFilter // nil: not built yet
	capacity uint               // nodes cur was sized for, at 1% false positives
	added    uint               // nodes in cur: the snapshot's and those added since
	building bool
	builds   int       // filters built so far
	pending  [][8]byte // nodes added while a build runs, for the new filter
	rebuild  chan struct{}
}

// nodeFilterFP is the filter's false positive rate at capacity.
const nodeFilterFP = 0.01

// minNodeFilter is the least capacity a filter is built with.
const minNodeFilter = 1 << 16

func newNodeFilter() *nodeFilter { return &nodeFilter{rebuild: make(chan struct{}, 1)} }

// filterKey is the part of a node hash the filter keeps: 8 of its bytes
// are as good as all 32 for a filter of a few million entries.
func filterKey(h []byte) [8]byte { return [8]byte(h[:8]) }

// absent returns the hashes of hs that are certainly not stored. Callers
// hold birthMu, so none is stored before their own commit.
func (f *nodeFilter) absent(hs []common.Hash) map[common.Hash]struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.cur == nil {
		return nil
	}
	out := make(map[common.Hash]struct{}, len(hs))
	for _, h := range hs {
		if k := filterKey(h[:]); !f.cur.Test(k[:]) {
			out[h] = struct{}{}
		}
	}
	return out
}

// add records nodes about to be stored. Callers hold birthMu until the
// commit that stores them is done.
func (f *nodeFilter) add(hs []common.Hash) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range hs {
		k := filterKey(h[:])
		if f.building {
			f.pending = append(f.pending, k)
		}
		if f.cur != nil {
			f.cur.Add(k[:])
			f.added++
		}
	}
	if f.cur != nil && f.added > f.capacity && !f.building {
		select {
		case f.rebuild <- struct{}{}:
		default:
		}
	}
}

// filterBatch is how many snapshot keys a build reads between stop checks.
const filterBatch = 1 << 14

// nodeFilterLoop builds the chain's node filter, then builds it again
// whenever it is full, until stop.
func (c *Chain) nodeFilterLoop(stop <-chan struct{}) {
	for {
		if err := c.buildNodeFilter(stop); err != nil {
			c.log.Warn("building the trie node filter failed: imports read every new node's count", "err", err)
			return
		}
		select {
		case <-stop:
			return
		case <-c.filter.rebuild:
		}
	}
}

// buildNodeFilter reads every stored node's hash from a snapshot and puts
// the new filter in place, with the nodes stored while it read.
func (c *Chain) buildNodeFilter(stop <-chan struct{}) error {
	f, start := c.filter, time.Now()
	c.birthMu.Lock()
	f.mu.Lock()
	f.building, f.pending = true, nil
	f.mu.Unlock()
	txn := c.db.NewTransaction(false)
	c.birthMu.Unlock()
	defer txn.Discard()
	defer func() {
		f.mu.Lock()
		f.building, f.pending = false, nil
		f.mu.Unlock()
	}()

	var keys [][8]byte
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues, opts.Prefix = false, prefixTrie
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) != 1+common.HashLength {
			continue
		}
		keys = append(keys, filterKey(k[1:]))
		if len(keys)%filterBatch == 0 {
			select {
			case <-stop:
				return nil
			default:
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := uint(len(keys) + len(f.pending))
	capacity := max(2*n, minNodeFilter)
	bf := bloom.NewWithEstimates(capacity, nodeFilterFP)
	for _, k := range append(keys, f.pending...) {
		bf.Add(k[:])
	}
	f.cur, f.capacity, f.added = bf, capacity, n
	f.builds++
	c.log.Debug("built the trie node filter", "nodes", n, "capacity", capacity, "elapsed", time.Since(start))
	return nil
}
