package chain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	ethtypes "github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

const (
	headerCacheSize   = 2048
	blockCacheSize    = 32
	stateCacheSize    = 16
	badBlockCacheSize = 256
	maxCachedBodySize = 1 << 20 // blocks carrying big job programs are not cached
)

// Chain is the block tree on disk with its canonical chain, head state and
// fork choice (most total difficulty; ties keep the first seen). Readers are
// safe for concurrent use; InsertBlock calls are serialised.
type Chain struct {
	db      *badger.DB
	params  *types.Params
	genesis *types.Block
	engine  consensus.Engine
	log     *slog.Logger
	now     func() time.Time

	store     *nodeStore    // the state trie's nodes
	retention uint64        // blocks of state kept behind the head (Options.StateRetention)
	archive   bool          // keep every state (Options.Archive)
	pivot     atomic.Uint64 // snap sync pivot (0: synced from genesis)

	insertMu sync.Mutex // one import at a time

	// birthMu is held by every commit that stores trie nodes, from telling
	// the node filter to the commit, and by a filter build taking its
	// snapshot (nodefilter.go).
	birthMu sync.Mutex
	filter  *nodeFilter

	// The pruner (prune.go) releases what falls out of the windows behind
	// the head, in the background. pruneMu is held while a pass runs;
	// pendMu guards the head of the pass asked for and not yet taken.
	pruneMu   sync.Mutex
	pendMu    sync.Mutex
	pendHead  uint64
	pending   bool
	pruneWake chan struct{}
	pruneStop chan struct{}
	stopOnce  sync.Once
	pruneWG   sync.WaitGroup

	mu        sync.RWMutex // guards the head fields
	head      *types.Block
	headTD    *uint256.Int
	headState *State

	headers *lru[common.Hash, *types.Header]
	blocks  *lru[common.Hash, *types.Block]
	states  *lru[common.Hash, *State]
	bad     *lru[common.Hash, error] // rule errors of rejected blocks

	subMu  sync.Mutex
	subs   map[int]chan<- *types.Block
	nextID int
}

// Options are a node's storage policies (not consensus: nodes with other
// options agree on every block).
type Options struct {
	// Archive keeps the state of every block; otherwise only the last
	// StateRetention blocks' states are kept, and older trie nodes no kept
	// state reads are deleted.
	Archive bool
	// StateRetention is the blocks of state kept behind the head, and the
	// deepest fork accepted; 0 means DefaultStateRetention.
	StateRetention uint64
	// NodeCache is the bytes of trie nodes kept in memory: 0 means
	// DefaultNodeCacheBytes, a negative value none.
	NodeCache int
}

// Open opens the chain in dir, writing g's genesis block on first use. A
// datadir that holds another genesis is refused. Every commit is fsynced: a
// block InsertBlock accepted survives a power cut (docs/protocol.md §10a).
func Open(dir string, g *Genesis, engine consensus.Engine, log *slog.Logger) (*Chain, error) {
	return OpenWith(dir, g, engine, log, Options{})
}

// OpenWith is Open with storage options.
func OpenWith(dir string, g *Genesis, engine consensus.Engine, log *slog.Logger, opts Options) (*Chain, error) {
	return open(dir, g, engine, log, opts, true)
}

// open is OpenWith with the choice of fsync on every commit (see openDB).
func open(dir string, g *Genesis, engine consensus.Engine, log *slog.Logger, opts Options, syncWrites bool) (*Chain, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if opts.StateRetention == 0 {
		opts.StateRetention = DefaultStateRetention
	}
	if opts.StateRetention < MinStateRetention {
		return nil, fmt.Errorf("chain: state retention %d blocks, at least %d", opts.StateRetention, MinStateRetention)
	}
	if engine == nil {
		return nil, errors.New("chain: no consensus engine")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := openDB(dir, log, syncWrites)
	if err != nil {
		return nil, err
	}
	params := g.Config
	gblock, gstate := g.ToBlock()
	c := &Chain{
		db: db, params: &params, genesis: gblock, engine: engine, log: log, now: time.Now,
		store: newNodeStore(db, nodeCacheBytes(opts.NodeCache)), retention: opts.StateRetention, archive: opts.Archive,
		headers: newLRU[common.Hash, *types.Header](headerCacheSize),
		blocks:  newLRU[common.Hash, *types.Block](blockCacheSize),
		states:  newLRU[common.Hash, *State](stateCacheSize),
		bad:     newLRU[common.Hash, error](badBlockCacheSize),
		subs:    make(map[int]chan<- *types.Block),

		pruneWake: make(chan struct{}, 1), pruneStop: make(chan struct{}), filter: newNodeFilter(),
	}
	if err := c.loadOrInit(dir, gstate); err != nil {
		db.Close()
		return nil, err
	}
	c.pruneWG.Go(c.pruner)
	c.pruneWG.Go(func() { c.nodeFilterLoop(c.pruneStop) })
	log.Info("chain opened", "dir", dir, "genesis", gblock.Hash(), "head", c.head.Number(), "hash", c.head.Hash())
	return c, nil
}

func (c *Chain) loadOrInit(dir string, gstate *State) error {
	ghash := c.genesis.Hash()
	var stored common.Hash
	err := c.db.View(func(txn *badger.Txn) error {
		var err error
		stored, err = readGenesisHash(txn)
		return err
	})
	if err == nil {
		// The schema first: an older datadir also has another genesis, and
		// what to do about it is to delete it, not to find its genesis file.
		var v uint64
		if err := c.view(func(txn *badger.Txn) (err error) { v, err = readSchemaVersion(txn); return }); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if v < schemaVersion {
			return fmt.Errorf("datadir %s has chain schema %d, from before training jobs (a hard fork changed "+
				"the job records, the state root and the genesis): delete the datadir and sync again", dir, v)
		}
		if v != schemaVersion {
			return fmt.Errorf("datadir %s has chain schema %d, this build reads %d: run a newer build", dir, v, schemaVersion)
		}
	}
	switch {
	case errors.Is(err, errNotFound):
		c.log.Info("writing genesis", "hash", ghash, "chainId", c.params.ChainID, "network", c.params.Network)
		if err := c.writeGenesisState(gstate); err != nil {
			return fmt.Errorf("write genesis state: %w", err)
		}
		err = c.db.Update(func(txn *badger.Txn) error {
			td := uint256.NewInt(c.genesis.Header.Difficulty)
			// The genesis is always canonical: only its (empty) Dead would
			// ever be released, so its journal stays empty however large the
			// allocation.
			return firstErr(
				writeSchemaVersion(txn), writeBlock(txn, c.genesis), writeTD(txn, ghash, td),
				writeStateRecord(txn, 0, ghash, &stateJournal{}), writeCanonicalHash(txn, 0, ghash),
				writeHeadHash(txn, ghash), writeGenesisHash(txn, ghash),
			)
		})
		if err != nil {
			return fmt.Errorf("write genesis: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read genesis hash: %w", err)
	case stored != ghash:
		return fmt.Errorf("datadir %s holds the chain of genesis %s, but the configured genesis is %s: "+
			"use another datadir or the genesis file it was created with", dir, stored, ghash)
	}
	return c.db.View(func(txn *badger.Txn) error {
		hh, err := readHeadHash(txn)
		if err != nil {
			return fmt.Errorf("read head hash: %w", err)
		}
		head, err := readBlock(txn, hh)
		if err != nil {
			return fmt.Errorf("read head block %s: %w", hh, err)
		}
		td, err := readTD(txn, hh)
		if err != nil {
			return fmt.Errorf("read head total difficulty: %w", err)
		}
		if ok, err := hasStateRecord(txn, head.Number(), hh); err != nil || !ok {
			return fmt.Errorf("head %d %s has no state record (%v): the datadir is corrupt", head.Number(), hh, err)
		}
		root := head.Header.StateRoot
		if root != ethtypes.EmptyRootHash {
			if n, _, err := readNode(txn, root); err != nil || n == 0 {
				return fmt.Errorf("head state root %s of block %d is not stored (%v): the datadir is corrupt", root, head.Number(), err)
			}
		}
		c.head, c.headTD, c.headState = head, td, stateAt(c.store, root)
		if b, err := get(txn, keySnapPivot); err == nil && len(b) == 8 {
			c.pivot.Store(binary.BigEndian.Uint64(b))
		}
		return nil
	})
}

// writeGenesisState stores the genesis trie in batches (an allocation of a
// million accounts is over a million nodes, too many for one transaction),
// each node with its count of positions. Rewriting after a crash before the
// genesis record sets the same counts again.
func (c *Chain) writeGenesisState(st *State) error {
	counts := make(map[common.Hash]uint64, len(st.journal.Born))
	for _, h := range st.journal.Born {
		counts[h]++
	}
	mem := *st.mem.Load()
	wb := c.db.NewWriteBatch()
	defer wb.Cancel()
	for h, n := range counts {
		if err := wb.Set(trieNodeKey(h), nodeRecord(n, mem[h])); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	c.store.added(st.journal.Born, mem)
	return nil
}

func nodeCacheBytes(n int) int {
	switch {
	case n == 0:
		return DefaultNodeCacheBytes
	case n < 0:
		return 0
	}
	return n
}

// Close closes the database. The chain must not be used afterwards.
func (c *Chain) Close() error {
	c.insertMu.Lock()
	defer c.insertMu.Unlock()
	c.stopOnce.Do(func() { close(c.pruneStop) })
	c.pruneWG.Wait() // a pass under way ends; what is left is redone at the next open's head
	defer c.store.close()
	return c.db.Close()
}

// Params returns the consensus parameters (shared: do not modify).
func (c *Chain) Params() *types.Params { return c.params }

// Engine returns the consensus engine the chain validates with.
func (c *Chain) Engine() consensus.Engine { return c.engine }

// Genesis returns the genesis block.
func (c *Chain) Genesis() *types.Block { return c.genesis }

// CurrentBlock returns the head of the canonical chain.
func (c *Chain) CurrentBlock() *types.Block {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.head
}

// CurrentTD returns the head's total difficulty.
func (c *Chain) CurrentTD() *uint256.Int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return clone(c.headTD)
}

// State returns the head state. It is frozen (immutable), so it may be kept
// and read from any goroutine; call Copy for a mutable one.
func (c *Chain) State() *State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.headState
}

// StateAtBlock returns the (frozen) state after block h. In full mode only
// the last StateRetention blocks behind the head keep theirs, and a side
// block only while its fork point does: for another block it returns an
// error wrapping ErrPrunedState that says which node still has it.
func (c *Chain) StateAtBlock(h common.Hash) (*State, error) {
	if st, ok := c.states.get(h); ok {
		return st, nil
	}
	hd := c.GetHeader(h)
	if hd == nil {
		return nil, fmt.Errorf("state at block %s: unknown block", h)
	}
	var ok bool
	if err := c.view(func(txn *badger.Txn) (err error) { ok, err = hasStateRecord(txn, hd.Number, h); return }); err != nil {
		return nil, fmt.Errorf("state at block %d %s: %w", hd.Number, h, err)
	}
	if !ok {
		return nil, c.prunedError(hd)
	}
	if err := c.checkForkPoint(hd); err != nil {
		return nil, err
	}
	st := stateAt(c.store, hd.StateRoot)
	c.states.add(h, st)
	return st, nil
}

// snapPivot is the block this node's snap sync started from (0: none).
func (c *Chain) snapPivot() uint64 { return c.pivot.Load() }

// prunedError says why block hd's state is not here, and who has it.
func (c *Chain) prunedError(hd *types.Header) error {
	if c.snapPivot() > hd.Number {
		return fmt.Errorf("%w: state of block %d: this node started from a snap sync at block %d and never had it; an archive node (--gcmode archive, synced in full) has it",
			ErrPrunedState, hd.Number, c.snapPivot())
	}
	return fmt.Errorf("%w: state of block %d: this node keeps the state of the last %d blocks (--state.retention); an archive node (--gcmode archive) has it",
		ErrPrunedState, hd.Number, c.retention)
}

// checkForkPoint refuses the state of a side block whose branch leaves the
// canonical chain below the retention window: the nodes its branch shares
// with the canonical chain there may be gone.
func (c *Chain) checkForkPoint(hd *types.Header) error {
	cutoff := stateCutoff(c.CurrentBlock().Number(), c.retention)
	for cur := hd; ; {
		if h, ok := c.CanonicalHash(cur.Number); ok && h == cur.Hash() {
			if cur.Number < cutoff && cur != hd {
				return fmt.Errorf("%w: state of side block %d: its branch leaves the canonical chain at block %d, more than %d blocks behind the head",
					ErrPrunedState, hd.Number, cur.Number, c.retention)
			}
			return nil
		}
		if cur.Number == 0 {
			return nil
		}
		parent := c.GetHeader(cur.ParentHash)
		if parent == nil {
			return fmt.Errorf("state at block %d: ancestor %s missing", hd.Number, cur.ParentHash)
		}
		cur = parent
	}
}

// GetBlockByHash returns a stored block (canonical or not), or nil.
func (c *Chain) GetBlockByHash(h common.Hash) *types.Block {
	if b, ok := c.blocks.get(h); ok {
		return b
	}
	var b *types.Block
	if c.view(func(txn *badger.Txn) (err error) { b, err = readBlock(txn, h); return }) != nil {
		return nil
	}
	c.cacheBlock(b)
	return b
}

func (c *Chain) cacheBlock(b *types.Block) {
	size := 0
	for _, tx := range b.Txs {
		size += len(tx.Program)
	}
	for _, r := range b.Results {
		size += len(r.Data)
	}
	if size <= maxCachedBodySize {
		c.blocks.add(b.Hash(), b)
	}
}

// GetBlockByNumber returns the canonical block at n, or nil.
func (c *Chain) GetBlockByNumber(n uint64) *types.Block {
	h, ok := c.CanonicalHash(n)
	if !ok {
		return nil
	}
	return c.GetBlockByHash(h)
}

// CanonicalHash returns the hash of the canonical block at n.
func (c *Chain) CanonicalHash(n uint64) (common.Hash, bool) {
	var h common.Hash
	err := c.view(func(txn *badger.Txn) (err error) { h, err = readCanonicalHash(txn, n); return })
	return h, err == nil
}

// GetHeader returns a stored header, or nil.
func (c *Chain) GetHeader(h common.Hash) *types.Header {
	if hd, ok := c.headers.get(h); ok {
		return hd
	}
	var hd *types.Header
	if c.view(func(txn *badger.Txn) (err error) { hd, err = readHeader(txn, h); return }) != nil {
		return nil
	}
	c.headers.add(h, hd)
	return hd
}

// HasBlock reports whether block h is stored, body included (below a snap
// sync's pivot there are headers alone).
func (c *Chain) HasBlock(h common.Hash) bool {
	if _, ok := c.blocks.get(h); ok {
		return true
	}
	var ok bool
	_ = c.view(func(txn *badger.Txn) (err error) { ok, err = has(txn, bodyKey(h)); return })
	return ok
}

// TD returns block h's total difficulty, or nil if h is unknown.
func (c *Chain) TD(h common.Hash) *uint256.Int {
	var td *uint256.Int
	if c.view(func(txn *badger.Txn) (err error) { td, err = readTD(txn, h); return }) != nil {
		return nil
	}
	return td
}

// JobProgram returns a job's encoded vm program (stored with the block that
// submitted it, on any branch).
func (c *Chain) JobProgram(id common.Hash) ([]byte, bool) {
	var code []byte
	err := c.view(func(txn *badger.Txn) (err error) { code, err = readProgram(txn, id); return })
	return code, err == nil
}

// DecodedJobProgram reads job id's program and decodes it under the job
// caps (JobLimits), returning it with its encoded length (which the job's
// fees price). A store holding a program the caps refuse is reported, never
// handed on to be computed.
func (c *Chain) DecodedJobProgram(id common.Hash) (*vm.Program, int, error) {
	code, ok := c.JobProgram(id)
	if !ok {
		return nil, 0, fmt.Errorf("job %s: program not stored here", id.Hex())
	}
	prog, err := vm.Decode(code, JobLimits(c.params))
	if err != nil {
		return nil, 0, fmt.Errorf("job %s: stored program (job caps): %w", id.Hex(), err)
	}
	return prog, len(code), nil
}

// JobCheckpoint returns a training checkpoint state (vm.TrainState
// encoding) by its root: every training job's initial state and every
// segment's end state, stored with the block that made it, on any branch.
func (c *Chain) JobCheckpoint(root common.Hash) ([]byte, bool) {
	var state []byte
	err := c.view(func(txn *badger.Txn) (err error) { state, err = readCheckpoint(txn, root); return })
	return state, err == nil
}

// JobResult returns the result of a job done on the canonical chain.
func (c *Chain) JobResult(id common.Hash) (*types.JobResult, error) {
	j, ok := c.State().Job(id)
	if !ok {
		return nil, fmt.Errorf("job %s: unknown", id)
	}
	switch j.Status {
	case JobPending:
		return nil, fmt.Errorf("job %s: still pending (expires after block %d)", id, j.Expiry)
	case JobExpired:
		return nil, fmt.Errorf("job %s: expired undone at block %d, fee refunded", id, j.Expiry+1)
	}
	b := c.GetBlockByNumber(j.DoneBlock)
	if b == nil {
		return nil, fmt.Errorf("job %s: block %d holding the result is not stored", id, j.DoneBlock)
	}
	for _, r := range b.Results {
		if r.JobID == id && r.Hash() == j.ResultHash {
			return r, nil
		}
	}
	if c.ResultsPruned(b.Hash()) {
		return nil, fmt.Errorf("%w: job %s: its result (hash %s, in block %d) is older than the chain's resultRetention of %d blocks, "+
			"and this node keeps no older result data; an archive node (--gcmode archive) has it", ErrPrunedResult, id, j.ResultHash, j.DoneBlock, c.params.ResultRetention)
	}
	return nil, fmt.Errorf("job %s: result not found in block %d", id, j.DoneBlock)
}

// GetTransaction finds a transaction in the canonical chain.
func (c *Chain) GetTransaction(h common.Hash) (*types.Tx, *TxLookup, bool) {
	var l *TxLookup
	if c.view(func(txn *badger.Txn) (err error) { l, err = readTxLookup(txn, h); return }) != nil {
		return nil, nil, false
	}
	b := c.GetBlockByHash(l.BlockHash)
	if b == nil || l.Index >= uint64(len(b.Txs)) {
		return nil, nil, false
	}
	return b.Txs[l.Index], l, true
}

// MinTime is the least valid time (unix ms) of a child of parent: one above
// the median of the last MedianTimeSpan blocks.
func (c *Chain) MinTime(parent *types.Header) uint64 {
	return medianTime(c.params, c, parent) + 1
}

// NextDifficulty is the difficulty a child of parent must carry.
func (c *Chain) NextDifficulty(parent *types.Header) uint64 {
	var grand *types.Header
	if parent.Number > 0 {
		grand = c.GetHeader(parent.ParentHash)
	}
	return consensus.CalcDifficulty(c.params, parent, grand)
}

// BuildBlock assembles an unsealed child of parent for a miner, skipping
// candidate txs and results that would make it invalid (see BuildBlock in
// process.go). The caller fills in the Seal, which changes no other field.
func (c *Chain) BuildBlock(parent *types.Block, coinbase common.Address, timeMs uint64,
	txs []*types.Tx, results []*types.JobResult,
) (*types.Block, error) {
	st, err := c.StateAtBlock(parent.Hash())
	if err != nil {
		return nil, err
	}
	b, bst := BuildBlock(c.params, c, parent.Header, st, coinbase, timeMs, c.NextDifficulty(parent.Header), txs, results)
	if err := bst.Err(); err != nil {
		return nil, fmt.Errorf("build on block %d: %w", parent.Number(), err)
	}
	return b, nil
}

// SubscribeHead delivers every new head block to ch. Sends never block: a
// subscriber that is not ready misses that head. Call the returned function
// to unsubscribe.
func (c *Chain) SubscribeHead(ch chan<- *types.Block) (unsubscribe func()) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	id := c.nextID
	c.nextID++
	c.subs[id] = ch
	return func() {
		c.subMu.Lock()
		defer c.subMu.Unlock()
		delete(c.subs, id)
	}
}

func (c *Chain) notifyHead(b *types.Block) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for _, ch := range c.subs {
		select {
		case ch <- b:
		default:
		}
	}
}

func (c *Chain) view(f func(txn *badger.Txn) error) error { return c.db.View(f) }

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
