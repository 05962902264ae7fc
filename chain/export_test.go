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
	return open(dir, g, engine, nil, syncWrites)
}

// SyncWrites reports whether c's store fsyncs every commit.
func SyncWrites(c *Chain) bool { return c.db.Opts().SyncWrites }
