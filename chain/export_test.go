package chain

import (
	"encoding/binary"
	"io"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/consensus"
)

// OpenStoreDB opens a badger database at dir with the chain's own options,
// fsync on (what the scale benchmark's floor writes its records to).
func OpenStoreDB(dir string) (*badger.DB, error) {
	return openDB(dir, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
}

// SetClock replaces the chain's clock (future-block rule) in tests.
func SetClock(c *Chain, now func() time.Time) { c.now = now }

// SetStateRetention lowers the state retention window of c in tests.
func SetStateRetention(c *Chain, n uint64) { c.retention = n }

// CountKeys counts the state records (kept states) and stored trie nodes.
func CountKeys(c *Chain) (states, nodes int) {
	_ = c.db.View(func(txn *badger.Txn) error {
		states, nodes = countPrefix(txn, prefixStateN), countPrefix(txn, prefixTrie)
		return nil
	})
	return states, nodes
}

// StoredNodes returns the hashes of every stored trie node.
func StoredNodes(c *Chain) map[common.Hash]bool {
	out := make(map[common.Hash]bool)
	_ = c.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues, opts.Prefix = false, prefixTrie
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out[common.BytesToHash(it.Item().Key()[1:])] = true
		}
		return nil
	})
	return out
}

// NodeCached reports whether node h is in c's node cache.
func NodeCached(c *Chain, h common.Hash) bool { return c.store.cache != nil && c.store.cache.Has(h[:]) }

// ReachableNodes walks st's whole trie and adds the hash of every node it
// reads (embedded nodes have none) to into; a missing node is an error.
func ReachableNodes(st *State, into map[common.Hash]bool) error {
	tr, err := st.openTrie()
	if err != nil {
		return err
	}
	it, err := tr.NodeIterator(nil)
	if err != nil {
		return err
	}
	for it.Next(true) {
		if h := it.Hash(); h != (common.Hash{}) {
			into[h] = true
		}
	}
	return it.Error()
}

func countPrefix(txn *badger.Txn, prefix []byte) int {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues, opts.Prefix = false, prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}

// SetSchemaVersion writes v as c's datadir schema version, as an older
// build would have left it.
func SetSchemaVersion(c *Chain, v uint64) error {
	return c.db.Update(func(txn *badger.Txn) error {
		return txn.Set(keyVersion, binary.BigEndian.AppendUint64(nil, v))
	})
}

// OpenWithSyncWrites is Open with badger's fsync on every commit chosen by
// the caller: benchmarks compare both; Open always syncs.
func OpenWithSyncWrites(dir string, g *Genesis, engine consensus.Engine, syncWrites bool) (*Chain, error) {
	return open(dir, g, engine, nil, Options{}, syncWrites)
}

// OpenWithOptionsSync is OpenWith with the choice of fsync.
func OpenWithOptionsSync(dir string, g *Genesis, engine consensus.Engine, opts Options, syncWrites bool) (*Chain, error) {
	return open(dir, g, engine, nil, opts, syncWrites)
}

// SyncWrites reports whether c's store fsyncs every commit.
func SyncWrites(c *Chain) bool { return c.db.Opts().SyncWrites }

// Settle compacts c's store into its last level, as a long-running node's
// store is, so a benchmark right after a large genesis does not measure the
// compaction that genesis set off.
func Settle(c *Chain) error { return c.db.Flatten(2) }

// UpdateAfterConflict runs c.update on a transaction that reads a trie
// node's count while, on its first run only, another commit rewrites that
// count: the first commit conflicts, and update must run it again on what
// is stored then. It returns how many times the transaction ran and the
// count it found the last time.
func UpdateAfterConflict(c *Chain) (runs int, seen uint64, err error) {
	h := common.Hash{0xC0, 0xF1}
	if err := c.db.Update(func(txn *badger.Txn) error { return txn.Set(trieNodeKey(h), nodeRecord(1, []byte{0x80})) }); err != nil {
		return 0, 0, err
	}
	err = c.update(func(txn *badger.Txn) error {
		runs++
		n, blob, err := readNode(txn, h)
		if err != nil {
			return err
		}
		seen = n
		if runs == 1 { // a release commits meanwhile
			if err := c.db.Update(func(other *badger.Txn) error { return other.Set(trieNodeKey(h), nodeRecord(n+5, blob)) }); err != nil {
				return err
			}
		}
		return txn.Set(trieNodeKey(h), nodeRecord(n+1, blob))
	})
	return runs, seen, err
}

// NodeCount returns node h's stored reference count (0: not stored).
func NodeCount(c *Chain, h common.Hash) (n uint64, err error) {
	err = c.db.View(func(txn *badger.Txn) (err error) { n, _, err = readNode(txn, h); return })
	return n, err
}

// NodeFilterBuilds returns how many node filters c has built.
func NodeFilterBuilds(c *Chain) int {
	c.filter.mu.RLock()
	defer c.filter.mu.RUnlock()
	return c.filter.builds
}

// FillNodeFilter makes c's node filter full: the next node added asks for
// a new one.
func FillNodeFilter(c *Chain) {
	c.filter.mu.Lock()
	defer c.filter.mu.Unlock()
	c.filter.capacity = c.filter.added
}

// BornNodes returns the nodes block h's commit stored (its journal's Born).
func BornNodes(c *Chain, n uint64, h common.Hash) ([]common.Hash, error) {
	var j stateJournal
	err := c.db.View(func(txn *badger.Txn) error { return readRLP(txn, stateIndexKey(n, h), &j) })
	return j.Born, err
}

// StateByRoot reads the state with root root from c's store, kept or not.
func StateByRoot(c *Chain, root common.Hash) *State { return stateAt(c.store, root) }
