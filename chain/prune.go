package chain

import (
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

// pruneOpBudget bounds the writes one pruning pass makes (a count written,
// a node deleted: two), so its transaction stays below badger's limit (some
// 26,000 entries with the chain's memtables) and the first pass over a
// backlog (an archive datadir reopened in full mode) spreads over passes. A
// pass always takes at least one block's journal; a block of 1,000
// transfers at 10^6 accounts is ~7,200 born and as many dead nodes.
const pruneOpBudget = 16000

// The pruner runs beside the imports: an import announces its new head
// without waiting for the counting of its births or the release of what
// fell out of the window, which at scale cost as much as the import (a
// block's ~7,000 new and ~7,000 replaced nodes at 10^6 accounts). Imports
// write no count; the counts the pruner and the snap sync both write are
// guarded by badger's conflict detection (update runs the later commit again
// on what is stored then), and a release against imports by updateFenced
// (trie.go), so the counts stay exact.

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

// pruneStates counts the births of the blocks imported since it last ran,
// then releases the journals of blocks numbered below cutoff (canonical or
// side, lowest first, within pruneOpBudget), and returns their hashes and
// how many trie nodes it deleted. Archive mode counts and releases nothing.
func (c *Chain) pruneStates(cutoff uint64) (blocks []common.Hash, nodes int, err error) {
	for range releaseTries {
		for {
			counted, err := c.countBirths()
			if err != nil {
				return nil, 0, err
			}
			if counted == 0 {
				break
			}
		}
		if c.archive {
			return nil, 0, nil
		}
		blocks, nodes, waited, err := c.releaseStates(cutoff)
		if err != nil || !waited {
			return blocks, nodes, err
		}
		// An import committed between the two: count it too.
	}
	return nil, 0, nil // the next head retries
}

// releaseTries bounds how often pruneStates counts births that an import
// committed just before its release, before it leaves the release to the
// next head.
const releaseTries = 8

// countBirths adds the references of the blocks whose births are marked
// uncounted (lowest first, within pruneOpBudget) and clears their marks, in
// one transaction. It returns how many blocks it counted.
func (c *Chain) countBirths() (counted int, err error) {
	err = c.update(func(txn *badger.Txn) error {
		counted = 0
		ops := 0
		for _, m := range heightKeys(txn, prefixBirth, 0, 0) {
			if ops >= pruneOpBudget {
				break
			}
			var j stateJournal
			switch err := readRLP(txn, stateIndexKey(m.n, m.h), &j); {
			case errors.Is(err, errNotFound):
				// No journal (not possible: a block is released only once
				// counted): nothing to count.
			case err != nil:
				return fmt.Errorf("state journal of block %d %s: %w", m.n, m.h, err)
			default:
				if err := addRefs(txn, j.Born); err != nil {
					return fmt.Errorf("count births of block %d %s: %w", m.n, m.h, err)
				}
				ops += len(j.Born)
			}
			if err := txn.Delete(birthMarkKey(m.n, m.h)); err != nil {
				return err
			}
			counted++
		}
		return nil
	})
	return counted, err
}

// releaseStates releases, in one transaction, the journals of blocks
// numbered below cutoff. It releases nothing while a block's births are
// uncounted (they could raise a count it would drop to zero): it says so
// and the caller counts them first. A birth committed after its
// transaction began is caught by releaseNodes' reads.
func (c *Chain) releaseStates(cutoff uint64) (blocks []common.Hash, nodes int, uncounted bool, err error) {
	var gone []common.Hash
	err = c.updateFenced(func(txn *badger.Txn) error {
		gone = gone[:0] // a retried transaction starts over
		blocks = blocks[:0]
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues, opts.Prefix = false, prefixBirth
		it := txn.NewIterator(opts)
		it.Rewind()
		uncounted = it.Valid()
		it.Close()
		if uncounted {
			return nil // counted at the next pass
		}
		type entry struct {
			n       uint64
			h       common.Hash
			release []common.Hash
		}
		var (
			old []entry
			ops int
		)
		opts = badger.DefaultIteratorOptions
		opts.Prefix = prefixStateN
		it = txn.NewIterator(opts)
		for it.Rewind(); it.Valid() && (len(old) == 0 || ops < pruneOpBudget); it.Next() {
			n, h, ok := parseStateIndexKey(it.Item().Key())
			if !ok {
				continue
			}
			if n >= cutoff {
				break
			}
			var j stateJournal
			if err := it.Item().Value(func(v []byte) error { return rlp.DecodeBytes(v, &j) }); err != nil {
				it.Close()
				return fmt.Errorf("state journal of block %d %s: %w", n, h, err)
			}
			canon, err := readCanonicalHash(txn, n)
			if err != nil && err != errNotFound {
				it.Close()
				return err
			}
			release := j.Born // a side block: nothing kept descends from it
			if err == nil && canon == h {
				release = j.Dead // canonical: the states that held these are gone
			}
			if len(old) > 0 && ops+2*len(release) > pruneOpBudget {
				break
			}
			old = append(old, entry{n, h, release})
			ops += 2 * len(release)
		}
		it.Close() // a read-write txn allows one iterator and no writes under it
		for _, e := range old {
			deleted, err := releaseNodes(txn, e.release)
			if err != nil {
				return fmt.Errorf("prune state %d %s: %w", e.n, e.h, err)
			}
			gone = append(gone, deleted...)
			if err := txn.Delete(stateIndexKey(e.n, e.h)); err != nil {
				return err
			}
			blocks = append(blocks, e.h)
		}
		if c.releaseHook != nil {
			c.releaseHook(gone)
		}
		return nil
	}, func() []common.Hash { return gone })
	if err != nil {
		return nil, 0, false, err
	}
	c.store.deleted(gone)
	return blocks, len(gone), uncounted, nil
}

// recentBirths is how many imports' Born lists the chain keeps for
// updateFenced: more imports during one release transaction rerun it.
const recentBirths = 64

// birthRecord is one import's Born list, numbered by birthMu's count.
type birthRecord struct {
	seq  uint64
	born []common.Hash
}

// noteBirths records a committed import's Born list. Callers hold birthMu.
func (c *Chain) noteBirths(born []common.Hash) {
	c.births++
	c.recent[c.births%recentBirths] = birthRecord{c.births, born}
}

// updateFenced runs fn in a transaction that deletes trie nodes (those
// deleted() lists once fn ran) and commits it only if no import committed
// since it began stored one of them again: such a birth is not counted
// yet, so the node is still needed. It reruns fn when one did, or when the
// commit conflicted, up to updateRetries times. Imports commit under
// birthMu; fn runs without it, and only the check and the commit hold it.
func (c *Chain) updateFenced(fn func(txn *badger.Txn) error, deleted func() []common.Hash) error {
	err := badger.ErrConflict
	for range updateRetries {
		c.birthMu.Lock()
		since := c.births
		txn := c.db.NewTransaction(true) // sees every import up to since
		c.birthMu.Unlock()
		if err = fn(txn); err != nil {
			txn.Discard()
			return err
		}
		c.birthMu.Lock()
		if c.reborn(since, deleted()) {
			c.birthMu.Unlock()
			txn.Discard()
			err = errReborn
			continue
		}
		err = txn.Commit()
		c.birthMu.Unlock()
		txn.Discard()
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}

var errReborn = errors.New("a node the release deletes was stored again meanwhile")

// reborn reports whether an import after since stored one of hs, or
// whether the imports since are more than recent holds. Callers hold birthMu.
func (c *Chain) reborn(since uint64, hs []common.Hash) bool {
	if c.births == since || len(hs) == 0 {
		return false
	}
	if c.births-since > recentBirths {
		return true
	}
	gone := make(map[common.Hash]struct{}, len(hs))
	for _, h := range hs {
		gone[h] = struct{}{}
	}
	for seq := since + 1; seq <= c.births; seq++ {
		for _, h := range c.recent[seq%recentBirths].born {
			if _, ok := gone[h]; ok {
				return true
			}
		}
	}
	return false
}

// heightKey is a prefix ‖ number ‖ blockHash key's block.
type heightKey struct {
	n uint64
	h common.Hash
}

// heightKeys lists the blocks of the prefix ‖ number ‖ blockHash keys
// under prefix, lowest first: those numbered below below (0: all), at most
// max of them (0: all). It closes its iterator, so txn may be written after.
func heightKeys(txn *badger.Txn, prefix []byte, below uint64, max int) []heightKey {
	var out []heightKey
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues, opts.Prefix = false, prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid() && (max == 0 || len(out) < max); it.Next() {
		n, h, ok := parseHeightKey(prefix, it.Item().Key())
		if !ok {
			continue
		}
		if below != 0 && n >= below {
			break
		}
		out = append(out, heightKey{n, h})
	}
	return out
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
		for _, e := range heightKeys(txn, prefixResN, cutoff, resultPruneBatch) {
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
