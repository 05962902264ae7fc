package chain

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
)

// stateRetention is how many blocks behind the head keep their state
// snapshot (the head's is always kept). A block can only be imported on a
// parent whose snapshot is kept, so a fork point deeper than this is refused
// (ErrPrunedState), as a finality depth would. It is a node policy, not a
// consensus parameter: nodes with other values agree on every block they
// both accept.
const stateRetention = 256

// pruneBatch bounds the snapshots one head update deletes, so the first
// pass over an old datadir's backlog spreads over many blocks.
const pruneBatch = 256

// stateCutoff is the lowest block number whose snapshot is kept while the
// head is at number head.
func stateCutoff(head, retention uint64) uint64 {
	if head <= retention {
		return 0
	}
	return head - retention
}

// checkParentState refuses a parent whose snapshot is (or is about to be)
// pruned behind a head at number head.
func (c *Chain) checkParentState(parentNumber, head uint64) error {
	if parentNumber < stateCutoff(head, c.retention) {
		return fmt.Errorf("%w: parent %d, head %d: fork point deeper than %d blocks", ErrPrunedState, parentNumber, head, c.retention)
	}
	return nil
}

// pruneStates deletes, inside txn, up to pruneBatch snapshots (canonical or
// side) of blocks numbered below cutoff, and returns their hashes.
func pruneStates(txn *badger.Txn, cutoff uint64) ([]common.Hash, error) {
	type entry struct {
		n uint64
		h common.Hash
	}
	var old []entry
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefixStateN
	it := txn.NewIterator(opts)
	for it.Rewind(); it.Valid() && len(old) < pruneBatch; it.Next() {
		n, h, ok := parseStateIndexKey(it.Item().Key())
		if !ok {
			continue
		}
		if n >= cutoff {
			break
		}
		old = append(old, entry{n, h})
	}
	it.Close() // a read-write txn allows one iterator and no writes under it
	hashes := make([]common.Hash, 0, len(old))
	for _, e := range old {
		if err := deleteState(txn, e.h, e.n); err != nil {
			return nil, fmt.Errorf("prune state %d %s: %w", e.n, e.h, err)
		}
		hashes = append(hashes, e.h)
	}
	return hashes, nil
}
