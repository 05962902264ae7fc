package main

// The operator's commands beside node/wallet/job: version, dumpconfig,
// chain block, job list, wallet list|import|export; --json output; usage
// errors with "did you mean".

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/node"
)

// Set by the Makefile's build target: -ldflags "-X main.version=… -X main.gitCommit=…".
var (
	version   = "dev"
	gitCommit = ""
)

// jsonFlag makes a read command print one JSON object instead of text.
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of text"}

// printJSON writes v as one JSON object (indented) on stdout.
func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// buildVersion is what `quern version` prints.
type buildVersion struct {
	Version   string `json:"version"`
	GitCommit string `json:"gitCommit"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

func versionInfo() buildVersion {
	v := buildVersion{Version: version, GitCommit: gitCommit, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.GitCommit == "" {
					v.GitCommit = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && gitCommit == "" && v.GitCommit != "" {
			v.GitCommit += "-dirty"
		}
		if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
	}
	if v.GitCommit == "" {
		v.GitCommit = "unknown"
	}
	return v
}

func printVersion(w io.Writer) {
	v := versionInfo()
	fmt.Fprintf(w, "quern %s\ngit commit: %s\ngo version: %s\nos/arch:    %s/%s\n", v.Version, v.GitCommit, v.GoVersion, v.OS, v.Arch)
}

var versionCommand = &cli.Command{
	Name:      "version",
	Usage:     "print the version, git commit, Go version and OS/arch",
	ArgsUsage: " ",
	Flags:     []cli.Flag{jsonFlag},
	Action: func(c *cli.Context) error {
		if err := noArgs(c); err != nil {
			return err
		}
		if c.Bool(jsonFlag.Name) {
			return printJSON(c, versionInfo())
		}
		printVersion(c.App.Writer)
		return nil
	},
}

var dumpConfigCommand = &cli.Command{
	Name:      "dumpconfig",
	Usage:     "print the node's effective configuration for the flags given, as the TOML --config reads",
	ArgsUsage: " ",
	Description: `Takes the flags of "quern node" and prints the settings a node started
with them would run with (defaults, then --config, then the flags):

  quern dumpconfig --dev --mine > quern.toml
  quern node --config quern.toml`,
	Flags: nodeCommand.Flags,
	Action: func(c *cli.Context) error {
		if err := noArgs(c); err != nil {
			return err
		}
		cfg, err := nodeConfig(c)
		if err != nil {
			return err
		}
		eff, err := cfg.Effective()
		if err != nil {
			return err
		}
		return node.WriteConfigFile(c.App.Writer, eff)
	},
}

// --- chain block -----------------------------------------------------------

var chainBlockCommand = &cli.Command{
	Name:      "block",
	Usage:     "print a block's header fields, transactions and results",
	ArgsUsage: "NUMBER|latest|HASH",
	Flags:     []cli.Flag{rpcFlag, jsonFlag},
	Action:    chainBlock,
}

func chainBlock(c *cli.Context) error {
	arg, err := oneArg(c, "NUMBER|latest|HASH")
	if err != nil {
		return err
	}
	var get func(nc *nodeClient) (*node.RPCBlock, error)
	switch {
	case strings.EqualFold(arg, "latest"):
		get = func(nc *nodeClient) (*node.RPCBlock, error) {
			return node.Quern.GetBlockByNumber.Call(c.Context, nc, node.BlockNumber{Latest: true})
		}
	case strings.HasPrefix(arg, "0x") && len(arg) == 66:
		h, err := parseHash(arg)
		if err != nil {
			return err
		}
		get = func(nc *nodeClient) (*node.RPCBlock, error) { return node.Quern.GetBlockByHash.Call(c.Context, nc, h) }
	default:
		n, err := strconv.ParseUint(arg, 10, 64)
		if err != nil {
			return fmt.Errorf("bad block %q: want a number, latest, or a 0x hash of 64 hex digits", arg)
		}
		get = func(nc *nodeClient) (*node.RPCBlock, error) {
			return node.Quern.GetBlockByNumber.Call(c.Context, nc, node.BlockNumber{Number: n})
		}
	}
	nc, err := dial(c)
	if err != nil {
		return err
	}
	defer nc.Close()
	b, err := get(nc)
	if err != nil {
		return about(err, "block %s", arg)
	}
	if b == nil {
		return fmt.Errorf("node at %s has no block %s", nc.url, arg)
	}
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, b)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "number:      %d\n", b.Number)
	fmt.Fprintf(w, "hash:        %s\n", b.Hash.Hex())
	fmt.Fprintf(w, "parent:      %s\n", b.ParentHash.Hex())
	fmt.Fprintf(w, "time:        %s\n", time.UnixMilli(int64(b.Time)).UTC().Format("2006-01-02 15:04:05.000 MST"))
	fmt.Fprintf(w, "coinbase:    %s\n", b.Coinbase.Hex())
	fmt.Fprintf(w, "difficulty:  %d MACs\n", b.Difficulty)
	fmt.Fprintf(w, "total diff:  %s\n", b.TotalDiff)
	fmt.Fprintf(w, "state root:  %s\n", b.StateRoot.Hex())
	fmt.Fprintf(w, "tx root:     %s\n", b.TxRoot.Hex())
	fmt.Fprintf(w, "result root: %s\n", b.ResultRoot.Hex())
	s := b.Seal
	if s.JobID == (common.Hash{}) {
		fmt.Fprintf(w, "seal:        synthetic puzzle, nonce %d, tile (%d,%d), digest %s\n", s.Nonce, s.TileI, s.TileJ, s.TileDigest.Hex())
	} else {
		fmt.Fprintf(w, "seal:        job %s op %d step %d, nonce %d, tile (%d,%d), digest %s\n", s.JobID.Hex(), s.Op, s.Step, s.Nonce, s.TileI, s.TileJ, s.TileDigest.Hex())
	}
	fmt.Fprintf(w, "txs:         %d\n", len(b.Txs))
	for _, tx := range b.Txs {
		switch tx.Kind {
		case "job":
			fmt.Fprintf(w, "  %s job from %s, fee %s QRN, expiry %d\n", tx.Hash.Hex(), tx.From.Hex(), weiString(tx.Fee), tx.Expiry)
		default:
			fmt.Fprintf(w, "  %s %s %s -> %s, %s QRN, fee %s QRN\n", tx.Hash.Hex(), tx.Kind, tx.From.Hex(), tx.To.Hex(), weiString(tx.Value), weiString(tx.Fee))
		}
	}
	fmt.Fprintf(w, "results:     %d\n", len(b.Results))
	for _, r := range b.Results {
		if r.Rows == 0 && r.Cols == 0 {
			fmt.Fprintf(w, "  job %s training segment, hash %s\n", r.JobID.Hex(), r.Hash.Hex())
		} else {
			fmt.Fprintf(w, "  job %s %d×%d int32, hash %s\n", r.JobID.Hex(), r.Rows, r.Cols, r.Hash.Hex())
		}
	}
	return nil
}

// --- job list ----------------------------------------------------------------

var jobListCommand = &cli.Command{
	Name:      "list",
	Usage:     "list the node's jobs, newest first, with status and progress",
	ArgsUsage: " ",
	Flags: []cli.Flag{rpcFlag, jsonFlag,
		&cli.IntFlag{Name: "limit", Usage: "jobs per page (at most 100)", Value: 20},
		&cli.Uint64Flag{Name: "before", Usage: "list jobs of blocks below `BLOCK` (the next page: printed at the end of the last one)"},
		&cli.StringFlag{Name: "status", Usage: "only jobs in `STATUS`: submitted, pending, done or expired"},
		&cli.StringFlag{Name: "owner", Usage: "only jobs sent by `ADDRESS`"},
	},
	Action: jobList,
}

func jobList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	args := node.RPCListJobsArgs{Limit: c.Int("limit"), Status: c.String("status")}
	if c.IsSet("before") {
		b := c.Uint64("before")
		args.Before = &b
	}
	if s := c.String("owner"); s != "" {
		a, err := parseAddress(s)
		if err != nil {
			return about(err, "--owner")
		}
		args.Owner = &a
	}
	nc, err := dial(c)
	if err != nil {
		return err
	}
	defer nc.Close()
	list, err := node.Quern.ListJobs.Call(c.Context, nc, &args)
	if err != nil {
		return about(err, "job list")
	}
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, list)
	}
	w := c.App.Writer
	for _, j := range list.Jobs {
		progress := fmt.Sprintf("%d MACs", j.Work)
		if j.Kind == "train" {
			progress = stepsString(j.StepsDone, j.Steps)
		} else if j.Rows != 0 || j.Cols != 0 {
			progress = fmt.Sprintf("%d×%d, %d MACs", j.Rows, j.Cols, j.Work)
		}
		fmt.Fprintf(w, "%s  %-9s  %-6s  fee %s QRN  %s\n", j.ID.Hex(), j.Status, j.Kind, weiString(j.Fee), progress)
	}
	if len(list.Jobs) == 0 {
		fmt.Fprintln(c.App.ErrWriter, "no jobs")
	}
	if list.Next != nil {
		fmt.Fprintf(c.App.ErrWriter, "more: quern job list --before %d\n", *list.Next)
	}
	return nil
}

// --- wallet list | import | export ----------------------------------------

var walletListCommand = &cli.Command{
	Name:      "list",
	Usage:     "list the accounts of a keystore (address and key file)",
	ArgsUsage: " ",
	Flags:     []cli.Flag{keystoreFlag, jsonFlag},
	Action:    walletList,
}

var walletImportCommand = &cli.Command{
	Name:      "import",
	Usage:     "import a raw hex private key or a key file into a keystore and print its address",
	ArgsUsage: "FILE",
	Description: `FILE holds a private key as 64 hex digits (0x optional), or is a key file
(go-ethereum's encrypted JSON): the key file keeps its password (--password-file
gives it), a raw key is encrypted with the password given.`,
	Flags:  []cli.Flag{keystoreFlag, passwordFileFlag, lightKDFFlag},
	Action: walletImport,
}

var walletExportCommand = &cli.Command{
	Name:      "export",
	Usage:     "write an account's encrypted key file (to --out, or stdout)",
	ArgsUsage: "ADDRESS",
	Flags:     []cli.Flag{keystoreFlag, &cli.StringFlag{Name: "out", Usage: "write the key file to `FILE` (0600) instead of stdout"}},
	Action:    walletExport,
}

// keystoreAccount is one key file of a keystore.
type keystoreAccount struct {
	Address common.Address `json:"address"`
	File    string         `json:"file"`
}

// keystoreAccounts reads the key files of dir (sorted by file name, that is
// by creation time); a missing dir holds none.
func keystoreAccounts(dir string) ([]keystoreAccount, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keystore %s: %w", dir, err)
	}
	var out []keystoreAccount
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var kf struct {
			Address string `json:"address"`
		}
		if json.Unmarshal(raw, &kf) != nil || !common.IsHexAddress(kf.Address) {
			continue // not a key file
		}
		out = append(out, keystoreAccount{Address: common.HexToAddress(kf.Address), File: path})
	}
	return out, nil
}

func walletList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	dir := c.String(keystoreFlag.Name)
	accts, err := keystoreAccounts(dir)
	if err != nil {
		return err
	}
	if c.Bool(jsonFlag.Name) {
		if accts == nil {
			accts = []keystoreAccount{}
		}
		return printJSON(c, struct {
			Keystore string            `json:"keystore"`
			Accounts []keystoreAccount `json:"accounts"`
		}{dir, accts})
	}
	for _, a := range accts {
		fmt.Fprintf(c.App.Writer, "%s %s\n", a.Address.Hex(), a.File)
	}
	if len(accts) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "no keys in %s\n", dir)
	}
	return nil
}

func walletImport(c *cli.Context) error {
	path, err := oneArg(c, "FILE")
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("key to import: %w", err)
	}
	dir := c.String(keystoreFlag.Name)
	n, p := keystore.StandardScryptN, keystore.StandardScryptP
	if c.Bool(lightKDFFlag.Name) {
		n, p = keystore.LightScryptN, keystore.LightScryptP
	}
	ks := keystore.NewKeyStore(dir, n, p)
	var acct accounts.Account
	text := strings.TrimSpace(string(raw))
	if strings.HasPrefix(text, "{") {
		pw, err := password(c, "Password of the key file: ", false)
		if err != nil {
			return err
		}
		if acct, err = ks.Import(raw, pw, pw); err != nil {
			return fmt.Errorf("importing key file %s: %v", path, err)
		}
	} else {
		key, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimPrefix(text, "0x"), "0X"))
		if err != nil {
			return fmt.Errorf("%s: not a key file nor a hex private key (64 hex digits): %v", path, err)
		}
		pw, err := password(c, "Password for the imported key: ", true)
		if err != nil {
			return err
		}
		if acct, err = ks.ImportECDSA(key, pw); err != nil {
			return fmt.Errorf("importing %s into %s: %v", path, dir, err)
		}
	}
	fmt.Fprintln(c.App.Writer, acct.Address.Hex())
	fmt.Fprintf(c.App.ErrWriter, "key saved to %s\n", acct.URL.Path)
	return nil
}

func walletExport(c *cli.Context) error {
	arg, err := oneArg(c, "ADDRESS")
	if err != nil {
		return err
	}
	addr, err := parseAddress(arg)
	if err != nil {
		return err
	}
	dir := c.String(keystoreFlag.Name)
	accts, err := keystoreAccounts(dir)
	if err != nil {
		return err
	}
	for _, a := range accts {
		if a.Address != addr {
			continue
		}
		raw, err := os.ReadFile(a.File)
		if err != nil {
			return err
		}
		out := c.String("out")
		if out == "" {
			_, err = c.App.Writer.Write(append(raw, '\n'))
			return err
		}
		if err := os.WriteFile(out, raw, 0o600); err != nil {
			return fmt.Errorf("writing the key file: %w", err)
		}
		fmt.Fprintf(c.App.ErrWriter, "key file of %s written to %s (encrypted with its keystore password)\n", addr.Hex(), out)
		return nil
	}
	return fmt.Errorf("no key for %s in %s", addr.Hex(), dir)
}

// --- usage errors ----------------------------------------------------------

// usageError turns urfave's usage error into one line with a suggestion:
// "flag provided but not defined: -rcp" → "unknown flag --rcp (did you mean --rpc?)".
func usageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	const undefined = "flag provided but not defined: "
	if i := strings.Index(msg, undefined); i >= 0 {
		name := strings.TrimLeft(msg[i+len(undefined):], "-")
		var flags []cli.Flag
		if c.Command != nil && c.Command.Name != "" {
			flags = c.Command.Flags
		} else {
			flags = c.App.Flags
		}
		msg = "unknown flag --" + name
		if cli.SuggestFlag != nil {
			if s := cli.SuggestFlag(flags, name, false); s != "" && s != "--help" && s != "-h" {
				msg += " (did you mean " + s + "?)"
			}
		}
	}
	return fmt.Errorf("%s; see %s --help", msg, helpName(c))
}

func helpName(c *cli.Context) string {
	if c.Command != nil && c.Command.HelpName != "" {
		return c.Command.HelpName
	}
	return c.App.Name
}

// unknownCommand is the action of a command that only groups others: with
// no argument it shows its help, else it says the subcommand is unknown.
func unknownCommand(subs func() []*cli.Command, name string) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() == 0 {
			if c.Command == nil || c.Command.Name == "" || c.Command.Name == c.App.Name {
				return cli.ShowAppHelp(c)
			}
			return cli.ShowSubcommandHelp(c)
		}
		arg := c.Args().First()
		msg := fmt.Sprintf("unknown command %q for %s", arg, name)
		if s := suggestCommand(subs(), arg); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return fmt.Errorf("%s; see %s --help", msg, name)
	}
}

// suggestCommand is the closest command name to arg, or "".
func suggestCommand(cmds []*cli.Command, arg string) string {
	if cli.SuggestCommand == nil || len(cmds) == 0 {
		return ""
	}
	var named []*cli.Command
	for _, c := range cmds {
		if c.Name != "help" && !c.Hidden {
			named = append(named, c)
		}
	}
	s := cli.SuggestCommand(named, arg) // "Did you mean \"x\"?"
	if i, j := strings.Index(s, `"`), strings.LastIndex(s, `"`); i >= 0 && j > i {
		s = s[i+1 : j]
	}
	if s == "help" || s == "h" {
		return ""
	}
	return s
}

// installUsageHandlers gives every command the one-line usage errors and
// every group of commands the unknown-command action.
func installUsageHandlers(app *cli.App) {
	app.OnUsageError = usageError
	app.Action = unknownCommand(func() []*cli.Command { return app.Commands }, app.Name)
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			cmd.OnUsageError = usageError
			if len(cmd.Subcommands) > 0 && cmd.Action == nil {
				cmd := cmd
				cmd.Action = unknownCommand(func() []*cli.Command { return cmd.Subcommands }, prefix+" "+cmd.Name)
			}
			walk(prefix+" "+cmd.Name, cmd.Subcommands)
		}
	}
	walk(app.Name, app.Commands)
}

// --- shell completion ------------------------------------------------------

const bashCompletion = `# quern bash completion: source <(quern completion bash)
_quern_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$( "${COMP_WORDS[@]:0:$COMP_CWORD}" "${cur}" --generate-bash-completion 2>/dev/null )
  else
    opts=$( "${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null )
  fi
  COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
  return 0
}
complete -o bashdefault -o default -F _quern_complete quern
`

const zshCompletion = `#compdef quern
# quern zsh completion: source <(quern completion zsh)
_quern() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _quern quern
`

var completionCommand = &cli.Command{
	Name:      "completion",
	Usage:     "print a shell completion script (bash or zsh): source <(quern completion bash)",
	ArgsUsage: "bash|zsh",
	Action: func(c *cli.Context) error {
		sh, err := oneArg(c, "bash|zsh")
		if err != nil {
			return err
		}
		switch sh {
		case "bash":
			fmt.Fprint(c.App.Writer, bashCompletion)
		case "zsh":
			fmt.Fprint(c.App.Writer, zshCompletion)
		default:
			return fmt.Errorf("unknown shell %q: want bash or zsh", sh)
		}
		return nil
	},
}
