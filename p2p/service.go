package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// Chain is what p2p needs from the block chain. Every method must be safe
// for concurrent use: gossip validators and the syncer call it in parallel.
type Chain interface {
	Genesis() *types.Block
	CurrentBlock() *types.Block
	CurrentTD() *uint256.Int
	GetBlockByNumber(n uint64) *types.Block // canonical
	GetBlockByHash(h common.Hash) *types.Block
	HasBlock(h common.Hash) bool
	// InsertBlock returns nil, chain.ErrKnownBlock, chain.ErrUnknownParent,
	// chain.ErrFutureBlock, a *chain.RuleError, or another (local) error.
	InsertBlock(b *types.Block) error
	Params() *types.Params // the genesis params: the wire's byte caps derive from them
}

// PartialChain is what a chain that may not serve every block whole tells
// its peers; *chain.Chain has it. A Chain without it serves every block.
type PartialChain interface {
	// OldestFullBlock is the lowest block number served whole: below it
	// there are headers only (a snap sync) or stripped result data.
	OldestFullBlock() uint64
	// ResultsPruned reports whether block h lost its result data: its body
	// no longer matches its header, so it is not served.
	ResultsPruned(h common.Hash) bool
}

var _ PartialChain = (*chain.Chain)(nil)

// TxPool takes transactions heard from peers.
type TxPool interface {
	Add(tx *types.Tx) error
}

// Config configures a Service.
type Config struct {
	Network     string   // topics /quern/<network>/blocks and /quern/<network>/txs; protocol ids under /quern/<network>/
	ListenAddrs []string // multiaddrs, e.g. /ip4/127.0.0.1/tcp/0; empty: libp2p's defaults
	Bootnodes   []string // full multiaddrs with /p2p/<id>
	KeyFile     string   // persistent node identity (created if absent, 0600); empty = ephemeral
	MDNS        bool     // LAN discovery
	// LocalAddrsOnly advertises only addresses of this machine (loopback
	// and its interfaces' addresses), never ones peers observed (--dev).
	LocalAddrsOnly bool
	// SnapSync fetches the state at a recent pivot over snap/1 instead of
	// replaying from genesis, when our head is genesis or more than
	// snapMinGap blocks behind the best peer (p2p/snap.go). It needs a
	// chain with the SnapChain methods.
	SnapSync bool
	Log      *slog.Logger

	// Knobs for tests; zero means the default.
	statusInterval   time.Duration
	gossipHeartbeat  time.Duration
	bootnodeBackoff  time.Duration
	syncFirstByte    time.Duration // syncFirstByteTimeout
	syncStall        time.Duration // syncStallTimeout
	syncFailCooldown time.Duration // defaultSyncFailCooldown
}

const (
	defaultStatusInterval  = 5 * time.Second
	defaultBootnodeBackoff = time.Second
	maxBootnodeBackoff     = time.Minute
	syncLogInterval        = 2 * time.Second
	// A sync peer must start each answer within syncFirstByteTimeout and
	// give us a block we lacked at least every syncStallTimeout, else the
	// session is abandoned; each session that imports nothing new is a strike
	// that holds the peer back for defaultSyncFailCooldown·2^(strikes−1), and
	// maxSyncStrikes in a row ban a peer whose status still claims more work
	// than ours (docs/protocol.md §10).
	syncFirstByteTimeout    = 5 * time.Second
	syncStallTimeout        = 20 * time.Second
	defaultSyncFailCooldown = 10 * time.Second
	maxSyncStrikes          = 3
	statusRequestMinGap     = time.Second // per peer, for status asked by gossip
	banDuration             = 30 * time.Minute
)

var (
	ErrNotStarted = errors.New("p2p: service not started")
	ErrStopped    = errors.New("p2p: service stopped")
)

// Service is a running p2p node: host, gossip, status and sync.
type Service struct {
	cfg   Config
	log   *slog.Logger
	chain Chain
	snap  SnapChain    // chain, when it serves snap sync; else nil
	part  PartialChain // chain, when it may not serve every block whole; else nil
	pool  TxPool
	key   crypto.PrivKey
	id    peer.ID
	boots []peer.AddrInfo

	blocksTopicName, txsTopicName string
	statusProto, syncProto        protocol.ID
	snapProto                     protocol.ID

	rep   *reputation
	peers *peerSet
	caps  wireCaps // byte caps of blocks, txs and pubsub messages, from the chain params

	// life guards host, ps, topics and the started/stopped flags, and makes
	// wg.Add race-free against Stop.
	life     sync.Mutex
	started  bool
	stopped  bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	host     host.Host
	ps       *pubsub.PubSub
	psCancel context.CancelFunc
	blocks   *pubsub.Topic
	txs      *pubsub.Topic
	subs     []*pubsub.Subscription
	mdns     mdns.Service
	notifiee *network.NotifyBundle

	syncReq        chan struct{}
	syncing        atomic.Bool   // a sync session is running
	syncProgressAt atomic.Int64  // unix ns of the session's last new block; 0: none yet
	syncAbandoned  atomic.Uint64 // sessions cut by the stall watchdog
	syncHighest    atomic.Uint64
	rejectBlocks   atomic.Uint64 // gossip blocks rejected by the chain's rules
	rejectTxs      atomic.Uint64
	txFlood        txFloodMeter // gossip txs our pool declined, per peer (gossip.go)
	heldMu         sync.Mutex
	heldTxs        [][]byte      // our txs to publish once a peer is ready for them (gossip.go)
	txJoinAt       atomic.Int64  // unix ns a peer last subscribed to the tx topic
	snapFailures   int           // failed snap sessions in a row; syncLoop's own
	snapOff        atomic.Bool   // they turned snap sync off for this run
	snapPivotDone  atomic.Uint64 // the pivot of the last snap sync that finished; 0: none
	unservedFrom   uint64        // the block no peer served when last logged; syncLoop's own
	unservedAt     time.Time     // when it was logged
}

// New prepares a service: it loads (or creates) the identity and checks the
// configuration. Nothing listens until Start.
func New(cfg Config, c Chain, pool TxPool) (*Service, error) {
	if cfg.Network == "" {
		return nil, errors.New("p2p: network name is empty (set it from the genesis params)")
	}
	if c == nil || pool == nil {
		return nil, errors.New("p2p: chain and txpool are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	snap, _ := c.(SnapChain)
	part, _ := c.(PartialChain)
	if cfg.SnapSync && snap == nil {
		return nil, errors.New("p2p: snap sync needs a chain that serves it (SnapChain)")
	}
	if cfg.statusInterval == 0 {
		cfg.statusInterval = defaultStatusInterval
	}
	if cfg.bootnodeBackoff == 0 {
		cfg.bootnodeBackoff = defaultBootnodeBackoff
	}
	if cfg.syncFirstByte == 0 {
		cfg.syncFirstByte = syncFirstByteTimeout
	}
	if cfg.syncStall == 0 {
		cfg.syncStall = syncStallTimeout
	}
	if cfg.syncFailCooldown == 0 {
		cfg.syncFailCooldown = defaultSyncFailCooldown
	}
	key, err := loadOrCreateKey(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("p2p: node key: %w", err)
	}
	var boots []peer.AddrInfo
	for _, s := range cfg.Bootnodes {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("p2p: bootnode %q: %w (want /ip4/<ip>/tcp/<port>/p2p/<id>)", s, err)
		}
		if ai.ID == id {
			continue // our own address in a shared bootnode list
		}
		boots = append(boots, *ai)
	}
	prefix := "/quern/" + cfg.Network + "/"
	return &Service{
		cfg:             cfg,
		log:             cfg.Log.With("module", "p2p"),
		chain:           c,
		snap:            snap,
		part:            part,
		pool:            pool,
		key:             key,
		id:              id,
		boots:           boots,
		blocksTopicName: prefix + "blocks",
		txsTopicName:    prefix + "txs",
		statusProto:     protocol.ID(prefix + "status/1"),
		syncProto:       protocol.ID(prefix + "sync/1"),
		snapProto:       protocol.ID(prefix + "snap/1"),
		rep:             newReputation(),
		peers:           newPeerSet(),
		caps:            capsOf(c.Params()),
		syncReq:         make(chan struct{}, 1),
	}, nil
}

// Start opens the host, joins the gossip topics and starts the background
// loops: status polling, sync, bootnode redial and mDNS.
func (s *Service) Start() error {
	s.life.Lock()
	if s.started {
		s.life.Unlock()
		return errors.New("p2p: already started")
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.startLocked(); err != nil {
		s.stopLocked()
		s.life.Unlock()
		s.wg.Wait()
		return err
	}
	addrs := s.addrsLocked()
	s.life.Unlock()
	s.log.Info("P2P started", "id", s.id, "addrs", addrs, "network", s.cfg.Network)
	return nil
}

func (s *Service) startLocked() error {
	opts := []libp2p.Option{
		libp2p.Identity(s.key),
		// No SO_REUSEPORT: with it a second node on the same port binds
		// silently beside the first and the kernel splits the connections
		// between them; without it the second one fails to listen, clearly.
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.QUICReuse(quicreuse.NewConnManager, quicreuse.DisableReuseport()),
		libp2p.ConnectionGater(s.rep),
		libp2p.DisableRelay(),
		libp2p.UserAgent("quern"),
	}
	if len(s.cfg.ListenAddrs) > 0 {
		opts = append(opts, libp2p.ListenAddrStrings(s.cfg.ListenAddrs...))
	}
	if s.cfg.LocalAddrsOnly {
		opts = append(opts, libp2p.AddrsFactory(localAddrsOnly))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("p2p: listen on %s: address already in use (another quern node on this port?); pick another port with --p2p.listen, e.g. /ip4/127.0.0.1/tcp/0 for a free one", strings.Join(s.cfg.ListenAddrs, ","))
		}
		return fmt.Errorf("p2p: host: %w", err)
	}
	s.host = h
	// Handlers first: a peer may dial us the moment the host listens.
	h.SetStreamHandler(s.statusProto, s.handleStatus)
	h.SetStreamHandler(s.syncProto, s.handleSync)
	if s.snap != nil {
		h.SetStreamHandler(s.snapProto, s.handleSnap)
	}

	if err := s.startGossip(); err != nil {
		return err
	}

	s.notifiee = &network.NotifyBundle{
		ConnectedF:    s.onConnected,
		DisconnectedF: s.onDisconnected,
	}
	h.Network().Notify(s.notifiee)

	s.goLocked(s.statusLoop)
	s.goLocked(s.syncLoop)
	for _, ai := range s.boots {
		s.goLocked(func() { s.keepBootnode(ai) })
	}
	if s.cfg.MDNS {
		s.mdns = mdns.NewMdnsService(h, "quern-"+s.cfg.Network, mdnsNotifee{s})
		if err := s.mdns.Start(); err != nil {
			return fmt.Errorf("p2p: mdns: %w", err)
		}
	}
	return nil
}

// Stop tears everything down and waits for every goroutine it started.
// It is safe to call more than once, and without Start.
func (s *Service) Stop() error {
	s.life.Lock()
	if !s.started || s.stopped {
		s.stopped = true
		s.life.Unlock()
		return nil
	}
	s.stopLocked()
	s.life.Unlock()
	s.wg.Wait()
	s.log.Info("P2P stopped")
	return nil
}

func (s *Service) stopLocked() {
	s.stopped = true
	s.cancel()
	if s.mdns != nil {
		s.mdns.Close()
	}
	if s.host != nil {
		if s.notifiee != nil {
			s.host.Network().StopNotify(s.notifiee)
		}
		s.host.RemoveStreamHandler(s.statusProto)
		s.host.RemoveStreamHandler(s.syncProto)
		s.host.RemoveStreamHandler(s.snapProto)
	}
	for _, sub := range s.subs {
		sub.Cancel()
	}
	for _, t := range []*pubsub.Topic{s.blocks, s.txs} {
		if t != nil {
			s.ps.UnregisterTopicValidator(t.String())
			t.Close()
		}
	}
	if s.psCancel != nil {
		s.psCancel()
	}
	if s.host != nil {
		// Closing the host resets every stream, unblocking readers.
		if err := s.host.Close(); err != nil {
			s.log.Warn("Closing p2p host", "err", err)
		}
	}
}

// goLocked runs f in a goroutine that Stop waits for. Caller holds s.life.
func (s *Service) goLocked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// spawn is goLocked for callers that do not hold s.life; it does nothing
// once the service is stopping.
func (s *Service) spawn(f func()) bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.stopped || !s.started {
		return false
	}
	s.goLocked(f)
	return true
}

// enter registers a libp2p-owned handler goroutine with the wait group;
// the handler must call s.wg.Done when it returns true.
func (s *Service) enter() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.stopped || !s.started {
		return false
	}
	s.wg.Add(1)
	return true
}

// running returns the host and topics, or an error when not running.
func (s *Service) running() (host.Host, error) {
	s.life.Lock()
	defer s.life.Unlock()
	switch {
	case !s.started:
		return nil, ErrNotStarted
	case s.stopped:
		return nil, ErrStopped
	}
	return s.host, nil
}

// ID is the node's libp2p peer id.
func (s *Service) ID() peer.ID { return s.id }

// Addrs are the listen multiaddrs with /p2p/<id>, ready to be given out as
// a bootnode address. Nil before Start.
func (s *Service) Addrs() []string {
	s.life.Lock()
	defer s.life.Unlock()
	return s.addrsLocked()
}

func (s *Service) addrsLocked() []string {
	if s.host == nil || s.stopped {
		return nil
	}
	mas, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: s.id, Addrs: s.host.Addrs()})
	if err != nil {
		return nil
	}
	out := make([]string, len(mas))
	for i, m := range mas {
		out[i] = m.String()
	}
	return out
}

// PeerCount is the number of peers we hold a connection to.
func (s *Service) PeerCount() int {
	h, err := s.running()
	if err != nil {
		return 0
	}
	return len(h.Network().Peers())
}

// SyncStatus reports whether a range sync is making progress (a session is
// running and imported a block we lacked less than syncStallTimeout ago: a
// peer that claims work it does not serve never holds the miner back), our
// head number, and the highest head number a peer has told us about (at
// least current).
func (s *Service) SyncStatus() (syncing bool, current, highest uint64) {
	current = s.chain.CurrentBlock().Number()
	highest = max(current, s.peers.highestNumber(), s.syncHighest.Load())
	last := s.syncProgressAt.Load()
	syncing = s.syncing.Load() && last != 0 && time.Since(time.Unix(0, last)) < s.cfg.syncStall
	return syncing, current, highest
}

// localAddrsOnly keeps the addresses whose IP is this machine's: loopback,
// or assigned to one of its interfaces (addresses without an IP, such as
// /dns, are dropped too: a devnet has no name).
func localAddrsOnly(addrs []ma.Multiaddr) []ma.Multiaddr {
	local := map[string]bool{}
	if ifAddrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifAddrs {
			if ipn, ok := a.(*net.IPNet); ok {
				local[ipn.IP.String()] = true
			}
		}
	}
	out := addrs[:0:0]
	for _, a := range addrs {
		ip, err := manet.ToIP(a)
		if err != nil {
			continue
		}
		if ip.IsLoopback() || local[ip.String()] {
			out = append(out, a)
		}
	}
	return out
}
