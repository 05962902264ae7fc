package node

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// hashrateEvery is how often the miner logs its throughput; gmacsEvery how
// often it samples it for the GMAC/s gauge.
const (
	hashrateEvery = 30 * time.Second
	gmacsEvery    = 5 * time.Second
)

// retryDelay is how long the miner waits before trying the same head again
// after a round ended without a new head (insert failed, syncing, error).
const retryDelay = 500 * time.Millisecond

// minerNet is what the miner needs from the network.
type minerNet interface {
	BroadcastBlock(b *types.Block) error
	SyncStatus() (syncing bool, current, highest uint64)
}

// Miner is the mining loop: on every head it computes the paid pending jobs
// (each product a lottery ticket), then grinds synthetic puzzles, and seals
// a block when a tile wins. A new head cancels the round and restarts it.
type Miner struct {
	chain    *chain.Chain
	pool     *chain.TxPool
	net      minerNet
	pow      *consensus.Miner
	coinbase common.Address
	log      *slog.Logger

	macs atomic.Uint64 // multiply-accumulates computed, for the hashrate log
	// jobMACs of macs were for paid jobs (the rest synthetic); found is the
	// blocks this miner sealed that its chain accepted.
	jobMACs atomic.Uint64
	found   atomic.Uint64
	metrics *metrics // nil: none (set by the node before Start)

	mu       sync.Mutex
	results  map[common.Hash]*types.JobResult // job id → exact product, while the job is pending
	failed   map[common.Hash]error            // jobs that cannot be computed, while pending
	progLens map[common.Hash]int              // job id → its program's length (the base fee's byte part)
	train    map[common.Hash]*trainJob        // training jobs' computed checkpoints, while pending
	// trainCacheBytes bounds the states in train (defaultTrainCacheBytes).
	trainCacheBytes uint64

	quit chan struct{}
	done chan struct{}
	once sync.Once
	// jobCtx outlives rounds: a job's exact product does not depend on the
	// head, so a job interrupted by a new head is finished (its stale
	// tickets dropped) instead of restarted — else a job longer than a
	// block time would never complete. Only shutdown cancels it.
	jobCtx    context.Context
	jobCancel context.CancelFunc
}

// NewMiner returns a miner for coinbase; net may be nil (no gossip).
func NewMiner(c *chain.Chain, pool *chain.TxPool, net minerNet, be compute.Backend, coinbase common.Address, log *slog.Logger) *Miner {
	if log == nil {
		log = slog.Default()
	}
	jobCtx, jobCancel := context.WithCancel(context.Background())
	return &Miner{
		jobCtx: jobCtx, jobCancel: jobCancel,
		chain: c, pool: pool, net: net, coinbase: coinbase, log: log,
		pow:             consensus.NewMiner(c.Params(), be),
		trainCacheBytes: defaultTrainCacheBytes,
		results:         make(map[common.Hash]*types.JobResult),
		failed:          make(map[common.Hash]error),
		progLens:        make(map[common.Hash]int),
		train:           make(map[common.Hash]*trainJob),
		quit:            make(chan struct{}),
		done:            make(chan struct{}),
	}
}

// Start runs the loop in the background.
func (m *Miner) Start() error {
	m.log.Info("miner started", "coinbase", m.coinbase)
	go m.loop()
	return nil
}

// Stop cancels the current round and waits for the loop to exit.
func (m *Miner) Stop() error {
	m.once.Do(func() { close(m.quit); m.jobCancel() })
	<-m.done
	return nil
}

// MACs is the number of multiply-accumulates computed so far.
func (m *Miner) MACs() uint64 { return m.macs.Load() }

// BlocksFound is the number of blocks this miner sealed and its chain accepted.
func (m *Miner) BlocksFound() uint64 { return m.found.Load() }

// addWork counts macs computed (tiles: the tickets they made, 0 when not
// counted) for a paid job or a synthetic puzzle.
func (m *Miner) addWork(macs, tiles uint64, job bool) {
	m.macs.Add(macs)
	if job {
		m.jobMACs.Add(macs)
	}
	m.metrics.minerWork(macs, tiles, job)
}

// usefulShare is the share of the MACs computed so far that were paid jobs.
func (m *Miner) usefulShare() float64 {
	all := m.macs.Load()
	if all == 0 {
		return 0
	}
	return float64(m.jobMACs.Load()) / float64(all)
}

// minerSummary is the miner's periodic log line: throughput with its unit,
// blocks found, QRN earned and the share of useful (paid job) work.
func minerSummary(gmacs float64, found uint64, earnedQRN, useful float64) string {
	return fmt.Sprintf("miner: %.3f GMAC/s, %d blocks found, %.4f QRN earned, %.1f%% useful work", gmacs, found, earnedQRN, 100*useful)
}

// jobTiles is the number of output tiles (tickets) of a rows×cols product.
func jobTiles(p *types.Params, rows, cols uint32) uint64 {
	b := uint64(p.TileSize)
	if b == 0 {
		return 0
	}
	return ((uint64(rows) + b - 1) / b) * ((uint64(cols) + b - 1) / b)
}

func (m *Miner) loop() {
	defer close(m.done)

	// Forward head events into a one-slot signal so the chain never blocks
	// on a busy miner; the current head is always read from the chain.
	heads := make(chan *types.Block, 64)
	unsub := m.chain.SubscribeHead(heads)
	defer unsub()
	newHead := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-heads:
				select {
				case newHead <- struct{}{}:
				default:
				}
			case <-m.quit:
				return
			}
		}
	}()

	var (
		cancel  context.CancelFunc
		running chan struct{}
		working common.Hash
		retry   <-chan time.Time
	)
	startRound := func(head *types.Block) {
		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		running, working, retry = make(chan struct{}), head.Hash(), nil
		go func(ctx context.Context, done chan struct{}) {
			defer close(done)
			m.mineOn(ctx, head)
		}(ctx, running)
	}
	stopRound := func() {
		if cancel != nil {
			cancel()
			<-running
			cancel, running = nil, nil
		}
	}
	defer stopRound()

	ticker := time.NewTicker(hashrateEvery)
	defer ticker.Stop()
	sample := time.NewTicker(gmacsEvery)
	defer sample.Stop()
	lastMACs, lastTick := m.macs.Load(), time.Now()
	sampleMACs, sampleTick := lastMACs, lastTick

	startRound(m.chain.CurrentBlock())
	for {
		select {
		case <-m.quit:
			return
		case <-newHead:
			head := m.chain.CurrentBlock()
			if running != nil && head.Hash() == working {
				continue
			}
			stopRound()
			startRound(head)
		case <-running:
			// The round ended on its own: sealed (its head event follows)
			// or gave up. Try again unless a new head arrives first.
			stopRound()
			retry = time.After(retryDelay)
		case <-retry:
			stopRound()
			startRound(m.chain.CurrentBlock())
		case now := <-sample.C:
			macs := m.macs.Load()
			m.metrics.setGMACs(float64(macs-sampleMACs) / now.Sub(sampleTick).Seconds() / 1e9)
			sampleMACs, sampleTick = macs, now
		case now := <-ticker.C:
			macs := m.macs.Load()
			secs := now.Sub(lastTick).Seconds()
			gmacs := float64(macs-lastMACs) / secs / 1e9
			earned := weiToQRN(m.chain.State().MinerReward(m.coinbase).ToBig())
			m.log.Info(minerSummary(gmacs, m.found.Load(), earned, m.usefulShare()),
				"gmacs", fmt.Sprintf("%.3f", gmacs), "head", m.chain.CurrentBlock().Number())
			lastMACs, lastTick = macs, now
		}
	}
}

// mineOn works on one head until it seals a block, ctx is cancelled (a new
// head or shutdown) or an error stops it.
func (m *Miner) mineOn(ctx context.Context, parent *types.Block) {
	if m.net != nil {
		if syncing, _, highest := m.net.SyncStatus(); syncing {
			m.log.Debug("not mining while syncing", "head", parent.Number(), "highest", highest)
			return
		}
	}
	started := time.Now()
	p := m.chain.Params()
	d := childDifficulty(m.chain, parent)
	nonce := rand.Uint64()
	jobs := m.eligibleJobs(parent, d)

	for _, j := range jobs {
		if ctx.Err() != nil {
			return
		}
		if m.cached(j.ID) {
			continue
		}
		seal, err := m.computeJob(m.jobCtx, parent, d, nonce, j)
		nonce++
		if ctx.Err() != nil || m.jobCtx.Err() != nil {
			return // a new head (the result is cached, its tickets stale) or shutdown
		}
		if err != nil {
			m.log.Warn("job cannot be computed; skipping it while it is pending", "job", j.ID, "err", err)
			m.mu.Lock()
			m.failed[j.ID] = err
			m.mu.Unlock()
			continue
		}
		if seal != nil {
			m.seal(ctx, parent, d, seal, started)
			return
		}
	}
	if seal := m.mineTraining(ctx, parent, d, &nonce); seal != nil {
		m.seal(ctx, parent, d, seal, started)
		return
	}
	if ctx.Err() != nil {
		return
	}

	synthMACs := uint64(p.SyntheticDim) * uint64(p.SyntheticDim) * uint64(p.SyntheticDim)
	for {
		seal, err := m.pow.MineSynthetic(ctx, parent.Header, d, m.coinbase, nonce)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			m.log.Error("synthetic puzzle failed", "head", parent.Number(), "nonce", nonce, "err", err)
			return
		}
		nonce++
		if seal == nil {
			m.addWork(synthMACs, jobTiles(p, p.SyntheticDim, p.SyntheticDim), false)
			continue
		}
		done := tilesUpTo(p, seal, synthMACs)
		m.addWork(done, done/max(1, uint64(p.TileSize)*uint64(p.TileSize)*uint64(p.SyntheticDim)), false)
		m.seal(ctx, parent, d, seal, started)
		return
	}
}

// tilesUpTo estimates the MACs a synthetic round did before its winning
// tile (tiles taken row by row), at most the whole product.
func tilesUpTo(p *types.Params, seal *types.Seal, whole uint64) uint64 {
	b, dim := uint64(p.TileSize), uint64(p.SyntheticDim)
	if b == 0 || dim == 0 {
		return whole
	}
	perRow := (dim + b - 1) / b
	n := uint64(seal.TileI)*perRow + uint64(seal.TileJ) + 1
	return min(n*b*b*dim, whole)
}

// eligibleJobs are the pending jobs (fee descending) whose result can land
// in parent's child, within the job caps, and whose fee pays at least the
// base fee at d. It also drops cached results of jobs that are no longer
// pending.
func (m *Miner) eligibleJobs(parent *types.Block, d uint64) []*chain.Job {
	pending := m.chain.State().PendingJobs()
	live := make(map[common.Hash]bool, len(pending))
	for _, j := range pending {
		if j.Status == chain.JobPending {
			live[j.ID] = true
		}
	}
	m.mu.Lock()
	out := m.chainJobs(parent, d, pending)
	for id := range m.progLens {
		if !live[id] {
			delete(m.progLens, id)
		}
	}
	for id := range m.results {
		if !live[id] {
			delete(m.results, id)
		}
	}
	for id := range m.failed {
		if !live[id] {
			delete(m.failed, id)
		}
	}
	m.pruneTraining(live)
	m.mu.Unlock()
	return out
}

// cached reports whether job id was computed already (or cannot be).
func (m *Miner) cached(id common.Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, done := m.results[id]
	_, bad := m.failed[id]
	return done || bad
}

// computeJob computes job j's product with noise for this round, caches the
// exact result and returns the seal if one of its tiles won. A program the
// job caps refuse is never computed (consensus refuses such a job tx; this
// is defence in depth against a store that holds one).
func (m *Miner) computeJob(ctx context.Context, parent *types.Block, d, nonce uint64, j *chain.Job) (*types.Seal, error) {
	prog, _, err := m.chain.DecodedJobProgram(j.ID)
	if err != nil {
		return nil, err
	}
	m.log.Info(fmt.Sprintf("computing job %s (%d MACs)", j.ID.Hex(), j.Work), "fee", j.Fee.Dec(), "head", parent.Number())
	t0 := time.Now()
	prod, seal, err := m.pow.MineJob(ctx, parent.Header, d, m.coinbase, nonce, j.ID, prog)
	if err != nil {
		return nil, err
	}
	m.addWork(j.Work, jobTiles(m.chain.Params(), uint32(prod.Rows), uint32(prod.Cols)), true)
	r := &types.JobResult{JobID: j.ID, Rows: uint32(prod.Rows), Cols: uint32(prod.Cols), Data: vm.EncodeResult(prod)}
	m.mu.Lock()
	m.results[j.ID] = r
	m.mu.Unlock()
	m.log.Info("job computed", "job", j.ID, "rows", r.Rows, "cols", r.Cols, "won", seal != nil, "elapsed", time.Since(t0).Round(time.Millisecond))
	return seal, nil
}

// blockResults are the cached results and training segments to carry in
// parent's child: the winning job's first, then other eligible jobs, at
// most MaxBlockResults and no more bytes than a block can carry beside its
// header and framing (BuildBlock enforces the exact cap; this keeps the
// choice to what fits).
func (m *Miner) blockResults(parent *types.Block, d uint64, seal *types.Seal) []*types.JobResult {
	p := m.chain.Params()
	segments := m.trainSegments(parent, d, seal) // the sealing job's first
	m.mu.Lock()
	defer m.mu.Unlock()
	var (
		out  []*types.JobResult
		size uint64
	)
	budget := p.MaxBlockBytes - types.BlockEncodingSlack // Validate: a largest result fits
	add := func(r *types.JobResult) {
		if n := r.EncodedSize(); size+n <= budget {
			out = append(out, r)
			size += n
		}
	}
	if !seal.Work.IsSynthetic() {
		if r, ok := m.results[seal.Work.JobID]; ok {
			add(r)
		}
	}
	for _, r := range segments {
		if uint32(len(out)) >= p.MaxBlockResults {
			break
		}
		add(r)
	}
	for _, j := range m.chainJobs(parent, d, m.chain.State().PendingJobs()) {
		if uint32(len(out)) >= p.MaxBlockResults {
			break
		}
		if j.ID == seal.Work.JobID {
			continue
		}
		if r, ok := m.results[j.ID]; ok {
			add(r)
		}
	}
	return out
}

// chainJobs are the jobs of pending whose result can land in parent's
// child, whose declared shape is within the job caps, and whose fee pays
// the base fee at d (m.mu held).
func (m *Miner) chainJobs(parent *types.Block, d uint64, pending []*chain.Job) []*chain.Job {
	p := m.chain.Params()
	var out []*chain.Job
	for _, j := range pending {
		if j.Kind == chain.JobTrain {
			continue // mined and paid per segment: mineTraining, trainSegments
		}
		if j.Status != chain.JobPending || j.Expiry < parent.Number()+1 || j.Fee == nil ||
			j.Work > p.MaxJobWork || vm.ResultBytes(j.Rows, j.Cols) > p.MaxJobResultBytes {
			continue
		}
		n, ok := m.progLens[j.ID]
		if !ok {
			code, found := m.chain.JobProgram(j.ID)
			if !found {
				continue
			}
			n = len(code)
			m.progLens[j.ID] = n
		}
		if !j.Fee.Lt(consensus.JobBaseFee(p, d, j.Work, consensus.JobBytes(n, j.Rows, j.Cols))) {
			out = append(out, j)
		}
	}
	return out
}

// seal builds parent's child with seal, imports it and gossips it.
func (m *Miner) seal(ctx context.Context, parent *types.Block, d uint64, seal *types.Seal, started time.Time) {
	p := m.chain.Params()
	timeMs := max(uint64(time.Now().UnixMilli()), parent.Header.Time+1, m.chain.MinTime(parent.Header))
	results := m.blockResults(parent, d, seal)
	txs := m.pool.Pending()
	if uint32(len(txs)) > p.MaxBlockTxs {
		txs = txs[:p.MaxBlockTxs]
	}
	block, err := m.chain.BuildBlock(parent, m.coinbase, timeMs, txs, results)
	if err != nil && len(txs) > 0 {
		m.log.Warn("build block with pool txs failed; sealing without them", "err", err)
		txs = nil
		block, err = m.chain.BuildBlock(parent, m.coinbase, timeMs, nil, results)
	}
	if err != nil {
		m.log.Error("build block failed", "parent", parent.Number(), "err", err)
		return
	}
	block.Header.Seal = *seal
	if ctx.Err() != nil {
		return // a new head arrived meanwhile: this block would only be an uncle
	}
	err = m.chain.InsertBlock(block)
	m.metrics.importResult(err)
	if err != nil {
		m.log.Error("mined block rejected by the local chain", "number", block.Number(), "err", err)
		return
	}
	m.found.Add(1)
	m.metrics.blockFound()
	if m.net != nil {
		if err := m.net.BroadcastBlock(block); err != nil {
			m.log.Warn("broadcast block failed", "number", block.Number(), "err", err)
		}
	}
	work := "synthetic"
	if !seal.Work.IsSynthetic() {
		work = "job"
	}
	for _, r := range block.Results {
		if r.Train != nil {
			m.log.Info(fmt.Sprintf("carried training job %s steps %d-%d", r.JobID.Hex(), r.Train.FromStep, r.Train.ToStep), "number", block.Number())
		}
	}
	m.log.Info("mined block", "number", block.Number(), "hash", block.Hash(), "txs", len(block.Txs),
		"results", len(block.Results), "work", work, "difficulty", d, "elapsed", time.Since(started).Round(time.Millisecond))
}
