package chain

import (
	"encoding/binary"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/quern-chain/quern/consensus"
)

// SetClock replaces the chain's clock (future-block rule) in tests.
func SetClock(c *Chain, now func() time.Time) { c.now = now }

// SetStateRetention lowers the state retention window of c in tests.
func SetStateRetention(c *Chain, n uint64) { c.retention = n }

// CountKeys counts the stored state snapshots and their height-index entries.
func CountKeys(c *Chain) (snapshots, indexed int) {
	_ = c.db.View(func(txn *badger.Txn) error {
		snapshots, indexed = countPrefix(txn, prefixState), countPrefix(txn, prefixStateN)
		return nil
	})
	return snapshots, indexed
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

// DowngradeToSchema1 makes c's datadir look as schema 1 left it: no
// snapshot index, version 1.
func DowngradeToSchema1(c *Chain) error {
	var keys [][]byte
	err := c.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues, opts.Prefix = false, prefixStateN
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.db.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return txn.Set(keyVersion, binary.BigEndian.AppendUint64(nil, 1))
	})
}

// OpenWithSyncWrites is Open with badger's fsync on every commit chosen by
// the caller: benchmarks compare both; Open always syncs.
func OpenWithSyncWrites(dir string, g *Genesis, engine consensus.Engine, syncWrites bool) (*Chain, error) {
	return open(dir, g, engine, nil, syncWrites)
}

// SyncWrites reports whether c's store fsyncs every commit.
func SyncWrites(c *Chain) bool { return c.db.Opts().SyncWrites }
