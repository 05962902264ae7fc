package p2p

import (
	"bufio"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/quern-chain/quern/chain/types"
)

// liar is a bare libp2p host that answers status with a huge total
// difficulty and then does not serve the work it claims.
type liar struct {
	host     host.Host
	requests atomic.Int64 // sync requests it read
}

// How a liar answers a sync request.
const (
	liarStalls = "stall" // reads the request, never writes
	liarEmpty  = "empty" // answers at once with no block
	liarLate   = "late"  // answers late with one block that links to nothing
)

func startLiar(t *testing.T, genesis *types.Block, mode string, late time.Duration) *liar {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); h.Close() })
	l := &liar{host: h}
	huge := new(uint256.Int).Lsh(uint256.NewInt(1), 255)
	lie, err := rlp.EncodeToBytes(&statusMsg{Genesis: genesis.Hash(), Number: 1 << 40, Head: common.Hash{0xee}, TD: huge})
	if err != nil {
		t.Fatal(err)
	}
	h.SetStreamHandler(protocol.ID("/quern/testnet/status/1"), func(st network.Stream) {
		defer st.Close()
		if _, err := readFrame(bufio.NewReader(st), maxSmallFrame); err == nil {
			writeFrame(st, lie)
		}
	})
	h.SetStreamHandler(protocol.ID("/quern/testnet/sync/1"), func(st network.Stream) {
		defer st.Close()
		raw, err := readFrame(bufio.NewReader(st), maxSmallFrame)
		if err != nil {
			return
		}
		req, err := decodeSyncRequest(raw)
		if err != nil {
			return
		}
		l.requests.Add(1)
		switch mode {
		case liarStalls:
			<-done
		case liarLate:
			select {
			case <-done:
				return
			case <-time.After(late):
			}
			junk := &types.Block{Header: &types.Header{ParentHash: common.Hash{0xba, 0xd}, Number: req.FromNumber,
				Difficulty: 1, TxRoot: types.EmptyRoot, ResultRoot: types.EmptyRoot}}
			if enc, err := rlp.EncodeToBytes(junk); err == nil {
				writeFrame(st, enc)
			}
		}
	})
	return l
}

func (l *liar) addr(t *testing.T) string {
	t.Helper()
	mas, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: l.host.ID(), Addrs: l.host.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	return mas[0].String()
}

// TestLyingPeer connects our node to a peer that claims 2^255 of work and
// never serves it, and to an honest peer at the same time: the honest one
// still syncs us, the liar is banned after maxSyncStrikes sessions, and
// SyncStatus (what the miner waits on) goes back to not syncing.
func TestLyingPeer(t *testing.T) {
	for _, tc := range []struct {
		mode            string
		firstByte, late time.Duration
	}{
		// The first-byte deadline is out of reach: only the stall watchdog frees us.
		{liarStalls, time.Minute, 0},
		{liarEmpty, 500 * time.Millisecond, 0},
		// Each answer beats the first-byte deadline; the ancestor search it
		// drags out outlives the stall window.
		{liarLate, 500 * time.Millisecond, 300 * time.Millisecond},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			g := testGenesis()
			blocks := makeBlocks(g, 300, 1)
			ca, cc := newFakeChain(g), newFakeChain(g)
			ca.mustInsert(blocks...)
			cc.mustInsert(blocks[:100]...) // we share a prefix: the liar's probes walk back
			a := startNode(t, testConfig(), ca)
			l := startLiar(t, g, tc.mode, tc.late)

			cfg := testConfig(l.addr(t), a.Addrs()[0])
			cfg.syncFirstByte, cfg.syncStall, cfg.syncFailCooldown = tc.firstByte, time.Second, 100*time.Millisecond
			c := startNode(t, cfg, cc)

			waitFor(t, "the honest peer to sync us", func() bool { return cc.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
			waitFor(t, "the honest session to end", func() bool { s, _, _ := c.SyncStatus(); return !s })
			// From here on only the liar claims more work than ours: whatever
			// it does, SyncStatus (what the miner waits on) must not say syncing.
			asked := l.requests.Load()
			waitFor(t, "the liar to be banned", func() bool {
				if s, _, _ := c.SyncStatus(); s {
					t.Fatal("SyncStatus says syncing while only the liar is asked")
				}
				return c.rep.isBanned(l.host.ID())
			})
			t.Logf("sync requests to the liar: %d in all, %d while watched", l.requests.Load(), l.requests.Load()-asked)
			waitFor(t, "the liar to be dropped", func() bool {
				return c.host.Network().Connectedness(l.host.ID()) != network.Connected
			})
			waitFor(t, "not syncing", func() bool { s, _, _ := c.SyncStatus(); return !s })
			if n := l.requests.Load(); n == 0 {
				t.Fatal("the liar was never asked for blocks: the test proves nothing")
			}
			if tc.mode == liarStalls && c.syncAbandoned.Load() == 0 {
				t.Fatal("no session was abandoned by the stall watchdog")
			}
			if s, cur, _ := c.SyncStatus(); s || cur != 300 {
				t.Fatalf("SyncStatus syncing=%v current=%d, want false/300", s, cur)
			}
			// Banned means refused: the bootnode redial stays out.
			time.Sleep(300 * time.Millisecond)
			if c.host.Network().Connectedness(l.host.ID()) == network.Connected {
				t.Fatal("the banned liar reconnected")
			}
		})
	}
}

// TestSyncStatusNeedsProgress: a session is reported as syncing only once
// it imported a block we lacked, and no longer than syncStall after the
// last one, so the miner resumes.
func TestSyncStatusNeedsProgress(t *testing.T) {
	cfg := testConfig()
	cfg.syncStall = time.Second
	s, err := New(cfg, newFakeChain(testGenesis()), newFakePool())
	if err != nil {
		t.Fatal(err)
	}
	s.syncing.Store(true)
	if syncing, _, _ := s.SyncStatus(); syncing {
		t.Fatal("a session that imported nothing yet is reported as syncing")
	}
	s.syncProgressAt.Store(time.Now().UnixNano())
	if syncing, _, _ := s.SyncStatus(); !syncing {
		t.Fatal("a session that just made progress is not reported")
	}
	s.syncProgressAt.Store(time.Now().Add(-2 * time.Second).UnixNano())
	if syncing, _, _ := s.SyncStatus(); syncing {
		t.Fatalf("a session stalled for 2 s (window %v) is still reported as syncing", cfg.syncStall)
	}
}

// TestSyncStrikesOutliveConnection: a peer cannot clear its strikes, or its
// hold, by reconnecting; serving us new blocks clears them.
func TestSyncStrikesOutliveConnection(t *testing.T) {
	ps := newPeerSet()
	p := peer.ID("liar")
	td := uint256.NewInt(1)
	ps.setStatus(p, &statusMsg{TD: uint256.NewInt(100)})
	if got, _ := ps.best(td); got != p {
		t.Fatal("a heavier peer is not picked")
	}
	if n := ps.strikeSync(p, time.Hour); n != 1 {
		t.Fatalf("strikes = %d, want 1", n)
	}
	ps.remove(p) // disconnects
	ps.setStatus(p, &statusMsg{TD: uint256.NewInt(100)})
	if got, _ := ps.best(td); got != "" {
		t.Fatal("a held-back peer is picked after reconnecting")
	}
	if n := ps.strikeSync(p, time.Hour); n != 2 {
		t.Fatalf("strikes after reconnecting = %d, want 2", n)
	}
	ps.clearSyncStrikes(p)
	if got, _ := ps.best(td); got != p {
		t.Fatal("a forgiven peer is not picked")
	}
}
