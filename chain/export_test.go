package chain

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/consensus"
)

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
	if err := c.db.Update(func(txn *badger.Txn) error { return writeCount(txn, h, 1) }); err != nil {
		return 0, 0, err
	}
	err = c.update(func(txn *badger.Txn) error {
		runs++
		n, err := readCount(txn, h)
		if err != nil {
			return err
		}
		seen = n
		if runs == 1 { // a release commits meanwhile
			if err := c.db.Update(func(other *badger.Txn) error { return writeCount(other, h, n+5) }); err != nil {
				return err
			}
		}
		return writeCount(txn, h, n+1)
	})
	return runs, seen, err
}

// RebornDuringRelease makes the next release that deletes nodes meet an
// import: while the release's transaction runs, a block (numbered far
// ahead, so no release takes it) stores the first node it deletes again,
// as an import commits: the node, the block's journal with it born, the
// mark that its births are uncounted. It returns that node's hash, once the
// hook ran.
func RebornDuringRelease(c *Chain) (reborn func() (common.Hash, bool)) {
	var (
		h    common.Hash
		done bool
	)
	c.releaseHook = func(gone []common.Hash) {
		if done || len(gone) == 0 {
			return
		}
		done, h = true, gone[0]
		blob, err := c.store.node(h, false) // the release's delete is not committed
		if err != nil || blob == nil {
			panic(fmt.Sprintf("node %s to store again: %v", h, err))
		}
		n, bh := c.CurrentBlock().Number()+1000, common.Hash{0xB0, 0x27}
		c.birthMu.Lock()
		defer c.birthMu.Unlock()
		err = c.db.Update(func(txn *badger.Txn) error {
			return firstErr(writeBornNodes(txn, []common.Hash{h}, map[common.Hash][]byte{h: blob}),
				writeStateRecord(txn, n, bh, &stateJournal{Born: []common.Hash{h}}), markBirths(txn, n, bh))
		})
		if err != nil {
			panic(err)
		}
		c.noteBirths([]common.Hash{h})
	}
	return func() (common.Hash, bool) { return h, done }
}

// NodeCount returns node h's stored reference count.
func NodeCount(c *Chain, h common.Hash) (n uint64, err error) {
	err = c.db.View(func(txn *badger.Txn) (err error) { n, err = readCount(txn, h); return })
	return n, err
}

// StateByRoot reads the state with root root from c's store, kept or not.
func StateByRoot(c *Chain, root common.Hash) *State { return stateAt(c.store, root) }
