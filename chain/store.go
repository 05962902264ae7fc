package chain

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// openDB opens the badger store with small, chain-sized options. Large
// values (bodies, state snapshots, programs) go to the value log, so a
// block's transaction stays far below badger's per-transaction limit.
//
// syncWrites makes every commit fsync the value log and then the memtable's
// WAL before it returns, so a block InsertBlock accepted survives a power
// cut (docs/protocol.md §10a). Without it badger never fsyncs the value log
// before Close, yet it fsyncs the tables it flushes from memtables: after a
// power cut a table may point into value-log bytes that never reached the
// disk, so older blocks, not only the latest, can be lost. Only the import
// benchmark turns it off, to measure what it costs.
func openDB(dir string, log *slog.Logger, syncWrites bool) (*badger.DB, error) {
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(syncWrites).
		WithLogger(badgerLogger{log}).
		WithMetricsEnabled(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithNumCompactors(2).
		WithBlockCacheSize(16 << 20).
		WithCompression(options.None).
		WithValueThreshold(1 << 10).
		WithValueLogFileSize(256 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open chain database %s: %w", dir, err)
	}
	return db, nil
}

// badgerLogger routes badger's errors and warnings to slog and drops the rest.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) { l.emit(slog.LevelError, f, a) }
func (l badgerLogger) Warningf(f string, a ...any) {
	l.emit(slog.LevelWarn, f, a)
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

func (l badgerLogger) emit(level slog.Level, f string, a []any) {
	l.log.Log(context.Background(), level, "badger: "+strings.TrimSpace(fmt.Sprintf(f, a...)))
}
