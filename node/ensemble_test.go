package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/quern-chain/quern/chain"
)

// An in-process ensemble in the style of Lotus itests/kit: real chain,
// txpool, p2p, RPC and miner on temporary datadirs, loopback ports picked by
// the kernel, everything stopped by t.Cleanup.

// testGenesis is the dev genesis made cheap to mine: blocks within a few
// milliseconds at first, retargeting towards 200 ms.
func testGenesis() *chain.Genesis {
	g := chain.DevGenesis()
	g.Config.InitialDifficulty = 2_000_000
	g.Config.MinDifficulty = 2_000_000
	g.Config.TargetBlockMs = 200
	return g
}

// testCoinbase is the miners' reward address in tests: not the dev account,
// so that rewards and transfers do not mix.
var testCoinbase = common.HexToAddress("0x00000000000000000000000000000000c0ffee01")

// logBuffer collects a node's log lines for the test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testNode struct {
	*Node
	t    *testing.T
	name string
	cfg  Config
	rpc  *rpc.Client
	logs *logBuffer
}

// testConfig is a --dev-like config on dir with loopback, kernel-picked ports.
func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.Dev = true
	cfg.Genesis = testGenesis()
	cfg.RPCAddr = "127.0.0.1:0"
	cfg.P2PListen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.LogLevel = "debug"
	return cfg
}

// startNode starts a node from cfg and closes it at cleanup.
func startNode(t *testing.T, name string, cfg Config) *testNode {
	t.Helper()
	logs := &logBuffer{}
	var w io.Writer = logs
	if os.Getenv("QUERN_TEST_LOG") != "" { // stream the nodes' logs while debugging
		w = io.MultiWriter(logs, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	n, err := New(cfg, log)
	if err != nil {
		t.Fatalf("%s: new node: %v", name, err)
	}
	if err := n.Start(); err != nil {
		n.Close()
		t.Fatalf("%s: start node: %v\n%s", name, err, logs)
	}
	tn := &testNode{Node: n, t: t, name: name, cfg: cfg, logs: logs}
	c, err := rpc.Dial(n.RPCEndpoint())
	if err != nil {
		n.Close()
		t.Fatalf("%s: dial rpc: %v", name, err)
	}
	tn.rpc = c
	t.Cleanup(func() { tn.stop() })
	return tn
}

// stop closes the node (idempotent); on a failed test it dumps its log tail.
func (tn *testNode) stop() {
	if tn.rpc != nil {
		tn.rpc.Close()
		tn.rpc = nil
	}
	if err := tn.Close(); err != nil {
		tn.t.Errorf("%s: close: %v", tn.name, err)
	}
	if tn.t.Failed() {
		s := tn.logs.String()
		if len(s) > 20000 {
			s = "…" + s[len(s)-20000:]
		}
		tn.t.Logf("%s log:\n%s", tn.name, s)
	}
}

// call invokes quern_<method> and fails the test on error.
func (tn *testNode) call(result any, method string, args ...any) {
	tn.t.Helper()
	if err := tn.tryCall(result, method, args...); err != nil {
		tn.t.Fatalf("%s: quern_%s: %v", tn.name, method, err)
	}
}

func (tn *testNode) tryCall(result any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return tn.rpc.CallContext(ctx, result, "quern_"+method, args...)
}

func (tn *testNode) blockNumber() uint64 {
	tn.t.Helper()
	var n uint64
	tn.call(&n, "blockNumber")
	return n
}

func (tn *testNode) block(number any) *RPCBlock {
	tn.t.Helper()
	var b *RPCBlock
	tn.call(&b, "getBlockByNumber", number)
	return b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitHeight waits until tn's head is at least n.
func (tn *testNode) waitHeight(n uint64, timeout time.Duration) {
	tn.t.Helper()
	waitFor(tn.t, timeout, fmt.Sprintf("%s to reach block %d", tn.name, n), func() bool { return tn.blockNumber() >= n })
}

var rpcLogRE = regexp.MustCompile(`rpc=http://([0-9.]+):([0-9]+)`)

// loggedRPC is the RPC URL read back from the node's log, as scripts do.
func (tn *testNode) loggedRPC() string {
	m := rpcLogRE.FindStringSubmatch(tn.logs.String())
	if m == nil {
		return ""
	}
	return strings.TrimPrefix(m[0], "rpc=")
}

// newMiner starts a mining node (coinbase testCoinbase) on a fresh datadir.
func newMiner(t *testing.T, name string) *testNode {
	cfg := testConfig(t.TempDir())
	cfg.Mine = true
	cfg.MinerAddress = testCoinbase.Hex()
	return startNode(t, name, cfg)
}

// newFollower starts a non-mining node bootstrapping from the given nodes.
func newFollower(t *testing.T, name string, boot ...*testNode) *testNode {
	cfg := testConfig(t.TempDir())
	for _, b := range boot {
		cfg.Bootnodes = append(cfg.Bootnodes, b.P2P().Addrs()...)
	}
	return startNode(t, name, cfg)
}
