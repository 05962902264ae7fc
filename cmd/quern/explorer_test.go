package main

// The explorer page (node/explorer) in a real browser: headless Chromium
// driven by playwright-core loads it from a --dev --mine node that has
// finished a matmul job, and the page must show a mined block and the job.
// Needs node, npm and /usr/bin/chromium; without them, or without the
// network for `npm ci`, the test skips and says why.

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/node"
)

// explorerDir holds package.json, package-lock.json (playwright-core pinned)
// and the script; node_modules is installed there by `npm ci`.
const (
	explorerDir = "testdata/explorer"
	chromiumBin = "/usr/bin/chromium"
)

// ensurePlaywright installs the locked npm dependencies if they are
// missing, and skips the test when node, npm, the registry or Chromium is
// not available.
func ensurePlaywright(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("explorer browser test skipped: %s not found on PATH (install Node.js 20 and npm)", tool)
		}
	}
	if _, err := os.Stat(chromiumBin); err != nil {
		t.Skipf("explorer browser test skipped: no %s (apt-get install chromium)", chromiumBin)
	}
	if _, err := os.Stat(filepath.Join(explorerDir, "node_modules", "playwright-core", "package.json")); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--prefix", explorerDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Skipf("explorer browser test skipped: `npm ci --prefix %s` failed (no network to the npm registry?): %v\n%s", explorerDir, err, out.String())
	}
}

func TestExplorerBrowser(t *testing.T) {
	if e2eSkip != "" {
		t.Skip("end-to-end tests skipped with " + e2eSkip)
	}
	ensurePlaywright(t)
	dir := t.TempDir()
	datadir := filepath.Join(dir, "n")
	n := startNode(t, "miner", "--dev", "--mine", "--datadir", datadir, "--rpc.addr", "127.0.0.1:0",
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0")
	// QUERN_UPDATE_SCREENSHOT=1 writes docs/explorer.png, after a longer
	// run so that the charts show a chain past its first blocks' ramp.
	update := os.Getenv("QUERN_UPDATE_SCREENSHOT") == "1"
	if update {
		n.waitHeight(45, 5*time.Minute)
	} else {
		n.waitHeight(2, 90*time.Second)
	}

	// A small matmul job from the dev account, waited for.
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o600)
	r := rand.New(rand.NewSource(7))
	aPath, bPath := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.npy")
	writeInt8NPY(t, aPath, randI8(r, 128, 256))
	writeInt8NPY(t, bPath, randI8(r, 256, 64))
	out := runQuern(t, "job", "submit", "matmul", "--rpc", n.rpc, "--keystore", filepath.Join(datadir, "keystore"),
		"--password-file", empty, "--from", chain.DevAddress().Hex(), "--a", aPath, "--b", bPath, "--fee", "1", "--wait")
	jobID := strings.Fields(out)[0]
	var job node.RPCJob
	n.call(&job, "quern_getJob", jobID)
	if job.Status != "done" || job.DoneBlock == 0 {
		t.Fatalf("job after --wait: %+v", job)
	}
	n.waitHeight(job.DoneBlock+1, 60*time.Second) // a block after it: the charts have intervals

	shot := filepath.Join(dir, "explorer.png")
	if update {
		shot, _ = filepath.Abs(filepath.Join("..", "..", "docs", "explorer.png"))
	}
	before := n.height()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(explorerDir, "explore.mjs"))
	cmd.Env = append(os.Environ(), "QUERN_URL="+n.rpc, "QUERN_JOB="+job.ID.Hex(),
		"QUERN_BLOCK="+strconv.FormatUint(job.DoneBlock, 10), "QUERN_SHOT="+shot)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node explore.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var res struct {
		Errors                              []string
		Landed, Head, JobRow, Stats, Miners string
		BlockRows                           []string
		Bars                                int
		BlockPage, TxPage, JobPage          string
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &res); err != nil {
		t.Fatalf("explore.mjs printed %q: %v", stdout.String(), err)
	}
	t.Logf("explorer page: %+v", res)

	if len(res.Errors) > 0 {
		t.Errorf("the page logged errors: %q", res.Errors)
	}
	if res.Landed != "/explorer/" {
		t.Errorf("GET / in a browser landed on %q, want /explorer/", res.Landed)
	}
	shortID := job.ID.Hex()[:10]
	if !strings.Contains(res.JobRow, shortID) || !strings.Contains(res.JobRow, "done") || !strings.Contains(res.JobRow, "matmul") {
		t.Errorf("jobs table row of %s: %q, want its id, matmul, done", job.ID.Hex(), res.JobRow)
	}
	if !strings.Contains(res.Head, "#") || !strings.Contains(res.Head, "MAC") || len(res.BlockRows) == 0 {
		t.Errorf("head %q, %d block rows", res.Head, len(res.BlockRows))
	}
	// Mined blocks appear as the node has them: the newest first, with
	// their miner and work kind.
	for i, row := range res.BlockRows {
		num, err := strconv.ParseUint(strings.TrimPrefix(strings.Fields(row)[0], "#"), 10, 64)
		if err != nil || (i == 0 && num < before) {
			t.Errorf("recent blocks' row %d is %q, want a block from #%d up", i, row, before)
			continue
		}
		b := n.block(num)
		kind := "synthetic"
		if b.Seal.JobID != (common.Hash{}) {
			kind = "job"
		}
		if !strings.Contains(row, b.Coinbase.Hex()[:10]) || !strings.Contains(row, kind) {
			t.Errorf("recent blocks' row %q, want miner %s and work %s", row, b.Coinbase.Hex(), kind)
		}
	}
	blk := n.block(job.DoneBlock)
	if !strings.Contains(res.Stats, "GMAC/s") || !strings.Contains(res.Stats, "useful work") || res.Bars == 0 {
		t.Errorf("network stats %q, %d block-time bars", res.Stats, res.Bars)
	}
	if !strings.Contains(strings.ToLower(res.Miners), strings.ToLower(chain.DevAddress().Hex()[:10])) || !strings.Contains(res.Miners, "QRN") {
		t.Errorf("miners table %q lacks the dev coinbase and its rewards", res.Miners)
	}
	for name, page := range map[string]string{"block": res.BlockPage, "tx": res.TxPage, "job": res.JobPage} {
		if !strings.Contains(strings.ToLower(page), strings.ToLower(job.ID.Hex())) {
			t.Errorf("%s page lacks the job id %s:\n%s", name, job.ID.Hex(), page)
		}
	}
	if !strings.Contains(res.BlockPage, "Block #"+strconv.FormatUint(job.DoneBlock, 10)) || !strings.Contains(res.BlockPage, blk.Hash.Hex()) {
		t.Errorf("block page of #%d lacks its number or hash %s:\n%s", job.DoneBlock, blk.Hash.Hex(), res.BlockPage)
	}
	if !strings.Contains(res.TxPage, "mined") || !strings.Contains(res.TxPage, "job") {
		t.Errorf("tx page: %q, want mined, kind job", res.TxPage)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Errorf("screenshot %s: %v", shot, err)
	} else if update {
		t.Logf("wrote %s (%d bytes)", shot, st.Size())
	}
}

// TestExplorerFlag: --http.explorer sets the setting, its absence leaves it
// to --dev (node.Config.HTTPExplorer nil), and it overrides the file.
func TestExplorerFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "quern.toml")
	os.WriteFile(file, []byte("[http]\nexplorer = true\n"), 0o644)
	var got node.Config
	app := &cli.App{Commands: []*cli.Command{{
		Name: "node", Flags: nodeCommand.Flags,
		Action: func(c *cli.Context) (err error) { got, err = nodeConfig(c); return err },
	}}}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dev"}, "nil"},
		{[]string{"--dev", "--http.explorer=false"}, "false"},
		{[]string{"--http.explorer"}, "true"},
		{[]string{"--config", file}, "true"},
		{[]string{"--config", file, "--http.explorer=false"}, "false"},
	} {
		if err := app.Run(append([]string{"quern", "node"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		v := "nil"
		if got.HTTPExplorer != nil {
			v = strconv.FormatBool(*got.HTTPExplorer)
		}
		if v != tc.want {
			t.Errorf("quern node %s: explorer %s, want %s", strings.Join(tc.args, " "), v, tc.want)
		}
	}
}
