package chain

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// DefaultStateRetention is how many blocks behind the head keep their state
// (the head's is always kept) in full mode. A block can only be imported on
// a parent whose state is kept, so a fork point deeper than this is refused
// (ErrPrunedState), as a finality depth would. It is a node policy, not a
// consensus parameter: nodes with other values agree on every block they
// both accept.
const DefaultStateRetention = 256

// MinStateRetention is the least retention a node accepts: the snap sync
// pivot sits 64 blocks behind a peer's head, and reorgs need room.
const MinStateRetention = 16

// pruneOpBudget bounds the reference-count updates one pruning pass makes,
// so its transaction stays far below badger's limit and the first pass over
// a backlog (an archive datadir reopened in full mode) spreads over blocks.
// A pass always takes at least one block's journal.
const pruneOpBudget = 20000

// The pruner runs beside the imports: an import announces its new head
// without waiting for the release of what fell out of the window, which at
// scale costs as much as the import (a block's ~7,000 replaced nodes at 10^6
// accounts). Its transactions and an import's may touch the same reference
// counts; badger's conflict detection fails the later commit and update
// runs it again on what is stored then, so the counts stay exact.

// requestPrune asks the pruner to prune behind head (a request not yet
// taken is replaced: the latest head covers it).
func (c *Chain) requestPrune(head uint64) {
	c.pendMu.Lock()
	c.pendHead, c.pending = head, true
	c.pendMu.Unlock()
	select {
	case c.pruneWake <- struct{}{}:
	default: // the pruner is woken already
	}
}

// pruner runs the pruning passes the imports ask for, until Close.
func (c *Chain) pruner() {
	for {
		select {
		case <-c.pruneStop:
			return
		case <-c.pruneWake:
			c.pruneMu.Lock()
			c.prunePending()
			c.pruneMu.Unlock()
		}
	}
}

// prunePending runs the pass asked for last, if not taken yet. Callers
// hold pruneMu, so a request is taken and run in one hold of it.
func (c *Chain) prunePending() {
	c.pendMu.Lock()
	head, ok := c.pendHead, c.pending
	c.pending = false
	c.pendMu.Unlock()
	if ok {
		c.prune(head)
	}
}

// WaitPruning returns once the pruning the imports so far asked for is done
// (running a pending pass itself): what pruning removes is gone, what it
// keeps is there.
func (c *Chain) WaitPruning() {
	c.pruneMu.Lock()
	defer c.pruneMu.Unlock()
	c.prunePending()
}

// updateRetries bounds how often update runs a transaction that conflicted.
const updateRetries = 8

// update is db.Update, run again when its commit conflicted with one that
// committed meanwhile (the pruner's, an import's): fn must be safe to rerun
// (it is given a fresh transaction each time).
func (c *Chain) update(fn func(txn *badger.Txn) error) error {
	var err error
	for range updateRetries {
		if err = c.db.Update(fn); !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}

// stateCutoff is the lowest block number whose state is kept while the
// head is at number head.
func stateCutoff(head, retention uint64) uint64 {
	if head <= retention {
		return 0
	}
	return head - retention
}

// checkParentState refuses a parent whose state is (or is about to be)
// pruned behind a head at number head.
func (c *Chain) checkParentState(parentNumber, head uint64) error {
	if parentNumber < stateCutoff(head, c.retention) {
		return fmt.Errorf("%w: parent %d, head %d: fork point deeper than %d blocks", ErrPrunedState, parentNumber, head, c.retention)
	}
	return nil
}

// pruneStates releases, in one transaction, the journals of blocks numbered
// below cutoff (canonical or side, lowest first, within pruneOpBudget) and
// returns their hashes and how many trie nodes it deleted. Archive mode
// prunes nothing.
func (c *Chain) pruneStates(cutoff uint64) (blocks []common.Hash, nodes int, err error) {
	if c.archive {
		return nil, 0, nil
	}
	var gone []common.Hash
	err = c.update(func(txn *badger.Txn) error {
		gone = gone[:0] // a retried transaction starts over
		blocks = blocks[:0]
		type entry struct {
			n       uint64
			h       common.Hash
			journal []byte
		}
		var (
			old []entry
			ops int
		)
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixStateN
		it := txn.NewIterator(opts)
		for it.Rewind(); it.Valid() && ops < pruneOpBudget; it.Next() {
			n, h, ok := parseStateIndexKey(it.Item().Key())
			if !ok {
				continue
			}
			if n >= cutoff {
				break
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				it.Close()
				return err
			}
			old = append(old, entry{n, h, v})
			ops += len(v) / common.HashLength
		}
		it.Close() // a read-write txn allows one iterator and no writes under it
		for _, e := range old {
			var j stateJournal
			if err := rlp.DecodeBytes(e.journal, &j); err != nil {
				return fmt.Errorf("state journal of block %d %s: %w", e.n, e.h, err)
			}
			canon, err := readCanonicalHash(txn, e.n)
			if err != nil && err != errNotFound {
				return err
			}
			release := j.Born // a side block: nothing kept descends from it
			if err == nil && canon == e.h {
				release = j.Dead // canonical: the states that held these are gone
			}
			deleted, err := releaseNodes(txn, release)
			if err != nil {
				return fmt.Errorf("prune state %d %s: %w", e.n, e.h, err)
			}
			gone = append(gone, deleted...)
			if err := txn.Delete(stateIndexKey(e.n, e.h)); err != nil {
				return err
			}
			blocks = append(blocks, e.h)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	c.store.deleted(gone)
	return blocks, len(gone), nil
}

// resultPruneBatch bounds the blocks one pass strips of result data.
const resultPruneBatch = 64

// pruneResults strips the result data (matrix-product outputs) from
// canonical blocks more than the chain's resultRetention behind head: the
// body keeps each result's job, shape and training segment, the "d" record
// keeps the result hashes the header's result root commits to, and the job
// records keep their ResultHash. Side blocks lose theirs the same way.
// Archive mode and resultRetention 0 keep everything. It returns the blocks
// stripped.
func (c *Chain) pruneResults(head uint64) ([]common.Hash, error) {
	keep := c.params.ResultRetention
	if c.archive || keep == 0 || head <= keep {
		return nil, nil
	}
	cutoff := head - keep
	var stripped []common.Hash
	err := c.update(func(txn *badger.Txn) error {
		stripped = stripped[:0]
		type entry struct {
			n uint64
			h common.Hash
		}
		var old []entry
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues, opts.Prefix = false, prefixResN
		it := txn.NewIterator(opts)
		for it.Rewind(); it.Valid() && len(old) < resultPruneBatch; it.Next() {
			k := it.Item().Key()
			if len(k) != 1+8+common.HashLength {
				continue
			}
			n := binary.BigEndian.Uint64(k[1:9])
			if n >= cutoff {
				break
			}
			old = append(old, entry{n, common.BytesToHash(k[9:])})
		}
		it.Close()
		for _, e := range old {
			body, err := readBody(txn, e.h)
			if err != nil {
				return fmt.Errorf("prune results of block %d: %w", e.n, err)
			}
			hashes := make([]common.Hash, len(body.Results))
			for i, r := range body.Results {
				hashes[i] = r.Hash()
				r.Data = nil
			}
			if err := firstErr(
				txn.Set(bodyKey(e.h), mustRLP(body)), txn.Set(resultsPrunedKey(e.h), mustRLP(hashes)),
				txn.Delete(resultIndexKey(e.n, e.h)),
			); err != nil {
				return err
			}
			stripped = append(stripped, e.h)
		}
		return nil
	})
	return stripped, err
}

// ResultsPruned reports whether block h's result data was pruned: its body
// no longer matches its header's result root, so it is not served to peers.
func (c *Chain) ResultsPruned(h common.Hash) bool {
	var ok bool
	_ = c.view(func(txn *badger.Txn) (err error) { ok, err = has(txn, resultsPrunedKey(h)); return })
	return ok
}

// PrunedResultHashes returns the hashes block h's results had before their
// data was pruned (what its result root commits to), or nil if it was not.
func (c *Chain) PrunedResultHashes(h common.Hash) []common.Hash {
	var hs []common.Hash
	if c.view(func(txn *badger.Txn) error { return readRLP(txn, resultsPrunedKey(h), &hs) }) != nil {
		return nil
	}
	return hs
}
