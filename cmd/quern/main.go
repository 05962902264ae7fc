// Command quern is the quern node and its user tools: run a node, keep keys,
// send QRN, submit matrix-product and training jobs and fetch their results
// (products, trained models) over the node's JSON-RPC, and run trained
// models on CSV rows.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/node"
)

// Flags shared by several commands. A command reads them with c.String(f.Name)
// and friends, so one flag value can serve many commands.
var (
	rpcFlag = &cli.StringFlag{
		Name:    "rpc",
		Usage:   "JSON-RPC `URL` of a quern node",
		Value:   "http://127.0.0.1:8545",
		EnvVars: []string{"QUERN_RPC"},
	}
	keystoreFlag = &cli.StringFlag{
		Name:    "keystore",
		Usage:   "keystore `DIR` (encrypted key files; a node keeps its own in DATADIR/keystore)",
		Value:   filepath.Join(node.DefaultDataDir(), "keystore"),
		EnvVars: []string{"QUERN_KEYSTORE"},
	}
	passwordFileFlag = &cli.StringFlag{
		Name:  "password-file",
		Usage: "read the key's password from the first line of `FILE` instead of the terminal",
	}
	fromFlag = &cli.StringFlag{
		Name:     "from",
		Usage:    "sending account `ADDRESS` (its key must be in --keystore)",
		Required: true,
	}
	waitFlag = &cli.BoolFlag{
		Name:  "wait",
		Usage: "wait until the transaction is included (or the job done) before returning",
	}
	// pollFlag paces every --wait loop; hidden because only tests change it.
	pollFlag = &cli.DurationFlag{
		Name:   "poll",
		Usage:  "`INTERVAL` between polls while waiting",
		Value:  time.Second,
		Hidden: true,
	}
)

func newApp() *cli.App {
	app := &cli.App{
		Name:                 "quern",
		Usage:                "a proof-of-useful-work blockchain: mine by multiplying matrices that somebody paid for",
		Version:              versionInfo().Version,
		EnableBashCompletion: true,
		Suggest:              true,
		Commands: []*cli.Command{nodeCommand, walletCommand, jobCommand, chainCommand, txCommand, modelCommand,
			dumpConfigCommand, versionCommand, completionCommand},
		// Errors are printed once, by run; urfave must not exit or print them.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	usageOnce.Do(func() { installUsageHandlers(app) })
	app.OnUsageError = usageError
	app.Action = unknownCommand(func() []*cli.Command { return app.Commands }, app.Name)
	return app
}

// usageOnce installs the usage handlers on the (package-level) commands once.
var usageOnce sync.Once

func init() {
	cli.VersionPrinter = func(c *cli.Context) { printVersion(c.App.Writer) }
}

// run executes the app with args (args[0] is the program name) and returns
// the exit status: 0, or 1 after one "error: ..." line on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp()
	app.Reader, app.Writer, app.ErrWriter = stdin, stdout, stderr
	if err := app.RunContext(ctx, flagsFirst(app, args)); err != nil {
		msg := strings.TrimSpace(err.Error())
		msg = strings.ReplaceAll(msg, "\n", "; ")
		fmt.Fprintf(stderr, "error: %s\n", msg)
		return 1
	}
	return 0
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// flagsFirst moves the flags of the command that args run in front of its
// positional arguments, so that "quern job result ID --out c.npy" works as
// well as "quern job result --out c.npy ID" (urfave/cli v2 stops parsing
// flags at the first positional argument). Everything after "--" stays put.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == "--generate-bash-completion" {
		return args // completion reads its flag last
	}
	cmds, i := app.Commands, 1
	var leaf *cli.Command
	for i < len(args) && leaf == nil {
		var cmd *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				cmd = c
			}
		}
		if cmd == nil {
			return args
		}
		i++
		cmds = nil
		for _, sub := range cmd.Subcommands {
			if sub.Name != "help" { // urfave adds a help subcommand to every command it runs
				cmds = append(cmds, sub)
			}
		}
		if len(cmds) == 0 {
			leaf = cmd
		}
	}
	if leaf == nil {
		return args
	}
	takesValue := func(name string) bool {
		for _, f := range append(leaf.Flags, cli.HelpFlag) {
			for _, n := range f.Names() {
				if n == name {
					_, isBool := f.(*cli.BoolFlag)
					return !isBool
				}
			}
		}
		return false // unknown: leave it to the parser to complain
	}
	var flags, positional []string
	rest := args[i:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			positional = append(positional, rest[j:]...)
			j = len(rest)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue(name) && j+1 < len(rest) {
				j++
				flags = append(flags, rest[j])
			}
		default:
			positional = append(positional, a)
		}
	}
	out := append(append([]string{}, args[:i]...), flags...)
	return append(out, positional...)
}

// oneArg returns the command's single positional argument or a usage error
// naming what was expected.
// argAndDial parses the command's one positional argument with parse and
// dials the node: the opening of every command that asks about one thing.
func argAndDial[T any](c *cli.Context, what string, parse func(string) (T, error)) (T, *nodeClient, error) {
	var zero T
	arg, err := oneArg(c, what)
	if err != nil {
		return zero, nil, err
	}
	v, err := parse(arg)
	if err != nil {
		return zero, nil, err
	}
	nc, err := dial(c)
	if err != nil {
		return zero, nil, err
	}
	return v, nc, nil
}

func oneArg(c *cli.Context, what string) (string, error) {
	args := c.Args().Slice()
	if len(args) == 1 {
		return args[0], nil
	}
	usage := fmt.Sprintf("usage: %s [flags] %s", c.Command.HelpName, what)
	if len(args) == 0 {
		return "", fmt.Errorf("missing %s; %s", what, usage)
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			return "", fmt.Errorf("flag %s after %s: put flags before %s; %s", a, what, what, usage)
		}
	}
	return "", fmt.Errorf("want one %s, got %d arguments; %s", what, len(args), usage)
}

// noArgs rejects stray positional arguments (often a flag typed after one).
func noArgs(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return fmt.Errorf("unexpected argument %q; usage: %s [flags]", c.Args().First(), c.Command.HelpName)
	}
	return nil
}

// dial connects to the node named by --rpc.
func dial(c *cli.Context) (*nodeClient, error) {
	return dialNode(c.Context, c.String(rpcFlag.Name))
}

// waitCtx bounds a --wait loop by the command's --timeout.
func waitCtx(c *cli.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Context, c.Duration("timeout"))
}
