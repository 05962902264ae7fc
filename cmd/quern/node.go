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

// nodeConfigFlag names the --config file; every other flag of `quern node`
// is a node.Settings entry (settingFlags).
var nodeConfigFlag = &cli.StringFlag{
	Name:  "config",
	Usage: "TOML `FILE` of settings (keys as the flags: " + fileKeysUsage() + "); flags override it",
}

// settingFlag is the flag of one node setting and how to read it back.
type settingFlag struct {
	setting node.Setting
	flag    cli.Flag
	read    func(c *cli.Context) any // the value given, of the setting's type
}

// settingFlags are the flags of node.Settings, in their order.
var settingFlags = func() []settingFlag {
	out := make([]settingFlag, len(node.Settings))
	for i, s := range node.Settings {
		name := s.Flag
		f := settingFlag{setting: s}
		switch def := s.Default().(type) {
		case string:
			f.flag = &cli.StringFlag{Name: name, Usage: s.Usage, Value: def, DefaultText: s.DefaultText}
			f.read = func(c *cli.Context) any { return c.String(name) }
		case bool:
			f.flag = &cli.BoolFlag{Name: name, Usage: s.Usage, Value: def, DefaultText: s.DefaultText}
			f.read = func(c *cli.Context) any { return c.Bool(name) }
		case *bool: // unset: the node picks, as DefaultText says
			f.flag = &cli.BoolFlag{Name: name, Usage: s.Usage, DefaultText: s.DefaultText}
			f.read = func(c *cli.Context) any { on := c.Bool(name); return &on }
		case uint64:
			f.flag = &cli.Uint64Flag{Name: name, Usage: s.Usage, Value: def, DefaultText: s.DefaultText}
			f.read = func(c *cli.Context) any { return c.Uint64(name) }
		case []string:
			sf := &cli.StringSliceFlag{Name: name, Usage: s.Usage, DefaultText: s.DefaultText}
			if len(def) > 0 {
				sf.Value = cli.NewStringSlice(def...)
			}
			f.flag = sf
			f.read = func(c *cli.Context) any { return splitList(c.StringSlice(name)) }
		default:
			panic(fmt.Sprintf("node setting %s: no flag for a %T", name, def))
		}
		out[i] = f
	}
	return out
}()

// fileKeysUsage lists the --config keys: top-level ones, then each table's
// ("datadir, mine, [miner] address, [rpc] addr/vhosts").
func fileKeysUsage() string {
	var top, tables []string
	keys := map[string][]string{}
	for _, s := range node.Settings {
		table, key, dotted := strings.Cut(s.Key, ".")
		if !dotted {
			top = append(top, table)
			continue
		}
		if keys[table] == nil {
			tables = append(tables, table)
		}
		keys[table] = append(keys[table], key)
	}
	for _, t := range tables {
		top = append(top, "["+t+"] "+strings.Join(keys[t], "/"))
	}
	return strings.Join(top, ", ")
}

// nodeFlags are the flags of `quern node` and `quern dumpconfig`.
func nodeFlags() []cli.Flag {
	flags := []cli.Flag{nodeConfigFlag}
	for _, f := range settingFlags {
		flags = append(flags, f.flag)
	}
	return flags
}

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
	Flags:  nodeFlags(),
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
	for _, f := range settingFlags {
		if c.IsSet(f.setting.Flag) {
			if err := f.setting.Set(&cfg, f.read(c)); err != nil {
				return cfg, err
			}
		}
	}
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
