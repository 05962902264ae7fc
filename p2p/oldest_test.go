package p2p

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/consensus"
)

// TestStatusOldestFull: the oldest-full-block field is optional both ways:
// a 4-field status (an older node) decodes with 0, and 0 is not sent, so
// older nodes still decode the status of a node that serves every block.
func TestStatusOldestFull(t *testing.T) {
	type oldStatus struct { // status/1 before the field
		Genesis common.Hash
		Number  uint64
		Head    common.Hash
		TD      *uint256.Int
	}
	old := &oldStatus{Genesis: common.Hash{1}, Number: 9, Head: common.Hash{2}, TD: uint256.NewInt(77)}
	st, err := decodeStatus(mustRLP(t, old))
	if err != nil {
		t.Fatal(err)
	}
	if st.Number != 9 || st.TD.Uint64() != 77 || st.OldestFull != 0 || !st.serves(1) {
		t.Fatalf("old status decoded as %+v", st)
	}
	full := &statusMsg{Genesis: old.Genesis, Number: 9, Head: old.Head, TD: old.TD}
	if !bytes.Equal(mustRLP(t, full), mustRLP(t, old)) {
		t.Fatal("a status with oldest 0 is not the 4-field form older nodes decode")
	}
	var back oldStatus
	if err := rlp.DecodeBytes(mustRLP(t, full), &back); err != nil {
		t.Fatalf("an older node cannot decode our status: %v", err)
	}
	full.OldestFull = 5
	st, err = decodeStatus(mustRLP(t, full))
	if err != nil || st.OldestFull != 5 || st.serves(4) || !st.serves(5) {
		t.Fatalf("round trip: %+v, %v", st, err)
	}
}

// logBuffer collects a service's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if testing.Verbose() {
		os.Stderr.Write(p)
	}
	return l.buf.Write(p)
}

func (l *logBuffer) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// syncRecordOf is p's sync record as s holds it (nil: no strikes, no hold).
func syncRecordOf(s *Service, p peer.ID) *syncRecord {
	s.peers.mu.Lock()
	defer s.peers.mu.Unlock()
	if r := s.peers.sync[p]; r != nil {
		cp := *r
		return &cp
	}
	return nil
}

// TestFullSyncPastSnapSyncedPeer: a snap-synced node B (headers only below
// its pivot, and one block ahead of everyone) tells its peers so; a fresh
// full-syncing node C that knows only B waits without striking it and says
// why, then reaches B's head through an honest full node A and B.
func TestFullSyncPastSnapSyncedPeer(t *testing.T) {
	ca := openRealChain(t)
	buildSnapFixture(t, ca, snapTestBlocks, 200)
	a := startRealNode(t, testConfig(), ca)

	cb := openRealChain(t)
	b := startSnapSyncer(t, cb, a, false)
	waitLong(t, "B at A's head", 90*time.Second, func() bool { return cb.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
	pivot := b.snapPivotDone.Load()
	if pivot == 0 || cb.OldestFullBlock() != pivot || cb.GetBlockByNumber(1) != nil {
		t.Fatalf("B: pivot %d, oldest full %d; want a snap sync with no body of block 1", pivot, cb.OldestFullBlock())
	}
	// B goes one block ahead: the heaviest peer C will see.
	parent := cb.CurrentBlock()
	extra, err := cb.BuildBlock(parent, common.Address{0xbb}, parent.Header.Time+2000, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.InsertBlock(extra); err != nil {
		t.Fatal(err)
	}

	cc := openRealChain(t)
	logs := &logBuffer{}
	cfgC := testConfig(b.Addrs()...)
	cfgC.Log = logs.logger()
	cfgC.syncFailCooldown = 100 * time.Millisecond
	c := startRealNode(t, cfgC, cc)
	waitLong(t, "C's warning that no peer serves block 1", 30*time.Second, func() bool {
		return logs.contains("No peer serves blocks from 1")
	})
	if st := c.peers.status(b.ID()); st == nil || st.OldestFull != pivot {
		t.Fatalf("C holds B's status %+v, want oldest full %d", st, pivot)
	}
	time.Sleep(2 * time.Second) // several status polls, each a reason to try B
	if c.rep.isBanned(b.ID()) || syncRecordOf(c, b.ID()) != nil {
		t.Fatalf("C held B's missing old blocks against it (banned %v)", c.rep.isBanned(b.ID()))
	}
	if n := cc.CurrentBlock().Number(); n != 0 {
		t.Fatalf("C at %d with only B to sync from", n)
	}

	if err := c.host.Connect(context.Background(), peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitLong(t, "C at B's head", 90*time.Second, func() bool { return cc.CurrentBlock().Hash() == extra.Hash() })
	if c.rep.isBanned(b.ID()) || c.rep.isBanned(a.ID()) {
		t.Fatal("C banned an honest peer")
	}
	if cc.GetBlockByNumber(1) == nil || cc.OldestFullBlock() != 0 {
		t.Fatal("C did not sync in full from genesis")
	}
}

// TestSyncStopsAtPrunedResults: a node that pruned result data does not
// serve a stripped block (its body no longer matches its header), and says
// from where it serves whole blocks; a full-syncing peer does not ask it
// for older ones, nor blames it.
func TestSyncStopsAtPrunedResults(t *testing.T) {
	g := chain.DevGenesis()
	g.Config.ResultRetention = 2
	open := func() *chain.Chain {
		c, err := chain.Open(t.TempDir(), g, consensus.NewFaker(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	const n = 40
	ca := open()
	buildSnapFixture(t, ca, n, 20) // a result lands in block n−5
	ca.WaitPruning()
	stripped := ca.GetBlockByNumber(n - 5)
	if !ca.ResultsPruned(stripped.Hash()) || len(stripped.Results) == 0 {
		t.Fatal("block n−5's result data was not pruned: the test proves nothing")
	}
	a := startRealNode(t, testConfig(), ca)

	logs := &logBuffer{}
	cfg := testConfig(a.Addrs()...)
	cfg.Log = logs.logger()
	c := startRealNode(t, cfg, open())
	waitLong(t, "C's warning", 30*time.Second, func() bool { return logs.contains("No peer serves blocks from 1") })
	if st := c.peers.status(a.ID()); st == nil || st.OldestFull != n-2 {
		t.Fatalf("A's status %+v, want oldest full %d", st, n-2)
	}

	ctx := context.Background()
	got, err := c.fetchBlocks(ctx, a.ID(), n-10, maxSyncBlocks)
	if err != nil || len(got) != 5 {
		t.Fatalf("from %d: %d blocks, %v; want 5, up to the stripped one", n-10, len(got), err)
	}
	if got, err = c.fetchBlocks(ctx, a.ID(), n-5, maxSyncBlocks); err != nil || len(got) != 0 {
		t.Fatalf("from the stripped block: %d blocks, %v; want none", len(got), err)
	}
	if got, err = c.fetchBlocks(ctx, a.ID(), n-4, maxSyncBlocks); err != nil || len(got) != 5 {
		t.Fatalf("above the stripped block: %d blocks, %v; want 5", len(got), err)
	}
	if c.rep.isBanned(a.ID()) || syncRecordOf(c, a.ID()) != nil {
		t.Fatal("C held A's pruned blocks against it")
	}
}
