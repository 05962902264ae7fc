package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/node"
)

// configFrom runs the flags of `quern node` over args and returns the
// configuration they make (defaults < --config < flags).
func configFrom(t *testing.T, args ...string) (node.Config, error) {
	t.Helper()
	var got node.Config
	app := &cli.App{Commands: []*cli.Command{{
		Name: "node", Flags: nodeCommand.Flags,
		Action: func(c *cli.Context) (err error) { got, err = nodeConfig(c); return err },
	}}}
	err := app.Run(append([]string{"quern", "node"}, args...))
	return got, err
}

// Every declared setting goes the whole way: its flag sets its Config field
// to its example (not the default), dumpconfig writes it under its key, and
// the file read back sets the same value.
func TestSettingsRoundTrip(t *testing.T) {
	def := node.DefaultConfig()
	dir := t.TempDir()
	for _, s := range node.Settings {
		t.Run(s.Flag, func(t *testing.T) {
			flag := "--" + s.Flag + "=" + s.Example
			cfg, err := configFrom(t, flag)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Get(&cfg)
			if reflect.DeepEqual(got, s.Get(&def)) {
				t.Fatalf("%s left the default %v", flag, got)
			}
			args := []string{"quern", "dumpconfig", "--dev", flag}
			if s.Flag == "dev" || s.Flag == "genesis" { // each picks the network itself
				args = []string{"quern", "dumpconfig", flag}
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("dumpconfig %s: %s", flag, stderr.String())
			}
			table, key, dotted := strings.Cut(s.Key, ".")
			if dotted && !strings.Contains(stdout.String(), "\n["+table+"]\n") {
				t.Fatalf("dumpconfig %s lacks the table [%s]:\n%s", flag, table, stdout.String())
			}
			if !dotted {
				key = table
			}
			if !strings.Contains(stdout.String(), key+" = ") {
				t.Fatalf("dumpconfig %s lacks the key %s:\n%s", flag, s.Key, stdout.String())
			}
			file := filepath.Join(dir, s.Flag+".toml")
			if err := os.WriteFile(file, stdout.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			fromFile := node.DefaultConfig()
			if err := node.ApplyConfigFile(file, &fromFile); err != nil {
				t.Fatal(err)
			}
			if back := s.Get(&fromFile); !reflect.DeepEqual(back, got) {
				t.Fatalf("%s: the file reads back %v, the flag set %v", s.Key, back, got)
			}
			// The file alone, through --config, as a user runs it.
			cfg, err = configFrom(t, "--config", file)
			if err != nil {
				t.Fatal(err)
			}
			if back := s.Get(&cfg); !reflect.DeepEqual(back, got) {
				t.Fatalf("--config: %s reads back %v, the flag set %v", s.Key, back, got)
			}
		})
	}
}

// The settings of issue 11: defaults, and the values refused.
func TestStateAndSyncSettings(t *testing.T) {
	cfg, err := configFrom(t)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GCMode != node.GCModeFull || cfg.StateRetention != 256 || cfg.SyncMode != node.SyncModeFull {
		t.Fatalf("defaults: gcmode %q, state.retention %d, sync.mode %q", cfg.GCMode, cfg.StateRetention, cfg.SyncMode)
	}
	cfg, err = configFrom(t, "--gcmode", "archive", "--state.retention", "16", "--sync.mode", "snap")
	if err != nil || cfg.GCMode != "archive" || cfg.StateRetention != 16 || cfg.SyncMode != "snap" {
		t.Fatalf("set: %+v, %v", cfg, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--gcmode", "fast"}, `unknown --gcmode "fast": use full or archive`},
		{[]string{"--state.retention", "15"}, "--state.retention 15 is below the minimum of 16 blocks"},
		{[]string{"--sync.mode", "light"}, `unknown --sync.mode "light": use full or snap`},
		{[]string{"--state.retention", "-1"}, "invalid value"},
	} {
		_, stderr, code := quern(t, append([]string{"dumpconfig", "--dev"}, tc.args...)...)
		wantError(t, stderr, code, tc.want)
	}
	file := filepath.Join(t.TempDir(), "q.toml")
	os.WriteFile(file, []byte("gcmode = \"archive\"\n[state]\nretention = 4\n"), 0o644)
	_, stderr, code := quern(t, "dumpconfig", "--dev", "--config", file)
	wantError(t, stderr, code, "--state.retention 4 is below the minimum")
}
