package node

import (
	"errors"
	"math/big"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
)

// MetricsPath is where the RPC server serves Prometheus metrics (geth's path).
const MetricsPath = "/debug/metrics/prometheus"

// metrics is a node's Prometheus metrics, in a registry of its own (not the
// global one), so that one process can run several nodes. Gauges of state
// the node already keeps (head, peers, txpool, sync, rewards) are read at
// scrape time; counters are bumped where the events happen: the import path
// (p2p and the miner), the seal check, and the miner's loop. A nil *metrics
// records nothing.
type metrics struct {
	reg *prometheus.Registry

	blocksImported prometheus.Counter
	blocksRejected *prometheus.CounterVec
	sealCheck      prometheus.Histogram

	minerGMACs   prometheus.Gauge
	ticketsTried prometheus.Counter
	blocksFound  prometheus.Counter
	jobMACs      prometheus.Counter
	synthMACs    prometheus.Counter

	// jobMACsN and synthMACsN mirror the two counters for the useful share.
	jobMACsN, synthMACsN atomic.Uint64
}

func newMetrics(n *Node) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		blocksImported: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quern_chain_blocks_imported_total",
			Help: "Blocks accepted into the chain store (from peers and from this node's miner).",
		}),
		blocksRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quern_chain_blocks_rejected_total",
			Help: "Blocks the chain refused, by reason: a consensus rule's name (bad seal, bad state root, ...), known, unknown parent, future, pruned state or other.",
		}, []string{"reason"}),
		sealCheck: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "quern_consensus_seal_check_seconds",
			Help:    "Time to check one block's proof of useful work (recompute the winning tile), in seconds.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. 4 s
		}),
		minerGMACs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quern_miner_gmacs",
			Help: "Miner throughput over the last sampling interval, in GMAC/s (10^9 int8 multiply-accumulates a second).",
		}),
		ticketsTried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quern_miner_tickets_tried_total",
			Help: "Lottery tickets the miner has tried, counted in output tiles (one tile of a noised product is one ticket; synthetic puzzles and matmul jobs).",
		}),
		blocksFound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quern_miner_blocks_found_total",
			Help: "Blocks this node's miner sealed and its chain accepted.",
		}),
		jobMACs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quern_miner_job_macs_total",
			Help: "Multiply-accumulates the miner computed for paid jobs (matmul and training).",
		}),
		synthMACs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quern_miner_synthetic_macs_total",
			Help: "Multiply-accumulates the miner computed for synthetic puzzles (no paid job to do).",
		}),
	}
	reg.MustRegister(m.blocksImported, m.blocksRejected, m.sealCheck, m.minerGMACs, m.ticketsTried,
		m.blocksFound, m.jobMACs, m.synthMACs)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Scrapes come through the RPC server, which starts after the chain,
	// txpool and p2p services are set: reading them here is race-free.
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	gauge("quern_chain_head_number", "Number of the head block.", func() float64 {
		if n.chain == nil {
			return 0
		}
		return float64(n.chain.CurrentBlock().Number())
	})
	gauge("quern_p2p_peers", "Peers this node holds a connection to.", func() float64 {
		if n.p2p == nil {
			return 0
		}
		return float64(n.p2p.PeerCount())
	})
	pool := func(queued bool) func() float64 {
		return func() float64 {
			if n.pool == nil {
				return 0
			}
			p, q := n.pool.Counts()
			if queued {
				return float64(q)
			}
			return float64(p)
		}
	}
	gauge("quern_txpool_pending", "Executable transactions in the txpool.", pool(false))
	gauge("quern_txpool_queued", "Transactions in the txpool waiting on an earlier nonce or on funds.", pool(true))
	syncState := func(target bool) func() float64 {
		return func() float64 {
			if n.p2p == nil {
				if target && n.chain != nil {
					return float64(n.chain.CurrentBlock().Number())
				}
				return 0
			}
			syncing, _, highest := n.p2p.SyncStatus()
			switch {
			case target:
				return float64(highest)
			case syncing:
				return 1
			}
			return 0
		}
	}
	gauge("quern_sync_syncing", "1 while a range sync is making progress, else 0.", syncState(false))
	gauge("quern_sync_target_height", "Highest head number a peer has told this node about (at least its own head).", syncState(true))
	gauge("quern_miner_earned_qrn", "QRN this node's coinbase has earned as a miner (subsidies plus fees, at the head); 0 when not mining.", func() float64 {
		if n.chain == nil || n.coinbase == (common.Address{}) {
			return 0
		}
		return weiToQRN(n.chain.State().MinerReward(n.coinbase).ToBig())
	})
	gauge("quern_miner_useful_share", "Share of the miner's MACs spent on paid jobs: job / (job + synthetic); 0 before any work.", m.usefulShare)
	return m
}

// weiToQRN converts wei to QRN as a float (10^18 wei a QRN).
func weiToQRN(wei *big.Int) float64 {
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(wei), big.NewFloat(1e18)).Float64()
	return f
}

func (m *metrics) usefulShare() float64 {
	if m == nil {
		return 0
	}
	job, synth := m.jobMACsN.Load(), m.synthMACsN.Load()
	if job+synth == 0 {
		return 0
	}
	return float64(job) / float64(job+synth)
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// mountMetrics serves MetricsPath from n's registry and everything else
// from next (the JSON-RPC handler chain).
func mountMetrics(n *Node, next http.Handler) http.Handler {
	if n == nil || n.metrics == nil {
		return next
	}
	mh := n.metrics.handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == MetricsPath {
			mh.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// importResult counts one InsertBlock outcome.
func (m *metrics) importResult(err error) {
	if m == nil {
		return
	}
	if err == nil {
		m.blocksImported.Inc()
		return
	}
	m.blocksRejected.WithLabelValues(rejectReason(err)).Inc()
}

// rejectReason is the reason label of an InsertBlock error.
func rejectReason(err error) string {
	var re *chain.RuleError
	switch {
	case errors.As(err, &re):
		return re.Code.String()
	case errors.Is(err, chain.ErrKnownBlock):
		return "known"
	case errors.Is(err, chain.ErrUnknownParent):
		return "unknown parent"
	case errors.Is(err, chain.ErrFutureBlock):
		return "future"
	case errors.Is(err, chain.ErrPrunedState):
		return "pruned state"
	}
	return "other"
}

// minerWork counts MACs computed by the miner and the tickets (tiles) they
// made; job says whether they were for paid jobs.
func (m *metrics) minerWork(macs, tiles uint64, job bool) {
	if m == nil {
		return
	}
	if job {
		m.jobMACs.Add(float64(macs))
		m.jobMACsN.Add(macs)
	} else {
		m.synthMACs.Add(float64(macs))
		m.synthMACsN.Add(macs)
	}
	if tiles > 0 {
		m.ticketsTried.Add(float64(tiles))
	}
}

func (m *metrics) blockFound() {
	if m != nil {
		m.blocksFound.Inc()
	}
}

func (m *metrics) setGMACs(v float64) {
	if m != nil {
		m.minerGMACs.Set(v)
	}
}

// meteredChain is the chain as p2p sees it: every block a peer gives us
// passes through InsertBlock here and is counted.
type meteredChain struct {
	*chain.Chain
	m *metrics
}

func (c meteredChain) InsertBlock(b *types.Block) error {
	err := c.Chain.InsertBlock(b)
	c.m.importResult(err)
	return err
}

// meteredEngine times the seal check of every block the chain verifies.
type meteredEngine struct {
	consensus.Engine
	m *metrics
}

func (e meteredEngine) VerifySeal(p *types.Params, h *types.Header, body *types.Body, jobs consensus.WorkSource) error {
	t0 := time.Now()
	err := e.Engine.VerifySeal(p, h, body, jobs)
	if e.m != nil {
		e.m.sealCheck.Observe(time.Since(t0).Seconds())
	}
	return err
}
