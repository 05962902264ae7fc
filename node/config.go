package node

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/compute"
)

// Defaults of the node's configuration.
const (
	DefaultRPCAddr   = "127.0.0.1:8545"
	DefaultRPCVHosts = "localhost" // comma list, as --rpc.vhosts takes it
	DefaultP2PListen = "/ip4/0.0.0.0/tcp/30333"
	// DevP2PListen is the default with --dev: loopback only, so a devnet
	// is not reachable from (or advertised to) other machines.
	DevP2PListen    = "/ip4/127.0.0.1/tcp/30333"
	DefaultLogLevel = "info"
)

// ErrNoNetwork is returned when neither --dev nor --genesis picks a chain.
var ErrNoNetwork = errors.New("no network selected: pass --dev for the devnet or --genesis FILE")

// Config is what a node is built from (defaults < flags).
type Config struct {
	DataDir      string
	Dev          bool   // the embedded dev genesis, dev key imported into the keystore
	GenesisFile  string // a genesis JSON file (a network other than the devnet)
	Mine         bool
	MinerAddress string // hex coinbase; the dev address with --dev when empty
	RPCAddr      string // HOST:PORT; port 0 picks a free one
	P2PListen    []string
	Bootnodes    []string
	MDNS         bool
	LogLevel     string // debug | info | warn | error
	Compute      string // --compute: auto | cpu | cuda (see selectBackend)

	// RPCVHosts are the host names a request's Host header may carry ("*":
	// any; IP addresses always pass); RPCCorsDomains the web origins allowed
	// to call the node from a browser ("*": any; none by default).
	RPCVHosts      []string
	RPCCorsDomains []string
	// HTTPExplorer serves the block explorer page at /explorer/ on the RPC
	// server (--http.explorer; node/explorer). nil: on with Dev, off
	// otherwise (check fills it in).
	HTTPExplorer *bool

	// GCMode is --gcmode: GCModeFull keeps the state of the last
	// StateRetention blocks behind the head, GCModeArchive every block's.
	GCMode         string
	StateRetention uint64 // --state.retention: blocks of state kept in full mode
	TrieCacheMiB   uint64 // --cache.trie: MiB of trie nodes cached in memory
	// SyncMode is --sync.mode: SyncModeFull replays every block, SyncModeSnap
	// fetches a recent state from peers first.
	SyncMode string

	// Genesis, when set, replaces the dev genesis (tests use a cheaper one);
	// it is not reachable from the command line.
	Genesis *chain.Genesis
	// Backend, when set, is the compute backend for mining and seal checks
	// and Compute is ignored (tests pin one); when nil, Compute picks it.
	Backend compute.Backend
	// RPCLimits bound the RPC server (timeouts, connections, body and batch
	// sizes); not reachable from the command line, tests shorten them.
	RPCLimits RPCLimits
}

// DefaultConfig returns the defaults (each Settings entry's); DataDir is
// ~/.quern. P2PListen is empty: check picks DefaultP2PListen or DevP2PListen.
func DefaultConfig() Config {
	cfg := Config{RPCLimits: DefaultRPCLimits()}
	for _, s := range Settings {
		s.value.setDefault(&cfg)
	}
	cfg.DataDir = DefaultDataDir() // now, not when Settings was built
	return cfg
}

// DefaultDataDir is ~/.quern, or ./.quern when the home directory is unknown.
func DefaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".quern")
	}
	return ".quern"
}

// ParseLogLevel maps a --log.level value to a slog level.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: use debug, info, warn or error", s)
}

// Effective validates cfg and fills in the defaults that depend on other
// settings (the p2p listen address with --dev): the configuration a node
// built from cfg runs with, as `quern dumpconfig` prints it.
func (cfg Config) Effective() (Config, error) {
	_, err := cfg.check()
	return cfg, err
}

// check validates cfg and fills in defaults; it returns the coinbase when
// mining (zero otherwise).
func (cfg *Config) check() (common.Address, error) {
	if !cfg.Dev && cfg.GenesisFile == "" && cfg.Genesis == nil {
		return common.Address{}, ErrNoNetwork
	}
	if cfg.Dev && cfg.GenesisFile != "" {
		return common.Address{}, errors.New("both --dev and --genesis given: pass one of them")
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir()
	}
	if cfg.RPCAddr == "" {
		cfg.RPCAddr = DefaultRPCAddr
	}
	if len(cfg.P2PListen) == 0 {
		cfg.P2PListen = []string{DefaultP2PListen}
		if cfg.Dev {
			cfg.P2PListen = []string{DevP2PListen}
		}
	}
	if cfg.HTTPExplorer == nil {
		on := cfg.Dev
		cfg.HTTPExplorer = &on
	}
	for _, s := range Settings {
		if err := s.value.check(cfg); err != nil {
			return common.Address{}, err
		}
	}
	var coinbase common.Address
	switch {
	case cfg.MinerAddress != "": // checked with the other settings above
		coinbase = common.HexToAddress(cfg.MinerAddress)
	case cfg.Mine && cfg.Dev:
		coinbase = chain.DevAddress()
	case cfg.Mine:
		return common.Address{}, errors.New("--mine needs --miner.address ADDR (the account that receives block rewards)")
	}
	if !cfg.Mine {
		coinbase = common.Address{}
	}
	return coinbase, nil
}

// explorerOn says whether the RPC server serves the explorer page.
func (cfg *Config) explorerOn() bool {
	if cfg.HTTPExplorer != nil {
		return *cfg.HTTPExplorer
	}
	return cfg.Dev
}
