package node

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain"
)

// Values of --gcmode and --sync.mode, and the bounds of --state.retention.
const (
	GCModeFull    = "full"    // keep the state of the last StateRetention blocks
	GCModeArchive = "archive" // keep every block's state

	DefaultStateRetention = chain.DefaultStateRetention
	MinStateRetention     = chain.MinStateRetention           // a reorg deeper than this cannot be undone from kept state
	DefaultTrieCacheMiB   = chain.DefaultNodeCacheBytes >> 20 // --cache.trie's default

	SyncModeFull = "full" // replay every block from genesis
	SyncModeSnap = "snap" // fetch a recent state from peers, then replay from it
)

// Settings is every node setting, declared once. Everything else follows
// from an entry here: the `quern node` flag (cmd/quern), the --config TOML
// key (ApplyConfigFile), the line `quern dumpconfig` writes
// (WriteConfigFile), the default (DefaultConfig) and the check (Config.check).
// To add a setting, add its Config field and one entry here; the order is
// the order of --help and of the file (top-level keys first, then tables in
// order of first use).
var Settings = []Setting{
	{Flag: "datadir", Key: "datadir", Example: "/srv/quern",
		Usage: "data directory: chain database, keystore, p2p identity",
		value: field[string]{ptr: func(c *Config) *string { return &c.DataDir }, def: DefaultDataDir()}},
	{Flag: "dev", Key: "dev", Example: "true",
		Usage: "run the devnet: embedded dev genesis, the public dev key imported into the keystore (INSECURE)",
		value: field[bool]{ptr: func(c *Config) *bool { return &c.Dev }}},
	{Flag: "genesis", Key: "genesis", Example: "genesis.json", OmitZero: true,
		Usage: "genesis JSON `FILE` of the network to join",
		value: field[string]{ptr: func(c *Config) *string { return &c.GenesisFile }}},
	{Flag: "mine", Key: "mine", Example: "true",
		Usage: "mine blocks (compute paid jobs, then synthetic puzzles)",
		value: field[bool]{ptr: func(c *Config) *bool { return &c.Mine }}},
	{Flag: "miner.address", Key: "miner.address", Example: "0x3eaa0eb0eF2725AB5962BcddE5D5D5e6f08ba901", OmitZero: true,
		Usage: "coinbase `ADDR` that receives block rewards (with --dev defaults to the dev address)",
		value: field[string]{ptr: func(c *Config) *string { return &c.MinerAddress }, valid: checkMinerAddress}},
	{Flag: "rpc.addr", Key: "rpc.addr", Example: "127.0.0.1:9545",
		Usage: "JSON-RPC HTTP listen `HOST:PORT` (port 0 picks a free one)",
		value: field[string]{ptr: func(c *Config) *string { return &c.RPCAddr }, def: DefaultRPCAddr}},
	{Flag: "rpc.vhosts", Key: "rpc.vhosts", Example: "node.example.org,localhost",
		Usage: "host names the RPC accepts in a request's Host header (`H1,H2`; * for any; IP addresses always pass): stops DNS rebinding",
		value: field[[]string]{ptr: func(c *Config) *[]string { return &c.RPCVHosts }, def: strings.Split(DefaultRPCVHosts, ","), valid: checkVHosts}},
	{Flag: "rpc.corsdomain", Key: "rpc.corsdomain", Example: "https://app.example.org",
		Usage: "web origins allowed to call the RPC from a browser (`O1,O2`, e.g. https://app.example.org; * for any; none by default)",
		value: field[[]string]{ptr: func(c *Config) *[]string { return &c.RPCCorsDomains }, valid: checkCorsDomains}},
	{Flag: "http.explorer", Key: "http.explorer", Example: "false", DefaultText: "on with --dev, off otherwise",
		Usage: "serve the block explorer page at /explorer/ on the RPC server (--http.explorer=false turns it off)",
		value: field[*bool]{ptr: func(c *Config) **bool { return &c.HTTPExplorer }}},
	{Flag: "p2p.listen", Key: "p2p.listen", Example: "/ip4/127.0.0.1/tcp/4001",
		Usage: "libp2p listen `MULTIADDR` (repeatable or comma-separated; default " + DefaultP2PListen +
			", with --dev " + DevP2PListen + "; a port in use is an error, /tcp/0 picks a free one)",
		value: field[[]string]{ptr: func(c *Config) *[]string { return &c.P2PListen }}},
	{Flag: "bootnodes", Key: "p2p.bootnodes", Example: "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWDR2oHMLSBRqf65FpnomyQXzDVeN2nSZM3NfHRcAhDoUk",
		Usage: "peers to bootstrap from: full multiaddrs with /p2p/<id> (`M1,M2`)",
		value: field[[]string]{ptr: func(c *Config) *[]string { return &c.Bootnodes }}},
	{Flag: "mdns", Key: "p2p.mdns", Example: "true",
		Usage: "discover peers on the local network with mDNS",
		value: field[bool]{ptr: func(c *Config) *bool { return &c.MDNS }}},
	{Flag: "compute", Key: "compute", Example: "cpu",
		Usage: "compute backend: auto (GPU when usable, else CPU), cpu, or cuda (GPU; falls back to the CPU with a warning)",
		value: field[string]{ptr: func(c *Config) *string { return &c.Compute }, def: DefaultCompute, valid: checkComputeMode}},
	{Flag: "log.level", Key: "log.level", Example: "debug",
		Usage: "log level: debug, info, warn or error",
		value: field[string]{ptr: func(c *Config) *string { return &c.LogLevel }, def: DefaultLogLevel, valid: checkLogLevel}},
	{Flag: "gcmode", Key: "gcmode", Example: GCModeArchive,
		Usage: "state kept: full (the state of the last --state.retention blocks) or archive (every block's state)",
		value: field[string]{ptr: func(c *Config) *string { return &c.GCMode }, def: GCModeFull,
			valid: oneOf("--gcmode", GCModeFull, GCModeArchive)}},
	{Flag: "state.retention", Key: "state.retention", Example: "1024",
		Usage: fmt.Sprintf("`BLOCKS` of state kept behind the head with --gcmode full (at least %d)", MinStateRetention),
		value: field[uint64]{ptr: func(c *Config) *uint64 { return &c.StateRetention }, def: DefaultStateRetention, valid: checkStateRetention}},
	{Flag: "cache.trie", Key: "cache.trie", Example: "1024",
		Usage: "`MiB` of state trie nodes kept in memory (0: none); a block's trie walk reads the disk only for nodes not in it",
		value: field[uint64]{ptr: func(c *Config) *uint64 { return &c.TrieCacheMiB }, def: DefaultTrieCacheMiB, valid: checkTrieCache}},
	{Flag: "sync.mode", Key: "sync.mode", Example: SyncModeSnap,
		Usage: "how the node catches up with its peers: full (replay every block) or snap (fetch a recent state, then replay from it)",
		value: field[string]{ptr: func(c *Config) *string { return &c.SyncMode }, def: SyncModeFull,
			valid: oneOf("--sync.mode", SyncModeFull, SyncModeSnap)}},
}

// Setting is one node setting: its flag, its key in the --config file, its
// help, and the Config field it sets with that field's default and check.
type Setting struct {
	Flag string // the flag's name, without dashes
	Key  string // the TOML key; a dotted key is a table: "miner.address" is [miner] address
	// Usage is the flag's help; a `WORD` in it names the value (urfave/cli).
	Usage string
	// DefaultText stands for the default in --help when it depends on other
	// settings ("" shows the default itself).
	DefaultText string
	// Example is a valid value other than the default, as given on the
	// command line (--flag=Example): the round-trip test sets it.
	Example string
	// OmitZero leaves the key out of a written file while the field is
	// empty: there is nothing to reproduce and no default to override.
	OmitZero bool

	value settingValue
}

// Default is the setting's value in DefaultConfig: a string, bool, uint64,
// []string or *bool, the type of its Config field.
func (s Setting) Default() any {
	var cfg Config
	s.value.setDefault(&cfg)
	return s.value.get(&cfg)
}

// Get returns the setting's value in cfg (of Default's type).
func (s Setting) Get(cfg *Config) any { return s.value.get(cfg) }

// Set stores v, of Default's type, in cfg's field; it does not check it
// (Config.check does, once every layer is applied).
func (s Setting) Set(cfg *Config, v any) error { return s.value.set(cfg, v, s.Flag) }

// settingValue is a Setting's field, whatever its Go type.
type settingValue interface {
	get(cfg *Config) any
	set(cfg *Config, v any, flag string) error
	setDefault(cfg *Config)
	check(cfg *Config) error
	// fileType is the field's type in the TOML layout: a pointer, so that a
	// file that leaves the key out leaves the setting alone, or a slice.
	fileType() reflect.Type
	fromFile(cfg *Config, v reflect.Value) error
	toFile(cfg *Config, omitZero bool) reflect.Value
}

// settingType are the Go types a setting may have.
type settingType interface {
	string | bool | uint64 | []string | *bool
}

// field is a setting of type T: where it lives in Config, its default and
// its check (valid; nil: any value is).
type field[T settingType] struct {
	ptr   func(*Config) *T
	def   T
	valid func(T) error
}

func (f field[T]) get(cfg *Config) any { return *f.ptr(cfg) }

func (f field[T]) set(cfg *Config, v any, flag string) error {
	t, ok := v.(T)
	if !ok {
		return fmt.Errorf("setting --%s: got a %T, want a %T", flag, v, *new(T))
	}
	*f.ptr(cfg) = clone(t)
	return nil
}

func (f field[T]) setDefault(cfg *Config) { *f.ptr(cfg) = clone(f.def) }

func (f field[T]) check(cfg *Config) error {
	if f.valid == nil {
		return nil
	}
	return f.valid(*f.ptr(cfg))
}

// clone copies a list or an optional bool, so that two configs never share one.
func clone[T settingType](v T) T {
	switch x := any(v).(type) {
	case []string:
		if x == nil {
			return v
		}
		return any(append([]string{}, x...)).(T)
	case *bool:
		if x == nil {
			return v
		}
		b := *x
		return any(&b).(T)
	}
	return v
}

func (f field[T]) fileType() reflect.Type {
	t := reflect.TypeFor[T]()
	switch t.Kind() {
	case reflect.Slice, reflect.Pointer:
		return t
	case reflect.Uint64:
		// TOML integers are signed, and toml would wrap -1 into a uint64.
		return reflect.TypeFor[*int64]()
	}
	return reflect.PointerTo(t)
}

func (f field[T]) fromFile(cfg *Config, v reflect.Value) error {
	if v.IsNil() {
		return nil // the file does not name it
	}
	switch dst := any(f.ptr(cfg)).(type) {
	case *uint64:
		n := v.Elem().Int()
		if n < 0 {
			return fmt.Errorf("%d is negative: want a whole number, 0 or more", n)
		}
		*dst = uint64(n)
	default:
		if v.Type() == reflect.TypeFor[T]() {
			*f.ptr(cfg) = clone(v.Interface().(T))
		} else {
			*f.ptr(cfg) = v.Elem().Interface().(T)
		}
	}
	return nil
}

func (f field[T]) toFile(cfg *Config, omitZero bool) reflect.Value {
	v := *f.ptr(cfg)
	switch x := any(v).(type) {
	case []string:
		if x == nil {
			x = []string{} // TOML writes [], which reads back as empty; nil it leaves out
		}
		return reflect.ValueOf(x)
	case *bool:
		return reflect.ValueOf(x) // nil (not yet resolved): left out, the default applies
	}
	if omitZero && reflect.ValueOf(v).IsZero() {
		return reflect.Zero(f.fileType())
	}
	if n, ok := any(v).(uint64); ok {
		i := int64(min(n, math.MaxInt64)) // no TOML integer is larger
		return reflect.ValueOf(&i)
	}
	p := new(T)
	*p = v
	return reflect.ValueOf(p)
}

// oneOf checks that a setting is one of values.
func oneOf(flag string, values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("unknown %s %q: use %s", flag, v, strings.Join(values, " or "))
	}
}

func checkStateRetention(n uint64) error {
	if n < MinStateRetention {
		return fmt.Errorf("--state.retention %d is below the minimum of %d blocks: pass %d or more (or --gcmode archive to keep every state)", n, MinStateRetention, MinStateRetention)
	}
	return nil
}

// maxTrieCacheMiB bounds --cache.trie (1 TiB): a typo, not a machine.
const maxTrieCacheMiB = 1 << 20

func checkTrieCache(n uint64) error {
	if n > maxTrieCacheMiB {
		return fmt.Errorf("--cache.trie %d MiB is over the limit of %d MiB", n, maxTrieCacheMiB)
	}
	return nil
}

// trieCacheBytes is --cache.trie as chain.Options.NodeCache (0: none).
func trieCacheBytes(mib uint64) int {
	if mib == 0 {
		return -1
	}
	return int(mib << 20)
}

func checkMinerAddress(a string) error {
	if a != "" && !common.IsHexAddress(a) {
		return fmt.Errorf("--miner.address %q is not a hex address (0x followed by 40 hex digits)", a)
	}
	return nil
}

func checkVHosts(hosts []string) error {
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, "/:") {
			return fmt.Errorf("--rpc.vhosts entry %q: give a host name without scheme or port (localhost, node.example.org) or * for any", h)
		}
	}
	return nil
}

func checkCorsDomains(origins []string) error {
	for _, o := range origins {
		if o != "*" && !strings.Contains(o, "://") {
			return fmt.Errorf("--rpc.corsdomain entry %q: give a web origin with its scheme (https://app.example.org) or * for any", o)
		}
	}
	return nil
}

func checkLogLevel(s string) error {
	_, err := ParseLogLevel(s)
	return err
}
