package node

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/p2p"
)

// Lifecycle is a service the node starts and stops (go-ethereum node.Lifecycle).
type Lifecycle interface {
	Start() error
	Stop() error
}

// lifecycleFuncs adapts two closures to Lifecycle.
type lifecycleFuncs struct{ start, stop func() error }

func (l lifecycleFuncs) Start() error {
	if l.start == nil {
		return nil
	}
	return l.start()
}

func (l lifecycleFuncs) Stop() error {
	if l.stop == nil {
		return nil
	}
	return l.stop()
}

type namedLifecycle struct {
	name string
	Lifecycle
}

const (
	stateInit = iota
	stateRunning
	stateClosed
)

// Node owns the datadir (and its lock) and runs the services registered on
// it: chain, txpool, p2p, RPC, miner, started in that order, stopped in
// reverse.
type Node struct {
	cfg      Config
	log      *slog.Logger
	dir      string
	lock     *os.File
	genesis  *chain.Genesis
	coinbase common.Address
	backend  compute.Backend
	// closeBackend releases the backend selectBackend opened (a GPU context).
	closeBackend func()

	mu         sync.Mutex
	state      int
	lifecycles []namedLifecycle
	started    int // lifecycles[:started] are running

	chain *chain.Chain
	pool  *chain.TxPool
	p2p   *p2p.Service
	rpc   *rpcServer
	miner *Miner

	metrics *metrics // Prometheus registry, served by the RPC server
}

// New checks cfg, creates the datadir, takes its lock, loads the genesis
// (and with --dev imports the dev key into the keystore), and registers the
// node's services. Nothing runs until Start.
func New(cfg Config, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.Default()
	}
	coinbase, err := cfg.check()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("datadir %s: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create datadir: %w", err)
	}
	lock, err := lockDir(dir, filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, dir: dir, lock: lock, coinbase: coinbase, backend: cfg.Backend, closeBackend: func() {}}
	if n.backend == nil {
		be, closeFn, err := selectBackend(cfg.Compute, log.With("module", "compute"))
		if err != nil {
			unlockDir(lock)
			return nil, err
		}
		n.backend, n.closeBackend = be, closeFn
	}
	if err := n.loadGenesis(); err != nil {
		n.closeBackend()
		unlockDir(lock)
		return nil, err
	}
	if cfg.Dev {
		if err := n.importDevKey(); err != nil {
			n.closeBackend()
			unlockDir(lock)
			return nil, err
		}
	}
	n.metrics = newMetrics(n)
	n.register()
	return n, nil
}

func (n *Node) loadGenesis() error {
	switch {
	case n.cfg.Genesis != nil:
		n.genesis = n.cfg.Genesis
	case n.cfg.GenesisFile != "":
		g, err := chain.LoadGenesis(n.cfg.GenesisFile)
		if err != nil {
			return fmt.Errorf("genesis %s: %w", n.cfg.GenesisFile, err)
		}
		n.genesis = g
	default:
		n.genesis = chain.DevGenesis()
	}
	return nil
}

// importDevKey writes the public dev key to D/keystore (go-ethereum format,
// empty password) so that `quern wallet` can sign with it on the devnet.
func (n *Node) importDevKey() error {
	ksDir := filepath.Join(n.dir, "keystore")
	addr := chain.DevAddress()
	if !hasKeyFile(ksDir, addr) {
		ks := keystore.NewKeyStore(ksDir, keystore.LightScryptN, keystore.LightScryptP)
		if _, err := ks.ImportECDSA(chain.DevKey(), ""); err != nil && !errors.Is(err, keystore.ErrAccountAlreadyExists) {
			return fmt.Errorf("import dev key into %s: %w", ksDir, err)
		}
	}
	n.log.Warn("DEVNET: the dev key is INSECURE and PUBLIC: anyone can spend its coins; never use it outside the devnet",
		"address", addr, "keystore", ksDir, "password", "(empty)")
	return nil
}

// hasKeyFile reports whether dir holds a key file for addr, by the
// go-ethereum file name convention UTC--<time>--<hex address>.
func hasKeyFile(dir string, addr common.Address) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	suffix := strings.ToLower(strings.TrimPrefix(addr.Hex(), "0x"))
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(strings.ToLower(e.Name()), suffix) {
			return true
		}
	}
	return false
}

// RegisterLifecycle adds a service started after those already registered.
func (n *Node) RegisterLifecycle(name string, l Lifecycle) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != stateInit {
		panic("node: RegisterLifecycle after Start")
	}
	n.lifecycles = append(n.lifecycles, namedLifecycle{name, l})
}

func (n *Node) register() {
	n.RegisterLifecycle("chain", lifecycleFuncs{
		start: func() error {
			engine := meteredEngine{Engine: consensus.New(n.backend), m: n.metrics}
			c, err := chain.OpenWith(filepath.Join(n.dir, "chaindata"), n.genesis, engine, n.log.With("module", "chain"),
				chain.Options{Archive: n.cfg.GCMode == GCModeArchive, StateRetention: n.cfg.StateRetention,
					NodeCache: trieCacheBytes(n.cfg.TrieCacheMiB)})
			if err != nil {
				return err
			}
			n.chain = c
			return nil
		},
		stop: func() error { return n.chain.Close() },
	})
	n.RegisterLifecycle("txpool", lifecycleFuncs{
		start: func() error {
			n.pool = chain.NewTxPool(n.chain, n.log.With("module", "txpool"), chain.WithJournal(filepath.Join(n.dir, "txpool.rlp")))
			return nil
		},
		stop: func() error { n.pool.Close(); return nil },
	})
	n.RegisterLifecycle("p2p", lifecycleFuncs{
		start: func() error {
			svc, err := p2p.New(p2p.Config{
				Network:     n.chain.Params().Network,
				ListenAddrs: n.cfg.P2PListen,
				Bootnodes:   n.cfg.Bootnodes,
				KeyFile:     filepath.Join(n.dir, "p2p.key"),
				MDNS:        n.cfg.MDNS,
				// A devnet advertises only this machine's addresses.
				LocalAddrsOnly: n.cfg.Dev,
				SnapSync:       n.cfg.SyncMode == SyncModeSnap,
				Log:            n.log, // p2p adds module=p2p itself
			}, meteredChain{Chain: n.chain, m: n.metrics}, n.pool)
			if err != nil {
				return err
			}
			if err := svc.Start(); err != nil {
				return err
			}
			n.p2p = svc
			return nil
		},
		stop: func() error { return n.p2p.Stop() },
	})
	n.RegisterLifecycle("rpc", lifecycleFuncs{
		start: func() error {
			srv, err := startRPC(&n.cfg, n.chain.Params(), newAPI(n), n.log.With("module", "rpc"))
			if err != nil {
				return err
			}
			n.rpc = srv
			return nil
		},
		stop: func() error { return n.rpc.stop() },
	})
	if n.cfg.Mine {
		n.RegisterLifecycle("miner", lifecycleFuncs{
			start: func() error {
				n.miner = NewMiner(n.chain, n.pool, n.p2p, n.backend, n.coinbase, n.log.With("module", "miner"))
				n.miner.metrics = n.metrics
				return n.miner.Start()
			},
			stop: func() error { return n.miner.Stop() },
		})
	}
}

// Start starts the registered services in order; if one fails, those
// already started are stopped in reverse and the error returned.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch n.state {
	case stateRunning:
		return errors.New("node already started")
	case stateClosed:
		return errors.New("node is closed")
	}
	for i, l := range n.lifecycles {
		if err := l.Start(); err != nil {
			n.started = i
			n.stopServices()
			return fmt.Errorf("start %s: %w", l.name, err)
		}
		n.log.Debug("service started", "service", l.name)
	}
	n.started = len(n.lifecycles)
	n.state = stateRunning
	n.logStarted()
	return nil
}

func (n *Node) logStarted() {
	head := n.chain.CurrentBlock()
	attrs := []any{
		"network", n.chain.Params().Network,
		"chainid", n.chain.Params().ChainID,
		"genesis", n.chain.Genesis().Hash(),
		"head", head.Number(),
		"headhash", head.Hash(),
		"p2p", strings.Join(n.p2p.Addrs(), ","),
		"rpc", n.rpc.url(),
		"backend", n.backend.Name(),
	}
	if n.cfg.Mine {
		attrs = append(attrs, "coinbase", n.coinbase)
	}
	n.log.Info("quern node started", attrs...)
}

// stopServices stops lifecycles[:started] in reverse; errors are joined.
func (n *Node) stopServices() error {
	var errs []error
	for i := n.started - 1; i >= 0; i-- {
		l := n.lifecycles[i]
		if err := l.Stop(); err != nil {
			n.log.Error("service stop failed", "service", l.name, "err", err)
			errs = append(errs, fmt.Errorf("stop %s: %w", l.name, err))
		} else {
			n.log.Debug("service stopped", "service", l.name)
		}
	}
	n.started = 0
	return errors.Join(errs...)
}

// Close stops every running service in reverse order (the chain last, so
// its store is flushed and closed cleanly) and releases the datadir lock.
// It is safe to call more than once and without Start.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state == stateClosed {
		return nil
	}
	wasRunning := n.state == stateRunning
	n.state = stateClosed
	err := n.stopServices()
	n.closeBackend() // after the miner and the chain, its last users, have stopped
	if lerr := unlockDir(n.lock); lerr != nil {
		err = errors.Join(err, fmt.Errorf("release datadir lock: %w", lerr))
	}
	if wasRunning {
		n.log.Info("quern node stopped")
	}
	return err
}

// DataDir is the node's absolute data directory.
func (n *Node) DataDir() string { return n.dir }

// Chain is the node's chain (nil before Start).
func (n *Node) Chain() *chain.Chain { return n.chain }

// TxPool is the node's transaction pool (nil before Start).
func (n *Node) TxPool() *chain.TxPool { return n.pool }

// P2P is the node's network service (nil before Start).
func (n *Node) P2P() *p2p.Service { return n.p2p }

// Coinbase is the mining reward address (zero when not mining).
func (n *Node) Coinbase() common.Address { return n.coinbase }

// Mining reports whether the node runs a miner.
func (n *Node) Mining() bool { return n.cfg.Mine }

// Backend is the compute backend used for mining and seal checks.
func (n *Node) Backend() compute.Backend { return n.backend }

// RPCEndpoint is the HTTP URL the RPC server listens on ("" before Start).
func (n *Node) RPCEndpoint() string {
	if n.rpc == nil {
		return ""
	}
	return n.rpc.url()
}
