package chain

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
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
	ErrAccountLimit       = errors.New("sender has too many pooled transactions")
	ErrTxTooLarge         = errors.New("transaction larger than the largest valid one")
)

// TxPoolConfig bounds the pool (docs/protocol.md §10b). Pending txs are
// those executable on the head; queued ones wait on a nonce gap or funds.
// There is no pending cap of its own: pending may use all the room that
// queued txs, capped at MaxQueued, leave.
type TxPoolConfig struct {
	AccountPending int // executable txs per sender
	AccountQueued  int // future txs per sender, and how far past its next executable nonce it may reach
	MaxTxs         int // all pooled txs
	MaxBytes       int // their RLP bytes
	MaxQueued      int // queued txs
	MaxQueuedBytes int
	PriceBump      uint64        // percent a replacement must add to the fee it replaces
	Lifetime       time.Duration // a queued tx older than this is dropped
	EvictInterval  time.Duration // how often aged queued txs are looked for between heads
	DropRecords    int           // dropped hashes remembered for Status
	Journal        string        // file that keeps the pool across restarts ("": none)
	Now            func() time.Time
}

// DefaultTxPoolConfig holds a node's pool limits: 4096 txs of room beyond
// the queued ones (four blocks of 1000), queued bounded by count and bytes.
func DefaultTxPoolConfig() TxPoolConfig {
	return TxPoolConfig{
		AccountPending: 1024,
		AccountQueued:  64,
		MaxTxs:         5120,
		MaxBytes:       160 << 20, // job programs may be 16 MiB each
		MaxQueued:      1024,
		MaxQueuedBytes: 32 << 20,
		PriceBump:      10,
		Lifetime:       time.Hour,
		EvictInterval:  time.Minute,
		DropRecords:    32768,
		Now:            time.Now,
	}
}

// TxPoolOption adjusts a pool's config (tests shrink the limits, set a clock).
type TxPoolOption func(*TxPoolConfig)

// TxPool holds valid transactions waiting for a block, split into pending
// (executable on the head state: consecutive nonces from the account's,
// affordable) and queued (a nonce gap, or not yet affordable). It follows
// the head: mined txs leave, queued ones are promoted when their gap fills,
// pending ones demoted when a reorg makes them unexecutable, and the txs of
// abandoned blocks come back. Every tx it accepted and lets go without a
// block is recorded as dropped with a reason (Status).
type TxPool struct {
	chain *Chain
	log   *slog.Logger
	cfg   TxPoolConfig

	resetMu sync.Mutex // one reset at a time, each from the latest head

	mu          sync.Mutex
	head        *types.Block // the head the pool is valid against
	state       *State       // head's state
	all         map[common.Hash]*poolTx
	accounts    map[common.Address]*txAccount
	bytes       int
	nqueued     int
	queuedBytes int
	seq         uint64
	dropped     *lru[common.Hash, DropRecord]
	dropCounts  map[DropReason]int // since the last summary line
	mined       int                // since the last summary line
	promoted    int
	demoted     int
	journal     *txJournal // nil: none, or off after a write error

	unsub func()
	quit  chan struct{}
	done  chan struct{}
}

type poolTx struct {
	tx      *types.Tx
	hash    common.Hash
	from    common.Address
	nonce   uint64
	fee     *uint256.Int
	cost    *uint256.Int // value + fee
	size    int          // RLP bytes
	seq     uint64       // arrival order: breaks fee ties
	added   time.Time
	pending bool
}

// txAccount is one sender's pooled txs: txs[base .. base+npending) are
// pending, the rest queued.
type txAccount struct {
	txs      map[uint64]*poolTx
	base     uint64 // the state nonce at the last rebuild
	npending int
}

func (a *txAccount) nqueued() int { return len(a.txs) - a.npending }

// NewTxPool returns a pool fed by c's head changes. Call Close when done.
func NewTxPool(c *Chain, log *slog.Logger, opts ...TxPoolOption) *TxPool {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := DefaultTxPoolConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	head, st := c.headAndState()
	p := &TxPool{
		chain: c, log: log, cfg: cfg,
		head: head, state: st,
		all:        make(map[common.Hash]*poolTx),
		accounts:   make(map[common.Address]*txAccount),
		dropped:    newLRU[common.Hash, DropRecord](max(cfg.DropRecords, 1)),
		dropCounts: make(map[DropReason]int),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if cfg.Journal != "" {
		p.mu.Lock()
		p.loadJournal()
		p.mu.Unlock()
	}
	heads := make(chan *types.Block, 16)
	p.unsub = c.SubscribeHead(heads)
	go p.loop(heads)
	return p
}

// headAndState reads the head and its state as one snapshot.
func (c *Chain) headAndState() (*types.Block, *State) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.head, c.headState
}

// Close stops following the chain and leaves the journal compact.
func (p *TxPool) Close() {
	p.unsub()
	close(p.quit)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.journal != nil {
		p.rotateJournal()
		if err := p.journal.close(); err != nil {
			p.log.Warn("Txpool journal: close", "path", p.cfg.Journal, "err", err)
		}
		p.journal = nil
	}
}

func (p *TxPool) loop(heads <-chan *types.Block) {
	defer close(p.done)
	evict := time.NewTicker(max(p.cfg.EvictInterval, time.Millisecond))
	defer evict.Stop()
	for {
		select {
		case <-heads:
			p.reset()
		case <-evict.C:
			p.mu.Lock()
			p.evictAged()
			p.summary("Txpool evicted aged txs", false)
			p.mu.Unlock()
		case <-p.quit:
			return
		}
	}
}

// Add validates tx against the head state and pools it, pending or queued.
func (p *TxPool) Add(tx *types.Tx) error {
	p.reset()
	enc, err := rlp.EncodeToBytes(tx)
	if err != nil {
		return fmt.Errorf("txpool: encode tx: %w", err)
	}
	hash := encodedTxHash(tx, enc) // = tx.Hash()
	p.mu.Lock()
	head, known := p.head, p.all[hash] != nil
	p.mu.Unlock()
	if known { // before the signature check: gossip repeats txs
		return ErrKnownTx
	}
	ptx, err := p.prepare(tx, enc, head)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.add(ptx)
}

// prepare runs the checks that need no account state on tx and its RLP
// encoding enc (nil: encode it here): size, signature, chain id, kind, fee
// floors and, for a job, its program at head's child.
func (p *TxPool) prepare(tx *types.Tx, enc []byte, head *types.Block) (*poolTx, error) {
	params := p.chain.Params()
	if enc == nil {
		var err error
		if enc, err = rlp.EncodeToBytes(tx); err != nil {
			return nil, fmt.Errorf("txpool: encode tx: %w", err)
		}
	}
	if limit := params.MaxTxBytes(); uint64(len(enc)) > limit {
		return nil, fmt.Errorf("%w: %d bytes, the cap is %d", ErrTxTooLarge, len(enc), limit)
	}
	hash := encodedTxHash(tx, enc)
	from, err := tx.Sender()
	if err != nil {
		return nil, ruleErr(ErrBadSignature, err, "tx %s", hash)
	}
	if tx.ChainID != params.ChainID {
		return nil, ruleErr(ErrBadChainID, nil, "chain id %d, this chain is %d", tx.ChainID, params.ChainID)
	}
	fee := orZero(tx.Fee)
	switch tx.Kind {
	case types.TxTransfer:
		if fee.Lt(params.MinTxFee) {
			return nil, fmt.Errorf("%w: fee %s, the floor is %s wei", ErrUnderpriced, fee, params.MinTxFee)
		}
	case types.TxJob:
		if err := p.checkJob(tx, head); err != nil {
			return nil, err
		}
	case types.TxEth:
		// The fee the chain charges, not the most it could pay: it orders,
		// replaces and is counted against the balance.
		var err error
		if fee, err = CheckEthTx(params, tx); err != nil {
			if RuleCodeOf(err) == ErrFeeTooLow {
				return nil, fmt.Errorf("%w: %v", ErrUnderpriced, err)
			}
			return nil, err
		}
	default:
		return nil, ruleErr(ErrBadTxKind, types.ErrTxKind, "kind %d", tx.Kind)
	}
	cost, overflow := new(uint256.Int).AddOverflow(orZero(tx.Value), fee)
	if overflow {
		return nil, fmt.Errorf("%w: value + fee overflows", ErrInsufficientFunds)
	}
	return &poolTx{tx: tx, hash: hash, from: from, nonce: tx.Nonce, fee: fee, cost: cost, size: len(enc)}, nil
}

// encodedTxHash is tx.Hash() from its encoding enc: Keccak256(enc), but an
// Ethereum tx's hash is that of its raw bytes.
func encodedTxHash(tx *types.Tx, enc []byte) common.Hash {
	if tx.Kind == types.TxEth {
		return tx.Hash()
	}
	return crypto.Keccak256Hash(enc)
}

// checkJob applies the job rules of head's child; a fee below the base fee
// is ErrUnderpriced.
func (p *TxPool) checkJob(tx *types.Tx, head *types.Block) error {
	_, err := checkJobTx(p.chain.Params(), head.Number()+1, p.chain.NextDifficulty(head.Header), tx)
	if RuleCodeOf(err) == ErrFeeTooLow {
		return fmt.Errorf("%w: %v", ErrUnderpriced, err)
	}
	return err
}

// add pools a prepared tx against the pool's head state (p.mu held).
func (p *TxPool) add(ptx *poolTx) error {
	if p.all[ptx.hash] != nil {
		return ErrKnownTx
	}
	acc := p.state.Account(ptx.from)
	a := p.accounts[ptx.from]
	if a == nil {
		a = &txAccount{txs: make(map[uint64]*poolTx), base: acc.Nonce}
	}
	next := acc.Nonce + uint64(a.npending) // first nonce that is not pending
	switch {
	case ptx.nonce < acc.Nonce:
		return fmt.Errorf("%w: nonce %d, account %s is at %d", ErrNonceTooLow, ptx.nonce, ptx.from, acc.Nonce)
	case ptx.nonce > next+uint64(p.cfg.AccountQueued):
		return fmt.Errorf("%w: nonce %d, account %s is at %d with %d pending; the pool queues at most %d nonces past that",
			ErrNonceTooHigh, ptx.nonce, ptx.from, acc.Nonce, a.npending, p.cfg.AccountQueued)
	case acc.Balance.Lt(ptx.cost):
		return fmt.Errorf("%w: account %s has %s wei, tx needs %s", ErrInsufficientFunds, ptx.from, acc.Balance, ptx.cost)
	}
	old := a.txs[ptx.nonce]
	if old != nil {
		if need := bumped(old.fee, p.cfg.PriceBump); ptx.fee.Lt(need) {
			return fmt.Errorf("%w: nonce %d has fee %s, a replacement needs %s (+%d%%)", ErrReplaceUnderpriced, ptx.nonce, old.fee, need, p.cfg.PriceBump)
		}
	}
	toPending := ptx.nonce < next || (ptx.nonce == next && a.npending < p.cfg.AccountPending)
	switch {
	case toPending:
		// Executable only if the pending txs before it leave enough balance.
		spent := new(uint256.Int)
		for n := acc.Nonce; n < ptx.nonce; n++ {
			spent.Add(spent, a.txs[n].cost)
		}
		if total, overflow := new(uint256.Int).AddOverflow(spent, ptx.cost); overflow || acc.Balance.Lt(total) {
			return fmt.Errorf("%w: account %s has %s wei, its pooled txs before nonce %d spend %s and this one needs %s",
				ErrInsufficientFunds, ptx.from, acc.Balance, ptx.nonce, spent, ptx.cost)
		}
	case ptx.nonce == next:
		return fmt.Errorf("%w: %s has %d executable txs pooled; wait for a block", ErrAccountLimit, ptx.from, a.npending)
	case old == nil && a.nqueued() >= p.cfg.AccountQueued:
		return fmt.Errorf("%w: %s has %d future txs queued", ErrAccountLimit, ptx.from, a.nqueued())
	}
	victims, err := p.makeRoom(ptx, old, toPending)
	if err != nil {
		return err
	}
	for _, v := range victims {
		p.drop(v, DropEvicted, "pool full: outbid by "+ptx.hash.Hex())
	}
	if old != nil {
		p.drop(old, DropReplaced, "by "+ptx.hash.Hex())
	}
	p.seq++
	ptx.seq, ptx.added = p.seq, p.cfg.Now()
	if p.accounts[ptx.from] == nil {
		p.accounts[ptx.from] = a
	}
	a.txs[ptx.nonce] = ptx
	p.all[ptx.hash] = ptx
	p.bytes += ptx.size
	p.nqueued++ // rebuild moves it to pending if it is executable
	p.queuedBytes += ptx.size
	p.rebuild(ptx.from)
	p.enforceCaps()
	p.dropped.remove(ptx.hash)
	p.journal.write(&journalEntry{Tx: ptx.tx})
	p.log.Debug("Pooled tx", "hash", ptx.hash, "from", ptx.from, "nonce", ptx.nonce, "pending", ptx.pending, "replaced", old != nil)
	return nil
}

// bumped is fee raised by pct percent, and by at least 1 wei.
func bumped(fee *uint256.Int, pct uint64) *uint256.Int {
	inc := new(uint256.Int).Mul(fee, uint256.NewInt(pct))
	inc.Div(inc, uint256.NewInt(100))
	if inc.IsZero() {
		inc.SetOne()
	}
	return inc.Add(inc, fee)
}

// cheaper reports whether a pays less than b per byte: the pool's scarce
// resource is memory and a block's is bytes as well as slots, so a 16 MiB
// job must pay for its size to push out small transfers. The products
// cannot overflow: a fee is at most a balance, far below 2^200.
func cheaper(a, b *poolTx) bool {
	var x, y uint256.Int
	x.Mul(a.fee, uint256.NewInt(uint64(b.size)))
	y.Mul(b.fee, uint256.NewInt(uint64(a.size)))
	return x.Lt(&y)
}

// cheapestFirst orders eviction candidates: least fee per byte, then the
// latest arrival.
func cheapestFirst(a, b *poolTx) int {
	switch {
	case cheaper(a, b):
		return -1
	case cheaper(b, a):
		return 1
	}
	return cmp.Compare(b.seq, a.seq)
}

// makeRoom picks the txs to evict so that ptx (replacing old, if any) fits
// the caps: queued txs of other senders first, then, for an executable tx,
// the last pending tx of another sender. A victim must pay strictly less
// per byte than ptx; if that is not enough, nothing is evicted.
func (p *TxPool) makeRoom(ptx, old *poolTx, toPending bool) ([]*poolTx, error) {
	count, bytes := len(p.all)+1, p.bytes+ptx.size
	qcount, qbytes := p.nqueued, p.queuedBytes
	if !toPending {
		qcount, qbytes = qcount+1, qbytes+ptx.size
	}
	if old != nil {
		count, bytes = count-1, bytes-old.size
		if !old.pending {
			qcount, qbytes = qcount-1, qbytes-old.size
		}
	}
	over := func() bool {
		return count > p.cfg.MaxTxs || bytes > p.cfg.MaxBytes ||
			(!toPending && (qcount > p.cfg.MaxQueued || qbytes > p.cfg.MaxQueuedBytes))
	}
	if !over() {
		return nil, nil
	}
	full := func() error {
		if !toPending {
			return fmt.Errorf("%w: %d txs (%d queued, %d MiB); a future tx must pay more per byte than the cheapest queued one",
				ErrPoolFull, len(p.all), p.nqueued, p.bytes>>20)
		}
		return fmt.Errorf("%w: %d txs (%d MiB); an executable tx must pay more per byte than the cheapest one pooled",
			ErrPoolFull, len(p.all), p.bytes>>20)
	}
	var victims []*poolTx
	// Queued txs of others, cheapest first. A quick scan turns away a tx
	// that outbids none without sorting.
	var queued []*poolTx
	for from, a := range p.accounts {
		if from == ptx.from || a.nqueued() == 0 {
			continue
		}
		for _, t := range a.txs {
			if !t.pending && cheaper(t, ptx) {
				queued = append(queued, t)
			}
		}
	}
	slices.SortFunc(queued, cheapestFirst)
	for _, v := range queued {
		if !over() {
			break
		}
		victims = append(victims, v)
		count, bytes, qcount, qbytes = count-1, bytes-v.size, qcount-1, qbytes-v.size
	}
	if over() && toPending {
		tails := p.pendingTails(ptx.from)
		for over() {
			v := tails.next()
			if v == nil || !cheaper(v, ptx) {
				break
			}
			victims = append(victims, v)
			count, bytes = count-1, bytes-v.size
		}
	}
	if over() {
		return nil, full()
	}
	return victims, nil
}

// tailCursors walks the pending txs that can go without making another
// pending tx unexecutable: each sender's highest pending nonce, then the one
// below it.
type tailCursors struct {
	p    *TxPool
	accs []*txAccount
	tops []uint64 // per account: one past the current tail nonce
}

func (p *TxPool) pendingTails(except common.Address) *tailCursors {
	c := &tailCursors{p: p}
	for from, a := range p.accounts {
		if from != except && a.npending > 0 {
			c.accs = append(c.accs, a)
			c.tops = append(c.tops, a.base+uint64(a.npending))
		}
	}
	return c
}

// next returns the cheapest current tail and moves past it; nil when none
// is left.
func (c *tailCursors) next() *poolTx {
	best := -1
	for i, a := range c.accs {
		if c.tops[i] == a.base {
			continue
		}
		if best < 0 || cheapestFirst(a.txs[c.tops[i]-1], c.accs[best].txs[c.tops[best]-1]) < 0 {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	c.tops[best]--
	return c.accs[best].txs[c.tops[best]]
}

// rebuild marks from's txs pending or queued against the pool's state:
// pending is the run of consecutive nonces from the state nonce that the
// balance covers, at most AccountPending long. Queued txs past the
// per-sender cap are dropped, highest nonce first (p.mu held). It returns
// how many txs moved from queued to pending and back.
func (p *TxPool) rebuild(from common.Address) (promoted, demoted int) {
	a := p.accounts[from]
	if a == nil {
		return 0, 0
	}
	acc := p.state.Account(from)
	bal := new(uint256.Int).Set(acc.Balance)
	a.base = acc.Nonce
	run := 0
	for n := acc.Nonce; run < p.cfg.AccountPending; n++ {
		t := a.txs[n]
		if t == nil || bal.Lt(t.cost) {
			break
		}
		bal.Sub(bal, t.cost)
		run++
	}
	a.npending = run
	var queued []*poolTx
	for n, t := range a.txs {
		pending := n >= acc.Nonce && n < acc.Nonce+uint64(run)
		if pending != t.pending {
			t.pending = pending
			if pending {
				p.nqueued, p.queuedBytes = p.nqueued-1, p.queuedBytes-t.size
				promoted++
			} else {
				p.nqueued, p.queuedBytes = p.nqueued+1, p.queuedBytes+t.size
				demoted++
			}
		}
		if !pending {
			queued = append(queued, t)
		}
	}
	if len(queued) > p.cfg.AccountQueued {
		slices.SortFunc(queued, func(x, y *poolTx) int { return cmp.Compare(y.nonce, x.nonce) })
		for _, t := range queued[:len(queued)-p.cfg.AccountQueued] {
			p.drop(t, DropEvicted, fmt.Sprintf("sender over its %d queued txs", p.cfg.AccountQueued))
		}
	}
	return promoted, demoted
}

// enforceCaps evicts until the pool is within its caps, cheapest first:
// queued txs over the queued cap, then, over the total cap, queued txs and
// then the last pending txs of senders (p.mu held). Add never overfills the
// pool; a reorg that brings txs back or a demotion can.
func (p *TxPool) enforceCaps() {
	queuedOver := func() bool { return p.nqueued > p.cfg.MaxQueued || p.queuedBytes > p.cfg.MaxQueuedBytes }
	totalOver := func() bool { return len(p.all) > p.cfg.MaxTxs || p.bytes > p.cfg.MaxBytes }
	if !queuedOver() && !totalOver() {
		return
	}
	var queued []*poolTx
	for _, a := range p.accounts {
		for _, t := range a.txs {
			if !t.pending {
				queued = append(queued, t)
			}
		}
	}
	slices.SortFunc(queued, cheapestFirst)
	for _, t := range queued {
		if !queuedOver() && !totalOver() {
			break
		}
		p.drop(t, DropEvicted, "pool over its queued cap")
	}
	for totalOver() {
		t := p.pendingTails(common.Address{}).next()
		if t == nil {
			break
		}
		p.drop(t, DropEvicted, "pool over its cap")
		p.rebuild(t.from)
	}
}

// evictAged drops queued txs older than the lifetime (p.mu held).
func (p *TxPool) evictAged() {
	if p.cfg.Lifetime <= 0 {
		return
	}
	now := p.cfg.Now()
	var old []*poolTx
	for _, a := range p.accounts {
		for _, t := range a.txs {
			if !t.pending && now.Sub(t.added) > p.cfg.Lifetime {
				old = append(old, t)
			}
		}
	}
	for _, t := range old {
		p.drop(t, DropExpired, fmt.Sprintf("queued for more than %s", p.cfg.Lifetime))
	}
}

// remove takes ptx out of the pool's indexes (p.mu held).
func (p *TxPool) remove(ptx *poolTx) {
	delete(p.all, ptx.hash)
	a := p.accounts[ptx.from]
	delete(a.txs, ptx.nonce)
	if len(a.txs) == 0 {
		delete(p.accounts, ptx.from)
	}
	p.bytes -= ptx.size
	if ptx.pending {
		a.npending-- // the caller rebuilds the account if it was not the tail
	} else {
		p.nqueued, p.queuedBytes = p.nqueued-1, p.queuedBytes-ptx.size
	}
}

// Get returns a pooled transaction by hash, or nil.
func (p *TxPool) Get(h common.Hash) *types.Tx {
	p.reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	if ptx := p.all[h]; ptx != nil {
		return ptx.tx
	}
	return nil
}

// Len is the number of pooled transactions, executable or not.
func (p *TxPool) Len() int {
	p.reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

// Counts returns the numbers of pending and queued transactions.
func (p *TxPool) Counts() (pending, queued int) {
	p.reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all) - p.nqueued, p.nqueued
}

// PendingNonce is the nonce a sender's next transaction should use: the
// state nonce plus its consecutive pooled transactions.
func (p *TxPool) PendingNonce(a common.Address) uint64 {
	p.reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.state.Account(a).Nonce
	if acc := p.accounts[a]; acc != nil {
		for acc.txs[n] != nil {
			n++
		}
	}
	return n
}

// Pending returns the transactions executable now against the head state:
// per sender, consecutive nonces from the state nonce while the balance
// covers them; across senders, highest fee first (arrival order on ties),
// never breaking a sender's nonce order.
func (p *TxPool) Pending() []*types.Tx {
	p.reset()
	p.mu.Lock()
	var q senderQueue
	total := 0
	for _, a := range p.accounts {
		if a.npending == 0 {
			continue
		}
		run := make([]*poolTx, a.npending)
		for i := range run {
			run[i] = a.txs[a.base+uint64(i)]
		}
		q = append(q, run)
		total += len(run)
	}
	p.mu.Unlock()

	heap.Init(&q)
	out := make([]*types.Tx, 0, total)
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

// reset follows the chain's head if it moved: mined txs leave, txs whose
// nonce another tx used or that are no longer valid are dropped, after a
// reorg the abandoned blocks' txs come back, and each sender's txs are
// sorted again into pending and queued.
func (p *TxPool) reset() {
	p.resetMu.Lock()
	defer p.resetMu.Unlock()
	head, st := p.chain.headAndState()
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.head
	if old.Hash() == head.Hash() {
		return
	}
	p.head, p.state = head, st
	for from, a := range p.accounts {
		acc := st.Account(from)
		for n, t := range a.txs {
			switch {
			case n < acc.Nonce:
				if p.chain.hasTxLookup(t.hash) {
					p.remove(t)
					p.mined++
				} else {
					p.drop(t, DropNonceUsed, fmt.Sprintf("the chain holds another tx with nonce %d", n))
				}
			case acc.Balance.Lt(t.cost):
				p.drop(t, DropInsufficientFunds, fmt.Sprintf("balance %s wei, tx needs %s", acc.Balance, t.cost))
			case t.tx.Kind == types.TxJob:
				if err := p.checkJob(t.tx, head); err != nil {
					p.drop(t, DropInvalid, err.Error())
				}
			}
		}
		pr, de := p.rebuild(from)
		p.promoted, p.demoted = p.promoted+pr, p.demoted+de
	}
	if h, ok := p.chain.CanonicalHash(old.Number()); !ok || h != old.Hash() {
		p.reinject(old, head)
	}
	p.evictAged()
	p.enforceCaps()
	p.maybeRotateJournal()
	p.summary("Txpool reset", true)
}

// maxReorgWalk bounds the blocks reinject reads on each branch; a fork
// deeper than the state retention (Options.StateRetention) is refused by the
// chain anyway.
const maxReorgWalk = 1 << 14

// reinject finds the fork point of oldHead's branch (no longer canonical)
// and newHead's, and adds back the old branch's transactions, oldest block
// first. Those the new branch carries count as mined; the others that the
// pool refuses are recorded as dropped (p.mu held).
func (p *TxPool) reinject(oldHead, newHead *types.Block) {
	var abandoned []*types.Block // newest first
	o, n := oldHead, newHead
	for steps := 0; o.Hash() != n.Hash(); steps++ {
		if steps > 2*maxReorgWalk {
			p.log.Warn("Txpool: fork point of a reorg not found; the old branch's txs are not re-added",
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
			p.log.Warn("Txpool: reorg walk met a missing block; the old branch's txs are not re-added",
				"oldHead", oldHead.Number(), "newHead", newHead.Number())
			return
		}
	}
	total, readded := 0, 0
	for i := len(abandoned) - 1; i >= 0; i-- {
		for _, tx := range abandoned[i].Txs {
			total++
			h := tx.Hash()
			if p.all[h] != nil || p.chain.hasTxLookup(h) {
				continue
			}
			ptx, err := p.prepare(tx, nil, newHead)
			if err == nil {
				err = p.add(ptx)
			}
			if err != nil {
				reason := DropReorg
				if errors.Is(err, ErrNonceTooLow) {
					reason = DropNonceUsed
				}
				p.record(h, reason, "its block left the canonical chain: "+err.Error())
				continue
			}
			readded++
		}
	}
	if total > 0 {
		p.log.Info("Txpool: re-added txs of abandoned blocks", "oldHead", oldHead.Number(), "newHead", newHead.Number(),
			"forkPoint", o.Number(), "readded", readded, "abandoned", total)
	}
}

// hasTxLookup reports whether the canonical chain holds tx h.
func (c *Chain) hasTxLookup(h common.Hash) bool {
	return c.view(func(txn *badger.Txn) error { _, err := readTxLookup(txn, h); return err }) == nil
}

// senderQueue is a max-heap of per-sender runs keyed by each run's first tx.
type senderQueue [][]*poolTx

func (q senderQueue) Len() int { return len(q) }
func (q senderQueue) Less(i, j int) bool {
	if c := q[i][0].fee.Cmp(q[j][0].fee); c != 0 {
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
