package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/node"
)

// Flags of `quern node`.
var (
	nodeConfigFlag = &cli.StringFlag{
		Name:  "config",
		Usage: "TOML `FILE` of settings (keys as the flags: datadir, mine, compute, [miner] address, [rpc] addr/vhosts/corsdomain, [http] explorer, [p2p] listen/bootnodes/mdns, [log] level); flags override it",
	}
	nodeDataDirFlag = &cli.StringFlag{
		Name:  "datadir",
		Usage: "data directory: chain database, keystore, p2p identity",
		Value: node.DefaultDataDir(),
	}
	nodeDevFlag = &cli.BoolFlag{
		Name:  "dev",
		Usage: "run the devnet: embedded dev genesis, the public dev key imported into the keystore (INSECURE)",
	}
	nodeGenesisFlag = &cli.StringFlag{
		Name:  "genesis",
		Usage: "genesis JSON `FILE` of the network to join",
	}
	nodeMineFlag = &cli.BoolFlag{
		Name:  "mine",
		Usage: "mine blocks (compute paid jobs, then synthetic puzzles)",
	}
	nodeMinerAddressFlag = &cli.StringFlag{
		Name:  "miner.address",
		Usage: "coinbase `ADDR` that receives block rewards (with --dev defaults to the dev address)",
	}
	nodeRPCAddrFlag = &cli.StringFlag{
		Name:  "rpc.addr",
		Usage: "JSON-RPC HTTP listen `HOST:PORT` (port 0 picks a free one)",
		Value: node.DefaultRPCAddr,
	}
	nodeRPCVHostsFlag = &cli.StringSliceFlag{
		Name:  "rpc.vhosts",
		Usage: "host names the RPC accepts in a request's Host header (`H1,H2`; * for any; IP addresses always pass): stops DNS rebinding",
		Value: cli.NewStringSlice(node.DefaultRPCVHosts),
	}
	nodeRPCCorsFlag = &cli.StringSliceFlag{
		Name:  "rpc.corsdomain",
		Usage: "web origins allowed to call the RPC from a browser (`O1,O2`, e.g. https://app.example.org; * for any; none by default)",
	}
	nodeHTTPExplorerFlag = &cli.BoolFlag{
		Name:        "http.explorer",
		Usage:       "serve the block explorer page at /explorer/ on the RPC server (--http.explorer=false turns it off)",
		DefaultText: "on with --dev, off otherwise",
	}
	nodeP2PListenFlag = &cli.StringSliceFlag{
		Name: "p2p.listen",
		Usage: "libp2p listen `MULTIADDR` (repeatable or comma-separated; default " + node.DefaultP2PListen +
			", with --dev " + node.DevP2PListen + "; a port in use is an error, /tcp/0 picks a free one)",
	}
	nodeBootnodesFlag = &cli.StringSliceFlag{
		Name:  "bootnodes",
		Usage: "peers to bootstrap from: full multiaddrs with /p2p/<id> (`M1,M2`)",
	}
	nodeMDNSFlag = &cli.BoolFlag{
		Name:  "mdns",
		Usage: "discover peers on the local network with mDNS",
	}
	nodeComputeFlag = &cli.StringFlag{
		Name:  "compute",
		Usage: "compute backend: auto (GPU when usable, else CPU), cpu, or cuda (GPU; falls back to the CPU with a warning)",
		Value: node.DefaultCompute,
	}
	nodeLogLevelFlag = &cli.StringFlag{
		Name:  "log.level",
		Usage: "log level: debug, info, warn or error",
		Value: node.DefaultLogLevel,
	}
)

var nodeCommand = &cli.Command{
	Name:  "node",
	Usage: "run a quern node (validator; miner with --mine)",
	Description: `Runs a full node: validates and stores the chain, talks to peers over libp2p,
serves the quern JSON-RPC namespace over HTTP, and with --mine produces blocks.

  quern node --dev --mine                     a one-node devnet, mining to the dev address
  quern node --genesis g.json --bootnodes M   join a network
  quern node --genesis g.json --mine --miner.address 0x…

Stop it with Ctrl-C (SIGINT) or SIGTERM: services stop in reverse order and
the database is closed cleanly.`,
	Flags: []cli.Flag{
		nodeConfigFlag, nodeDataDirFlag, nodeDevFlag, nodeGenesisFlag, nodeMineFlag, nodeMinerAddressFlag,
		nodeRPCAddrFlag, nodeRPCVHostsFlag, nodeRPCCorsFlag, nodeHTTPExplorerFlag, nodeP2PListenFlag, nodeBootnodesFlag, nodeMDNSFlag, nodeComputeFlag,
		nodeLogLevelFlag,
	},
	Action: runNode,
}

// nodeConfig builds the node's configuration: defaults < --config file <
// flags given on the command line.
func nodeConfig(c *cli.Context) (node.Config, error) {
	cfg := node.DefaultConfig()
	if path := c.String(nodeConfigFlag.Name); path != "" {
		if err := node.ApplyConfigFile(path, &cfg); err != nil {
			return cfg, err
		}
	}
	str := func(f *cli.StringFlag, dst *string) {
		if c.IsSet(f.Name) {
			*dst = c.String(f.Name)
		}
	}
	boolean := func(f *cli.BoolFlag, dst *bool) {
		if c.IsSet(f.Name) {
			*dst = c.Bool(f.Name)
		}
	}
	list := func(f *cli.StringSliceFlag, dst *[]string) {
		if c.IsSet(f.Name) {
			*dst = splitList(c.StringSlice(f.Name))
		}
	}
	str(nodeDataDirFlag, &cfg.DataDir)
	boolean(nodeDevFlag, &cfg.Dev)
	str(nodeGenesisFlag, &cfg.GenesisFile)
	boolean(nodeMineFlag, &cfg.Mine)
	str(nodeMinerAddressFlag, &cfg.MinerAddress)
	str(nodeRPCAddrFlag, &cfg.RPCAddr)
	list(nodeRPCVHostsFlag, &cfg.RPCVHosts)
	list(nodeRPCCorsFlag, &cfg.RPCCorsDomains)
	if c.IsSet(nodeHTTPExplorerFlag.Name) {
		on := c.Bool(nodeHTTPExplorerFlag.Name)
		cfg.HTTPExplorer = &on
	}
	list(nodeP2PListenFlag, &cfg.P2PListen)
	list(nodeBootnodesFlag, &cfg.Bootnodes)
	boolean(nodeMDNSFlag, &cfg.MDNS)
	str(nodeLogLevelFlag, &cfg.LogLevel)
	str(nodeComputeFlag, &cfg.Compute)
	return cfg, nil
}

// splitList flattens values that may themselves be comma-separated and
// drops empty entries.
func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func runNode(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: quern node takes flags only (see quern node --help)", c.Args().First())
	}
	cfg, err := nodeConfig(c)
	if err != nil {
		return err
	}
	level, err := node.ParseLogLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	errw := c.App.ErrWriter
	if errw == nil {
		errw = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(errw, &slog.HandlerOptions{Level: level}))

	n, err := node.New(cfg, log)
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		n.Close()
		return err
	}

	// main cancels c.Context on SIGINT/SIGTERM; listen here as well so the
	// node stops gracefully when run under any context.
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down: stopping miner, RPC, p2p, txpool, chain (signal again to force)")

	force := make(chan os.Signal, 1)
	signal.Notify(force, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(force)
	closed := make(chan error, 1)
	go func() { closed <- n.Close() }()
	select {
	case err := <-closed:
		return err
	case <-force:
		log.Error("forced exit before a clean shutdown: the database may need recovery on next start")
		os.Exit(1)
		return nil
	}
}
