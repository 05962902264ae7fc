package p2p

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/quern-chain/quern/chain/types"
)

type testNode struct {
	*Service
	chain *fakeChain
	pool  *fakePool
}

func testConfig(boots ...string) Config {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return Config{
		Network:         "testnet",
		ListenAddrs:     []string{"/ip4/127.0.0.1/tcp/0"},
		Bootnodes:       boots,
		Log:             log,
		statusInterval:  500 * time.Millisecond,
		gossipHeartbeat: 100 * time.Millisecond,
		bootnodeBackoff: 100 * time.Millisecond,
	}
}

func startNode(t *testing.T, cfg Config, c *fakeChain) *testNode {
	t.Helper()
	pool := newFakePool()
	s, err := New(cfg, c, pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return &testNode{Service: s, chain: c, pool: pool}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMesh waits until every node sees the next one on both topics.
func waitTopicPeers(t *testing.T, a, b *testNode) {
	t.Helper()
	waitFor(t, "topic peers", func() bool {
		return slices.Contains(a.blocks.ListPeers(), b.ID()) && slices.Contains(a.txs.ListPeers(), b.ID()) &&
			slices.Contains(b.blocks.ListPeers(), a.ID()) && slices.Contains(b.txs.ListPeers(), a.ID())
	})
}

func TestGossipBlockAndTx(t *testing.T) {
	g := testGenesis()
	cfgA := testConfig()
	cfgA.statusInterval = time.Hour // only gossip may carry the block
	a := startNode(t, cfgA, newFakeChain(g))
	cfgB := testConfig(a.Addrs()...)
	cfgB.statusInterval = time.Hour
	b := startNode(t, cfgB, newFakeChain(g))

	waitFor(t, "connection", func() bool { return a.PeerCount() == 1 && b.PeerCount() == 1 })
	waitTopicPeers(t, a, b)

	blk := makeBlocks(g, 1, 1)[0]
	a.chain.mustInsert(blk)
	if err := a.BroadcastBlock(blk); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "block at B", func() bool { return b.chain.HasBlock(blk.Hash()) })
	if b.chain.CurrentBlock().Hash() != blk.Hash() {
		t.Fatal("B's head is not the gossiped block")
	}

	key, _ := crypto.GenerateKey()
	tx := &types.Tx{ChainID: 7, Nonce: 1, To: crypto.PubkeyToAddress(key.PublicKey), Value: uint256.NewInt(5), Fee: uint256.NewInt(1)}
	if err := tx.Sign(key); err != nil {
		t.Fatal(err)
	}
	if err := a.BroadcastTx(tx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tx at B", func() bool { return b.pool.has(tx.Hash()) })

	// An unsigned tx never reaches the pool, and its sender is penalised.
	// (Our own node refuses to publish it, so call B's validator directly.)
	bad := &types.Tx{ChainID: 7, Nonce: 2, Value: uint256.NewInt(1), Fee: uint256.NewInt(1)}
	if err := a.BroadcastTx(bad); err == nil {
		t.Fatal("BroadcastTx published an unsigned tx")
	}
	for _, data := range [][]byte{mustRLP(t, bad), {0xc1, 0x01}} {
		msg := &pubsub.Message{Message: &pb.Message{Data: data}, ReceivedFrom: a.ID()}
		if r := b.validateTx(context.Background(), a.ID(), msg); r != pubsub.ValidationReject {
			t.Fatalf("validateTx = %v, want reject", r)
		}
	}
	if b.pool.has(bad.Hash()) {
		t.Fatal("unsigned tx reached the pool")
	}
	// A tx the pool declines (here: a duplicate) is ignored, not rejected.
	msg := &pubsub.Message{Message: &pb.Message{Data: mustRLP(t, tx)}, ReceivedFrom: a.ID()}
	if r := b.validateTx(context.Background(), a.ID(), msg); r != pubsub.ValidationIgnore {
		t.Fatalf("validateTx(dup) = %v, want ignore", r)
	}
}

func TestLateJoinerSyncs(t *testing.T) {
	g := testGenesis()
	ca := newFakeChain(g)
	ca.mustInsert(makeBlocks(g, 300, 1)...)
	a := startNode(t, testConfig(), ca)

	c := startNode(t, testConfig(a.Addrs()...), newFakeChain(g))
	waitFor(t, "C at A's head", func() bool { return c.chain.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
	if n := c.chain.CurrentBlock().Number(); n != 300 {
		t.Fatalf("C head %d, want 300", n)
	}
	waitFor(t, "sync to finish", func() bool { s, _, _ := c.SyncStatus(); return !s })
	if _, cur, hi := c.SyncStatus(); cur != 300 || hi != 300 {
		t.Fatalf("SyncStatus current=%d highest=%d, want 300/300", cur, hi)
	}
}

func TestSyncFromFork(t *testing.T) {
	g := testGenesis()
	common := makeBlocks(g, 60, 0)
	ca, cc := newFakeChain(g), newFakeChain(g)
	ca.mustInsert(common...)
	ca.mustInsert(makeBlocks(common[59], 90, 2)...) // heavier: head 150
	cc.mustInsert(common...)
	cc.mustInsert(makeBlocks(common[59], 40, 1)...) // head 100 on another branch

	a := startNode(t, testConfig(), ca)
	c := startNode(t, testConfig(a.Addrs()...), cc)
	waitFor(t, "C to reorg onto A's chain", func() bool { return cc.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
	for _, n := range []uint64{60, 61, 100, 150} {
		if cc.GetBlockByNumber(n).Hash() != ca.GetBlockByNumber(n).Hash() {
			t.Fatalf("canonical block %d differs after sync", n)
		}
	}
	if ah := a.chain.CurrentBlock().Number(); ah != 150 {
		t.Fatalf("A moved to %d; the lighter fork must not win", ah)
	}
	_ = c
}

func TestInvalidGossipBlockNotForwarded(t *testing.T) {
	g := testGenesis()
	x, y := makeBlocks(g, 1, 7)[0], makeBlocks(g, 1, 8)[0]
	cb := newFakeChain(g)
	cb.reject[x.Hash()] = true

	// A line: A — B — C. B finds x invalid, so C must never see it.
	a := startNode(t, testConfig(), newFakeChain(g))
	b := startNode(t, testConfig(a.Addrs()...), cb)
	c := startNode(t, testConfig(b.Addrs()...), newFakeChain(g))
	waitTopicPeers(t, a, b)
	waitTopicPeers(t, b, c)

	if err := a.BroadcastBlock(x); err != nil { // A's chain takes it
		t.Fatal(err)
	}
	if err := a.BroadcastBlock(y); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to reject x", func() bool { return b.rejectBlocks.Load() == 1 })
	waitFor(t, "y at C", func() bool { return c.chain.HasBlock(y.Hash()) })
	time.Sleep(300 * time.Millisecond)
	if n := c.chain.insertCalls(x.Hash()); n != 0 {
		t.Fatalf("invalid block reached C (%d InsertBlock calls)", n)
	}
	if n := cb.insertCalls(x.Hash()); n != 1 {
		t.Fatalf("B validated x %d times, want once", n)
	}
	if cb.HasBlock(x.Hash()) {
		t.Fatal("B stored the invalid block")
	}
}

func TestSyncRuleErrorDropsPeer(t *testing.T) {
	g := testGenesis()
	blocks := makeBlocks(g, 100, 1)
	ca, cc := newFakeChain(g), newFakeChain(g)
	ca.mustInsert(blocks...)
	cc.reject[blocks[49].Hash()] = true // block 50

	a := startNode(t, testConfig(), ca)
	c := startNode(t, testConfig(a.Addrs()...), cc)
	waitFor(t, "C to ban A", func() bool { return c.rep.isBanned(a.ID()) })
	waitFor(t, "disconnect", func() bool { return c.PeerCount() == 0 })
	if n := cc.CurrentBlock().Number(); n != 49 {
		t.Fatalf("C head %d, want 49 (blocks up to the invalid one)", n)
	}
	if c.rep.score(a.ID()) >= 0 {
		t.Fatal("A's app score was not lowered")
	}
	time.Sleep(500 * time.Millisecond) // bootnode redial must stay refused
	if c.PeerCount() != 0 {
		t.Fatal("banned peer reconnected")
	}
}

func TestBootnodeStartsLaterAndKeyPersists(t *testing.T) {
	g := testGenesis()
	keyFile := t.TempDir() + "/node.key"
	cfgA := testConfig()
	cfgA.KeyFile = keyFile
	a1, err := New(cfgA, newFakeChain(g), newFakePool())
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := a1.Addrs()
	a1.Stop()
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}

	b := startNode(t, testConfig(addrs...), newFakeChain(g))
	time.Sleep(300 * time.Millisecond) // a few failed dials

	ai, err := peer.AddrInfoFromString(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	cfgA.ListenAddrs = []string{ai.Addrs[0].String()}
	a2 := startNode(t, cfgA, newFakeChain(g))
	if a2.ID() != a1.ID() {
		t.Fatal("identity not reloaded from the key file")
	}
	waitFor(t, "B to reach the late bootnode", func() bool { return b.PeerCount() == 1 })
}

func TestStopLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	g := testGenesis()
	ca := newFakeChain(g)
	ca.mustInsert(makeBlocks(g, 200, 1)...)
	a, err := New(testConfig(), ca, newFakePool())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	b, err := New(testConfig(a.Addrs()...), newFakeChain(g), newFakePool())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connection", func() bool { return b.PeerCount() == 1 })
	if !ourGoroutinesRunning() {
		t.Fatal("stack filter finds no service goroutines while running")
	}
	// Stop mid-sync, both sides.
	b.Stop()
	a.Stop()
	a.Stop() // idempotent
	if err := b.BroadcastBlock(g); err == nil {
		t.Fatal("BroadcastBlock after Stop succeeded")
	}
	waitFor(t, "p2p goroutines to exit", func() bool { return !ourGoroutinesRunning() })
	// libp2p and gossipsub wind down too: nothing outlives the services.
	waitFor(t, "all goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })

	var never Service
	if err := never.Stop(); err != nil {
		t.Fatal(err)
	}
}

// ourGoroutinesRunning reports whether any goroutine runs a Service method.
func ourGoroutinesRunning() bool {
	buf := make([]byte, 1<<22)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, gr := range strings.Split(stacks, "\n\n") {
		if strings.Contains(gr, "quern/p2p.(*Service)") {
			return true
		}
	}
	return false
}

func TestBadConfig(t *testing.T) {
	g := testGenesis()
	cfg := testConfig("/ip4/127.0.0.1/tcp/1") // no /p2p/<id>
	if _, err := New(cfg, newFakeChain(g), newFakePool()); err == nil {
		t.Fatal("bootnode without peer id accepted")
	}
	cfg = testConfig()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/notaport"}
	s, err := New(cfg, newFakeChain(g), newFakePool())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("bad listen address accepted")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

// A tx our node broadcasts while no peer is subscribed to the tx topic is
// held, not lost (a message is published once): the first peer that
// subscribes gets it.
func TestGossipTxHeldUntilSubscriber(t *testing.T) {
	g := testGenesis()
	a := startNode(t, testConfig(), newFakeChain(g))
	key, _ := crypto.GenerateKey()
	tx := &types.Tx{ChainID: 7, Nonce: 1, To: crypto.PubkeyToAddress(key.PublicKey), Value: uint256.NewInt(5), Fee: uint256.NewInt(1)}
	if err := tx.Sign(key); err != nil {
		t.Fatal(err)
	}
	if err := a.BroadcastTx(tx); err != nil {
		t.Fatalf("broadcast with no peer: %v", err)
	}
	b := startNode(t, testConfig(a.Addrs()...), newFakeChain(g))
	waitFor(t, "the held tx at the new peer", func() bool { return b.pool.has(tx.Hash()) })
}
