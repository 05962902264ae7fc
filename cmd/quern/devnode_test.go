package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/node"
)

// The CLI's tests run against a real node started in process: the dev
// genesis made cheap to mine, accounts of the test's funded in it, RPC and
// p2p on 127.0.0.1 ports the kernel picks, a datadir in t.TempDir(), all
// stopped at cleanup.

// devNode is one such node.
type devNode struct {
	*node.Node
	t    *testing.T
	url  string
	rpc  *rpc.Client
	gate *jobGate
}

// devNodeOpts say how to start one: mining or not, and the accounts (QRN)
// the genesis funds beside the dev account.
type devNodeOpts struct {
	mine  bool
	alloc map[common.Address]string
}

// cheapDevGenesis is the dev genesis with blocks of a few milliseconds at
// first, retargeting towards 200 ms, and alloc funded.
func cheapDevGenesis(alloc map[common.Address]string) *chain.Genesis {
	g := chain.DevGenesis()
	g.Config.InitialDifficulty = 2_000_000
	g.Config.MinDifficulty = 2_000_000
	g.Config.TargetBlockMs = 200
	for a, v := range alloc {
		g.Alloc[a] = qrn(v)
	}
	return g
}

// devParams are the devnet's params: the caps a devNode checks jobs against.
func devParams() *types.Params {
	p := chain.DevGenesis().Config
	return &p
}

func startDevNode(t *testing.T, o devNodeOpts) *devNode {
	t.Helper()
	g := cheapDevGenesis(o.alloc)
	gate := &jobGate{Backend: compute.CPU(), synthetic: int(g.Config.SyntheticDim)}
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Dev, cfg.Mine, cfg.Genesis, cfg.Backend = t.TempDir(), true, o.mine, g, gate
	cfg.RPCAddr, cfg.P2PListen = "127.0.0.1:0", []string{"/ip4/127.0.0.1/tcp/0"}
	logs := &syncBuffer{}
	n, err := node.New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		n.Close()
		t.Fatalf("start node: %v\n%s", err, logs)
	}
	d := &devNode{Node: n, t: t, url: n.RPCEndpoint(), gate: gate}
	if d.rpc, err = rpc.Dial(d.url); err != nil {
		n.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.rpc.Close()
		gate.set(gateRun) // a held job must not keep the miner from stopping
		if err := n.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
		if t.Failed() {
			s := logs.String()
			if len(s) > 20000 {
				s = "…" + s[len(s)-20000:]
			}
			t.Logf("node log:\n%s", s)
		}
	})
	return d
}

// job asks the node for job id (nil: it does not know it).
func (d *devNode) job(id common.Hash) *node.RPCJob {
	j, err := node.Quern.GetJob.Call(context.Background(), d.rpc, id)
	if err != nil {
		return nil
	}
	return j
}

// waitJob waits until job id has status.
func (d *devNode) waitJob(id common.Hash, status string) *node.RPCJob {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j := d.job(id)
		if j != nil && j.Status == status {
			return j
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("job %s: %+v after 60 s, want status %s", id.Hex(), j, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nonce is addr's next nonce counting the txpool.
func (d *devNode) nonce(addr common.Address) uint64 {
	d.t.Helper()
	pending := "pending"
	n, err := node.Quern.GetTransactionCount.Call(context.Background(), d.rpc, addr, &pending)
	if err != nil {
		d.t.Fatal(err)
	}
	return n
}

// block is the canonical block n.
func (d *devNode) block(n uint64) *node.RPCBlock {
	d.t.Helper()
	b, err := node.Quern.GetBlockByNumber.Call(context.Background(), d.rpc, node.BlockNumber{Number: n})
	if err != nil || b == nil {
		d.t.Fatalf("block %d: %v, %v", n, b, err)
	}
	return b
}

// Modes of a jobGate.
const (
	gateRun    = iota // compute jobs
	gateHold          // hold the miner inside a job's product until the mode changes
	gateRefuse        // fail every job: the miner skips it, and it stays pending until it expires
)

// jobGate is a test node's compute backend: the CPU's, except that a job's
// product (any but the synthetic puzzle's) follows its mode, so that a test
// holds a job pending as long as it needs.
type jobGate struct {
	compute.Backend
	synthetic int
	mode      atomic.Int32
}

func (g *jobGate) set(mode int32) { g.mode.Store(mode) }

func (g *jobGate) NoisedMatMul(a, b compute.I8, nz *compute.Noise, geo compute.Geometry, visit compute.TileVisitor) (compute.I32, bool) {
	if a.Rows != g.synthetic || b.Cols != g.synthetic {
		for g.mode.Load() == gateHold {
			time.Sleep(2 * time.Millisecond)
		}
		if g.mode.Load() == gateRefuse {
			return compute.I32{}, false
		}
	}
	return g.Backend.NoisedMatMul(a, b, nz, geo, visit)
}

// NoisedTranscript keeps the CPU backend's fast transcript for the puzzle.
func (g *jobGate) NoisedTranscript(a, b compute.I8, nz *compute.Noise, geo compute.Geometry, visit compute.TileVisitor) bool {
	return compute.NoisedTranscript(g.Backend, a, b, nz, geo, visit)
}

// syncBuffer is a bytes.Buffer safe for the node's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
