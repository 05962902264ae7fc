package chain

import (
	"container/heap"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
)

// Reasons the pool turns a transaction away. Malformed transactions (bad
// signature, chain id, kind or job program) come back as a *RuleError.
var (
	ErrKnownTx            = errors.New("transaction already in the pool")
	ErrNonceTooLow        = errors.New("nonce already used")
	ErrNonceTooHigh       = errors.New("nonce too far ahead of the account's")
	ErrUnderpriced        = errors.New("fee below the floor")
	ErrReplaceUnderpriced = errors.New("replacement transaction needs a higher fee")
	ErrInsufficientFunds  = errors.New("insufficient funds for value + fee")
	ErrPoolFull           = errors.New("transaction pool is full")
)

// Pool bounds.
const (
	maxPoolTxs   = 4096
	maxPoolBytes = 128 << 20 // job programs may be megabytes each
	maxNonceGap  = 64        // queued nonces per sender beyond the account's
)

// TxPool holds valid transactions waiting for a block. It revalidates
// against the head state on every head change and whenever Pending is asked;
// after a reorg it takes back the transactions of the blocks that left the
// canonical chain (those still valid on the new head).
type TxPool struct {
	chain *Chain
	log   *slog.Logger

	mu       sync.Mutex
	all      map[common.Hash]*poolTx
	bySender map[common.Address]map[uint64]*poolTx
	bytes    int
	seq      uint64

	lastHead *types.Block // the head of the last reset (loop goroutine only)

	unsub func()
	quit  chan struct{}
	done  chan struct{}
}

type poolTx struct {
	tx   *types.Tx
	hash common.Hash
	from common.Address
	seq  uint64 // arrival order: breaks fee ties
	size int
}

// NewTxPool returns a pool fed by c's head changes. Call Close when done.
func NewTxPool(c *Chain, log *slog.Logger) *TxPool {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &TxPool{
		chain: c, log: log,
		all:      make(map[common.Hash]*poolTx),
		bySender: make(map[common.Address]map[uint64]*poolTx),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	heads := make(chan *types.Block, 16)
	p.unsub = c.SubscribeHead(heads)
	p.lastHead = c.CurrentBlock()
	go p.loop(heads)
	return p
}

// Close stops following the chain.
func (p *TxPool) Close() {
	p.unsub()
	close(p.quit)
	<-p.done
}

func (p *TxPool) loop(heads <-chan *types.Block) {
	defer close(p.done)
	for {
		select {
		case <-heads:
			p.reset()
		case <-p.quit:
			return
		}
	}
}

// Add validates tx against the head state and queues it.
func (p *TxPool) Add(tx *types.Tx) error {
	hash := tx.Hash()
	p.mu.Lock()
	_, known := p.all[hash]
	p.mu.Unlock()
	if known {
		return ErrKnownTx
	}
	from, err := p.validate(tx)
	if err != nil {
		return err
	}
	size := len(tx.Program) + len(tx.Sig) + 128

	p.mu.Lock()
	defer p.mu.Unlock()
	if _, known := p.all[hash]; known {
		return ErrKnownTx
	}
	old := p.bySender[from][tx.Nonce]
	if old != nil && !orZero(tx.Fee).Gt(orZero(old.tx.Fee)) {
		return fmt.Errorf("%w: nonce %d has fee %s", ErrReplaceUnderpriced, tx.Nonce, old.tx.Fee)
	}
	free := 0
	if old != nil {
		free = old.size
	}
	if (old == nil && len(p.all) >= maxPoolTxs) || p.bytes-free+size > maxPoolBytes {
		return ErrPoolFull
	}
	if old != nil {
		p.remove(old)
	}
	p.seq++
	ptx := &poolTx{tx: tx, hash: hash, from: from, seq: p.seq, size: size}
	p.all[hash] = ptx
	if p.bySender[from] == nil {
		p.bySender[from] = make(map[uint64]*poolTx)
	}
	p.bySender[from][tx.Nonce] = ptx
	p.bytes += size
	p.log.Debug("tx pooled", "hash", hash, "from", from, "nonce", tx.Nonce, "replaced", old != nil)
	return nil
}

// validate runs the stateless rules and the checks against the head state.
func (p *TxPool) validate(tx *types.Tx) (common.Address, error) {
	params := p.chain.Params()
	from, err := tx.Sender()
	if err != nil {
		return from, ruleErr(ErrBadSignature, err, "tx %s", tx.Hash())
	}
	if tx.ChainID != params.ChainID {
		return from, ruleErr(ErrBadChainID, nil, "chain id %d, this chain is %d", tx.ChainID, params.ChainID)
	}
	head := p.chain.CurrentBlock()
	acc := p.chain.State().Account(from)
	switch {
	case tx.Nonce < acc.Nonce:
		return from, fmt.Errorf("%w: nonce %d, account %s is at %d", ErrNonceTooLow, tx.Nonce, from, acc.Nonce)
	case tx.Nonce > acc.Nonce+maxNonceGap:
		return from, fmt.Errorf("%w: nonce %d, account %s is at %d", ErrNonceTooHigh, tx.Nonce, from, acc.Nonce)
	}
	fee := orZero(tx.Fee)
	switch tx.Kind {
	case types.TxTransfer:
		if fee.Lt(params.MinTxFee) {
			return from, fmt.Errorf("%w: fee %s, the floor is %s wei", ErrUnderpriced, fee, params.MinTxFee)
		}
	case types.TxJob:
		_, err := checkJobTx(params, head.Number()+1, p.chain.NextDifficulty(head.Header), tx)
		if RuleCodeOf(err) == ErrFeeTooLow {
			return from, fmt.Errorf("%w: %v", ErrUnderpriced, err)
		}
		if err != nil {
			return from, err
		}
	default:
		return from, ruleErr(ErrBadTxKind, types.ErrTxKind, "kind %d", tx.Kind)
	}
	cost, overflow := new(uint256.Int).AddOverflow(orZero(tx.Value), fee)
	if overflow || acc.Balance.Lt(cost) {
		return from, fmt.Errorf("%w: account %s has %s wei, tx needs %s", ErrInsufficientFunds, from, acc.Balance, cost)
	}
	return from, nil
}

// Get returns a pooled transaction by hash, or nil.
func (p *TxPool) Get(h common.Hash) *types.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ptx := p.all[h]; ptx != nil {
		return ptx.tx
	}
	return nil
}

// Len is the number of pooled transactions, executable or not.
func (p *TxPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

// PendingNonce is the nonce a sender's next transaction should use: the
// state nonce plus its consecutive pooled transactions.
func (p *TxPool) PendingNonce(a common.Address) uint64 {
	n := p.chain.State().Account(a).Nonce
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.bySender[a][n] != nil {
		n++
	}
	return n
}

// Pending returns the transactions executable now against the head state:
// per sender, consecutive nonces from the state nonce while the balance
// covers them; across senders, highest fee first (arrival order on ties),
// never breaking a sender's nonce order.
func (p *TxPool) Pending() []*types.Tx {
	st := p.chain.State()
	p.mu.Lock()
	var q senderQueue
	for from, txs := range p.bySender {
		acc := st.Account(from)
		bal := acc.Balance
		var run []*poolTx
		for n := acc.Nonce; txs[n] != nil; n++ {
			cost, overflow := new(uint256.Int).AddOverflow(orZero(txs[n].tx.Value), orZero(txs[n].tx.Fee))
			if overflow || bal.Lt(cost) {
				break
			}
			bal = new(uint256.Int).Sub(bal, cost)
			run = append(run, txs[n])
		}
		if len(run) > 0 {
			q = append(q, run)
		}
	}
	p.mu.Unlock()

	heap.Init(&q)
	var out []*types.Tx
	for q.Len() > 0 {
		run := q[0]
		out = append(out, run[0].tx)
		if len(run) == 1 {
			heap.Pop(&q)
		} else {
			q[0] = run[1:]
			heap.Fix(&q, 0)
		}
	}
	return out
}

// reset follows the head: after a reorg it re-adds the transactions of the
// abandoned branch, then drops those the head state has made stale (used
// nonces, which covers every tx the new branch included, and jobs whose
// expiry has come).
func (p *TxPool) reset() {
	head := p.chain.CurrentBlock()
	if old := p.lastHead; old != nil && old.Hash() != head.Hash() {
		if h, ok := p.chain.CanonicalHash(old.Number()); !ok || h != old.Hash() {
			p.reinject(old, head)
		}
	}
	p.lastHead = head

	st, head := p.chain.State(), p.chain.CurrentBlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	var drop []*poolTx
	for from, txs := range p.bySender {
		nonce := st.Account(from).Nonce
		for n, ptx := range txs {
			if n < nonce || (ptx.tx.Kind == types.TxJob && ptx.tx.Expiry <= head.Number()+1) {
				drop = append(drop, ptx)
			}
		}
	}
	for _, ptx := range drop {
		p.remove(ptx)
	}
	if len(drop) > 0 {
		p.log.Debug("txpool reset", "head", head.Number(), "dropped", len(drop), "left", len(p.all))
	}
}

// maxReorgWalk bounds the blocks reinject reads on each branch; a fork
// deeper than the state retention is refused by the chain anyway.
const maxReorgWalk = stateRetention + 1

// reinject finds the fork point of oldHead's branch (no longer canonical)
// and newHead's, and adds back the old branch's transactions, oldest block
// first. Add checks each against the new head state, so txs the new branch
// included (their nonce is used), unaffordable ones and expired jobs stay out.
func (p *TxPool) reinject(oldHead, newHead *types.Block) {
	var abandoned []*types.Block // newest first
	o, n := oldHead, newHead
	for steps := 0; o.Hash() != n.Hash(); steps++ {
		if steps > 2*maxReorgWalk {
			p.log.Warn("txpool: fork point of a reorg not found; the old branch's txs are not re-added",
				"oldHead", oldHead.Number(), "newHead", newHead.Number())
			return
		}
		var next *types.Block
		if o.Number() >= n.Number() {
			abandoned = append(abandoned, o)
			next = p.chain.GetBlockByHash(o.ParentHash())
			o = next
		} else {
			next = p.chain.GetBlockByHash(n.ParentHash())
			n = next
		}
		if next == nil {
			p.log.Warn("txpool: reorg walk met a missing block; the old branch's txs are not re-added",
				"oldHead", oldHead.Number(), "newHead", newHead.Number())
			return
		}
	}
	total, readded := 0, 0
	for i := len(abandoned) - 1; i >= 0; i-- {
		for _, tx := range abandoned[i].Txs {
			total++
			if err := p.Add(tx); err != nil {
				p.log.Debug("txpool: tx of an abandoned block not re-added", "hash", tx.Hash(), "err", err)
				continue
			}
			readded++
		}
	}
	if total > 0 {
		p.log.Info("txpool: re-added txs of abandoned blocks", "oldHead", oldHead.Number(), "newHead", newHead.Number(),
			"forkPoint", o.Number(), "readded", readded, "abandoned", total)
	}
}

func (p *TxPool) remove(ptx *poolTx) {
	delete(p.all, ptx.hash)
	delete(p.bySender[ptx.from], ptx.tx.Nonce)
	if len(p.bySender[ptx.from]) == 0 {
		delete(p.bySender, ptx.from)
	}
	p.bytes -= ptx.size
}

// senderQueue is a max-heap of per-sender runs keyed by each run's first tx.
type senderQueue [][]*poolTx

func (q senderQueue) Len() int { return len(q) }
func (q senderQueue) Less(i, j int) bool {
	if c := orZero(q[i][0].tx.Fee).Cmp(orZero(q[j][0].tx.Fee)); c != 0 {
		return c > 0
	}
	return q[i][0].seq < q[j][0].seq
}
func (q senderQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *senderQueue) Push(x any)   { *q = append(*q, x.([]*poolTx)) }
func (q *senderQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
