package chain

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
)

// InsertBlock fully validates b and stores it. If its total difficulty is
// strictly above the head's it becomes the head (reorganising the canonical
// index if it is on another branch); otherwise it is kept as a side block.
// It returns ErrKnownBlock, ErrUnknownParent, ErrFutureBlock (retry later),
// ErrPrunedState (its parent is more than stateRetention blocks behind the
// head: a fork that deep is refused), a *RuleError (the block is invalid) or
// a storage error. The block, its trie nodes, indexes and the new head go in
// one transaction; a new head then prunes, in another, the states that fell
// out of the retention window (a crash between the two leaves that work to
// the next head).
func (c *Chain) InsertBlock(b *types.Block) error {
	if b == nil || b.Header == nil {
		return errors.New("insert block: no header")
	}
	c.insertMu.Lock()
	defer c.insertMu.Unlock()
	start := time.Now()

	hash := b.Hash()
	if c.HasBlock(hash) {
		return ErrKnownBlock
	}
	if err, ok := c.bad.get(hash); ok {
		return err // the same invalid block again: no need to check it twice
	}
	parent := c.GetHeader(b.ParentHash())
	if parent == nil {
		return fmt.Errorf("%w %s of block %d", ErrUnknownParent, b.ParentHash(), b.Number())
	}
	if err := c.checkParentState(parent.Number, c.CurrentBlock().Number()); err != nil {
		return fmt.Errorf("block %d %s: %w", b.Number(), hash.TerminalString(), err)
	}
	st, ckpts, err := c.validate(b, parent)
	if err != nil {
		err = fmt.Errorf("block %d %s: %w", b.Number(), hash.TerminalString(), err)
		if IsRuleError(err) {
			c.bad.add(hash, err)
		}
		return err
	}
	td := consensus.AddDifficulty(c.TD(b.ParentHash()), b.Header.Difficulty)

	c.mu.RLock()
	oldHead, oldTD := c.head, c.headTD
	c.mu.RUnlock()
	newHead := td.Gt(oldTD)

	var dropped, added int
	// The new nodes go into the node cache beside the commit (which mostly
	// waits on badger's writer): a node cached for a block whose commit then
	// fails is only a node no state needs, with its true bytes.
	cached := make(chan struct{})
	go func() {
		defer close(cached)
		c.store.added(st.journal.Born, *st.mem.Load())
	}()
	c.birthMu.Lock()
	absent := c.filter.absent(st.journal.Born)
	c.filter.add(st.journal.Born)
	err = c.update(func(txn *badger.Txn) error {
		if err := writeBlock(txn, b); err != nil {
			return err
		}
		if err := writeTD(txn, hash, td); err != nil {
			return err
		}
		if err := writeNodes(txn, st.journal.Born, *st.mem.Load(), absent); err != nil {
			return err
		}
		if err := writeStateRecord(txn, b.Number(), hash, st.journal); err != nil {
			return err
		}
		for _, tx := range b.Txs {
			if tx.Kind == types.TxJob {
				if err := writeProgram(txn, tx.Hash(), tx.Program); err != nil {
					return err
				}
			}
		}
		for _, r := range b.Results {
			if len(r.Data) > 0 {
				if err := txn.Set(resultIndexKey(b.Number(), hash), nil); err != nil {
					return err
				}
				break
			}
		}
		for root, state := range ckpts {
			if err := writeCheckpoint(txn, root, state); err != nil {
				return err
			}
		}
		if !newHead {
			return nil
		}
		var err error
		if dropped, added, err = c.setCanonical(txn, b, oldHead); err != nil {
			return err
		}
		return writeHeadHash(txn, hash)
	})
	c.birthMu.Unlock()
	<-cached
	if err != nil {
		return fmt.Errorf("store block %d %s: %w", b.Number(), hash.TerminalString(), err)
	}
	st.stored()
	c.headers.add(hash, b.Header)
	c.cacheBlock(b)
	c.states.add(hash, st)
	if !newHead {
		c.log.Debug("imported side block", "number", b.Number(), "hash", hash, "td", td, "elapsed", time.Since(start))
		return nil
	}
	c.mu.Lock()
	c.head, c.headTD, c.headState = b, td, st
	c.mu.Unlock()
	if dropped > 0 {
		c.log.Info("chain reorganised", "oldHead", oldHead.Number(), "oldHash", oldHead.Hash(),
			"newHead", b.Number(), "newHash", hash, "dropped", dropped, "added", added)
	} else {
		c.log.Debug("imported block", "number", b.Number(), "hash", hash, "txs", len(b.Txs), "results", len(b.Results), "td", td,
			"nodes", len(st.journal.Born), "elapsed", time.Since(start))
	}
	c.notifyHead(b)
	c.requestPrune(b.Number())
	return nil
}

// prune removes the states and result data that fell out of their windows
// with head at number head. A failure is retried at the next head.
func (c *Chain) prune(head uint64) {
	pruned, nodes, err := c.pruneStates(stateCutoff(head, c.retention))
	if err != nil {
		c.log.Warn("pruning old states failed", "head", head, "err", err)
	}
	for _, h := range pruned {
		c.states.remove(h)
	}
	if len(pruned) > 0 {
		c.log.Debug("pruned states", "blocks", len(pruned), "nodes", nodes)
	}
	stripped, err := c.pruneResults(head)
	if err != nil {
		c.log.Warn("pruning old result data failed", "head", head, "err", err)
	}
	for _, h := range stripped {
		c.blocks.remove(h)
	}
}

// validate runs every rule on b (a child of parent) and returns its state
// and the training checkpoint states it creates, by root.
func (c *Chain) validate(b *types.Block, parent *types.Header) (*State, map[common.Hash][]byte, error) {
	h := b.Header
	if err := verifyHeader(c.params, c, parent, h, uint64(c.now().UnixMilli())); err != nil {
		return nil, nil, err
	}
	if err := verifyBody(c.params, b); err != nil {
		return nil, nil, err
	}
	parentState, err := c.StateAtBlock(h.ParentHash)
	if err != nil {
		return nil, nil, err
	}
	recoverSenders(b.Txs)
	ws := &workSource{p: c.params, st: parentState, progs: c, number: h.Number}
	if err := c.engine.VerifySeal(c.params, h, b.Body(), ws); err != nil {
		return nil, nil, ruleErr(ErrBadSeal, err, "seal")
	}
	st, ckpts, err := applyBlock(c.params, c.engine, c, parentState, b)
	if err != nil {
		return nil, nil, err
	}
	if err := st.Err(); err != nil {
		return nil, nil, err
	}
	if root := st.Root(); root != h.StateRoot {
		return nil, nil, ruleErr(ErrBadStateRoot, nil, "state gives %s, header says %s", root, h.StateRoot)
	}
	return st, ckpts, nil
}

// setCanonical makes b's branch canonical inside txn: from b back to the
// first ancestor already canonical, it writes number → hash and tx lookups,
// and it unindexes the old branch above that ancestor (numbers above b's
// included). It returns how many old blocks left and new ones joined.
func (c *Chain) setCanonical(txn *badger.Txn, b *types.Block, oldHead *types.Block) (dropped, added int, err error) {
	var branch []*types.Block
	for cur := b; ; {
		h, err := readCanonicalHash(txn, cur.Number())
		if err == nil && h == cur.Hash() {
			break
		}
		if err != nil && !errors.Is(err, errNotFound) {
			return 0, 0, err
		}
		branch = append(branch, cur)
		if cur.Number() == 0 {
			return 0, 0, errors.New("reorg reached a foreign genesis")
		}
		parent, err := c.readBlockTxn(txn, cur.ParentHash())
		if err != nil {
			return 0, 0, fmt.Errorf("reorg: ancestor %s: %w", cur.ParentHash(), err)
		}
		cur = parent
	}
	ancestor := b.Number() - uint64(len(branch))
	for n := oldHead.Number(); n > ancestor; n-- {
		h, err := readCanonicalHash(txn, n)
		if err != nil {
			return 0, 0, fmt.Errorf("reorg: canonical %d: %w", n, err)
		}
		old, err := c.readBlockTxn(txn, h)
		if err != nil {
			return 0, 0, fmt.Errorf("reorg: old block %d: %w", n, err)
		}
		if err := firstErr(deleteTxLookups(txn, old), deleteCanonicalHash(txn, n)); err != nil {
			return 0, 0, err
		}
		dropped++
	}
	for _, nb := range branch {
		if err := firstErr(writeCanonicalHash(txn, nb.Number(), nb.Hash()), writeTxLookups(txn, nb)); err != nil {
			return 0, 0, err
		}
	}
	return dropped, len(branch), nil
}

func (c *Chain) readBlockTxn(txn *badger.Txn, h common.Hash) (*types.Block, error) {
	if b, ok := c.blocks.get(h); ok {
		return b, nil
	}
	return readBlock(txn, h)
}

// recoverSenders recovers the txs' senders on every core (each tx caches
// its own), so the state transition's serial pass finds them ready: a
// signature check is most of a transfer's import cost.
func recoverSenders(txs []*types.Tx) {
	workers := min(runtime.GOMAXPROCS(0), (len(txs)+63)/64)
	if workers < 2 {
		return
	}
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(txs)); i = next.Add(1) - 1 {
				_, _ = txs[i].Sender() // an error is the rules' to report, in order
			}
		})
	}
	wg.Wait()
}
