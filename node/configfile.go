package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// fileConfig is the TOML layout of --config: the flags' names, with the
// dotted ones as tables ([miner] address = --miner.address). Pointers tell
// "absent" from "zero", so a file overrides only what it names.
type fileConfig struct {
	DataDir *string `toml:"datadir"`
	Dev     *bool   `toml:"dev"`
	Genesis *string `toml:"genesis"`
	Mine    *bool   `toml:"mine"`
	Compute *string `toml:"compute"`
	Miner   struct {
		Address *string `toml:"address"`
	} `toml:"miner"`
	RPC struct {
		Addr       *string  `toml:"addr"`
		VHosts     []string `toml:"vhosts"`
		CorsDomain []string `toml:"corsdomain"`
	} `toml:"rpc"`
	HTTP struct {
		Explorer *bool `toml:"explorer"`
	} `toml:"http"`
	P2P struct {
		Listen    []string `toml:"listen"`
		Bootnodes []string `toml:"bootnodes"`
		MDNS      *bool    `toml:"mdns"`
	} `toml:"p2p"`
	Log struct {
		Level *string `toml:"level"`
	} `toml:"log"`
}

// ApplyConfigFile overlays the TOML file at path on cfg (defaults < file <
// flags: the caller applies flags afterwards). Unknown keys are errors, so a
// typo never silently falls back to a default.
func ApplyConfigFile(path string, cfg *Config) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var f fileConfig
	md, err := toml.Decode(string(raw), &f)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("config file %s: %s", path, perr.Message)
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return fmt.Errorf("config file %s: unknown key(s) %s", path, strings.Join(keys, ", "))
	}
	// toml matches keys to fields regardless of case; we do not, so that
	// "Mine" and "mine" can never both set one setting.
	var miscased []string
	for _, k := range md.Keys() {
		if !fileKeys[k.String()] {
			miscased = append(miscased, k.String())
		}
	}
	if len(miscased) > 0 {
		return fmt.Errorf("config file %s: unknown key(s) %s (keys are the flag names, in lower case)", path, strings.Join(miscased, ", "))
	}
	set(&cfg.DataDir, f.DataDir)
	set(&cfg.Dev, f.Dev)
	set(&cfg.GenesisFile, f.Genesis)
	set(&cfg.Mine, f.Mine)
	set(&cfg.Compute, f.Compute)
	set(&cfg.MinerAddress, f.Miner.Address)
	set(&cfg.RPCAddr, f.RPC.Addr)
	set(&cfg.MDNS, f.P2P.MDNS)
	set(&cfg.LogLevel, f.Log.Level)
	if f.HTTP.Explorer != nil {
		on := *f.HTTP.Explorer
		cfg.HTTPExplorer = &on
	}
	if f.P2P.Listen != nil {
		cfg.P2PListen = f.P2P.Listen
	}
	if f.P2P.Bootnodes != nil {
		cfg.Bootnodes = f.P2P.Bootnodes
	}
	if f.RPC.VHosts != nil {
		cfg.RPCVHosts = f.RPC.VHosts
	}
	if f.RPC.CorsDomain != nil {
		cfg.RPCCorsDomains = f.RPC.CorsDomain
	}
	return nil
}

// fileKeys is every key and table a config file may name, spelled exactly
// as fileConfig's tags spell them.
var fileKeys = func() map[string]bool {
	keys := map[string]bool{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			keys[prefix+name] = true
			if f.Type.Kind() == reflect.Struct {
				walk(prefix+name+".", f.Type)
			}
		}
	}
	walk("", reflect.TypeOf(fileConfig{}))
	return keys
}()

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// WriteConfigFile writes cfg as the TOML that ApplyConfigFile reads (every
// setting a file can hold, so that the file alone reproduces cfg).
func WriteConfigFile(w io.Writer, cfg Config) error {
	var f fileConfig
	f.DataDir, f.Dev, f.Mine, f.Compute = &cfg.DataDir, &cfg.Dev, &cfg.Mine, &cfg.Compute
	if cfg.GenesisFile != "" {
		f.Genesis = &cfg.GenesisFile
	}
	if cfg.MinerAddress != "" {
		f.Miner.Address = &cfg.MinerAddress
	}
	f.RPC.Addr = &cfg.RPCAddr
	f.RPC.VHosts = orEmpty(cfg.RPCVHosts)
	f.RPC.CorsDomain = orEmpty(cfg.RPCCorsDomains)
	f.HTTP.Explorer = cfg.HTTPExplorer // nil (not yet resolved): left out, the default applies
	f.P2P.Listen = orEmpty(cfg.P2PListen)
	f.P2P.Bootnodes = orEmpty(cfg.Bootnodes)
	f.P2P.MDNS = &cfg.MDNS
	f.Log.Level = &cfg.LogLevel
	return toml.NewEncoder(w).Encode(f)
}

// orEmpty makes a nil list an empty one, which TOML writes as [] (a nil one
// it leaves out, and the reader would keep the default).
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
