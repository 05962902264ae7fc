package node

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "quern.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplyConfigFile(t *testing.T) {
	cfg := DefaultConfig()
	p := writeConfig(t, `
datadir = "/srv/quern"
mine = true
compute = "cpu"
[miner]
address = "0x3eaa0eb0eF2725AB5962BcddE5D5D5e6f08ba901"
[p2p]
listen = ["/ip4/127.0.0.1/tcp/4001"]
bootnodes = ["/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWDR2oHMLSBRqf65FpnomyQXzDVeN2nSZM3NfHRcAhDoUk"]
[log]
level = "debug"
`)
	if err := ApplyConfigFile(p, &cfg); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.DataDir, want.Mine, want.Compute, want.LogLevel = "/srv/quern", true, "cpu", "debug"
	want.MinerAddress = "0x3eaa0eb0eF2725AB5962BcddE5D5D5e6f08ba901"
	want.P2PListen = []string{"/ip4/127.0.0.1/tcp/4001"}
	want.Bootnodes = []string{"/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWDR2oHMLSBRqf65FpnomyQXzDVeN2nSZM3NfHRcAhDoUk"}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
	// Keys the file does not name keep their defaults.
	if cfg.RPCAddr != DefaultRPCAddr {
		t.Fatalf("rpc.addr %q, want the default", cfg.RPCAddr)
	}
}

func TestApplyConfigFileErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"mine = true\nminer_address = \"0x1\"\n", "unknown key(s) miner_address"},
		{"[rpc]\naddress = \"x\"\n", "unknown key(s) rpc.address"},
		{"mine = \"yes\"\n", "config file"},
		{"datadir = \n", "config file"},
	} {
		cfg := DefaultConfig()
		err := ApplyConfigFile(writeConfig(t, tc.body), &cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.body, err, tc.want)
		}
	}
	cfg := DefaultConfig()
	if err := ApplyConfigFile("/nonexistent/quern.toml", &cfg); err == nil {
		t.Error("missing file accepted")
	}
}

// The state and sync settings (issue 11) read from the file, and are checked.
func TestConfigFileStateSettings(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.GCMode != GCModeFull || cfg.StateRetention != DefaultStateRetention || cfg.SyncMode != SyncModeFull {
		t.Fatalf("defaults: %q %d %q", cfg.GCMode, cfg.StateRetention, cfg.SyncMode)
	}
	if err := ApplyConfigFile(writeConfig(t, "gcmode = \"archive\"\n[state]\nretention = 512\n[sync]\nmode = \"snap\"\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.GCMode != GCModeArchive || cfg.StateRetention != 512 || cfg.SyncMode != SyncModeSnap {
		t.Fatalf("from the file: %q %d %q", cfg.GCMode, cfg.StateRetention, cfg.SyncMode)
	}
	for body, want := range map[string]string{
		"[state]\nretention = -1\n": "config file",
		"[sync]\nmode = 1\n":        "config file",
		"[state]\nretention = 15\n": "--state.retention 15 is below the minimum of 16 blocks",
		"gcmode = \"light\"\n":      `unknown --gcmode "light": use full or archive`,
		"[sync]\nmode = \"fast\"\n": `unknown --sync.mode "fast": use full or snap`,
	} {
		cfg := DefaultConfig()
		cfg.Dev = true
		err := ApplyConfigFile(writeConfig(t, body), &cfg)
		if err == nil {
			_, err = cfg.Effective()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
