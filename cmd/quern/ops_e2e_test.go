package main

// The operator's commands against a real node (the built binary): version,
// dumpconfig round trip, --json, chain block, job list, wallet
// list|import|export, rewards' block count, usage errors.

import (
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/node"
)

func jsonOut(t *testing.T, v any, args ...string) {
	t.Helper()
	out := runQuern(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("quern %s: not one JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestOperatorCLI(t *testing.T) {
	if e2eSkip != "" {
		t.Skip("end-to-end tests skipped with " + e2eSkip)
	}
	dir := t.TempDir()

	// version, both spellings.
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out := runQuern(t, args...)
		if !strings.HasPrefix(out, "quern ") || !strings.Contains(out, "git commit: ") ||
			!strings.Contains(out, runtime.Version()) || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) {
			t.Fatalf("quern %v printed %q", args, out)
		}
	}
	var ver struct{ Version, GitCommit, GoVersion string }
	jsonOut(t, &ver, "version", "--json")
	if ver.GoVersion != runtime.Version() || ver.GitCommit == "" {
		t.Fatalf("version --json: %+v", ver)
	}

	// dumpconfig round-trips through --config: the node runs from the file.
	datadir := filepath.Join(dir, "n1")
	toml := runQuern(t, "dumpconfig", "--dev", "--mine", "--datadir", datadir, "--rpc.addr", "127.0.0.1:0",
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0")
	for _, want := range []string{"dev = true", "mine = true", `listen = ["/ip4/127.0.0.1/tcp/0"]`, `addr = "127.0.0.1:0"`} {
		if !strings.Contains(toml, want) {
			t.Fatalf("dumpconfig lacks %q:\n%s", want, toml)
		}
	}
	cfgFile := filepath.Join(dir, "q.toml")
	os.WriteFile(cfgFile, []byte(toml), 0o644)
	if dev := runQuern(t, "dumpconfig", "--dev"); !strings.Contains(dev, `listen = ["/ip4/127.0.0.1/tcp/30333"]`) {
		t.Fatalf("--dev does not default to a loopback p2p address:\n%s", dev)
	}
	n := startNode(t, "miner", "--config", cfgFile)
	n.waitHeight(3, 90*time.Second)
	if again := runQuern(t, "dumpconfig", "--config", cfgFile); again != toml {
		t.Fatalf("dumpconfig --config q.toml differs from q.toml:\n%s\nvs\n%s", again, toml)
	}

	dev := chain.DevAddress()
	rpcArgs := func(args ...string) []string { return append(args, "--rpc", n.rpc) }

	// chain head/info/block.
	var head struct {
		Height uint64      `json:"height"`
		Hash   common.Hash `json:"hash"`
	}
	jsonOut(t, &head, rpcArgs("chain", "head", "--json")...)
	if head.Height < 3 {
		t.Fatalf("chain head --json: %+v", head)
	}
	var info struct {
		node.RPCNodeInfo
		Syncing *node.RPCSyncing `json:"syncing"`
	}
	jsonOut(t, &info, rpcArgs("chain", "info", "--json")...)
	if info.Network != "dev" || !info.Mining || len(info.Addrs) == 0 {
		t.Fatalf("chain info --json: %+v", info)
	}
	for _, a := range info.Addrs {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/") {
			t.Errorf("dev node advertises %s", a)
		}
	}
	// A second node on the first one's p2p port fails at start, clearly.
	listen, _, _ := strings.Cut(info.Addrs[0], "/p2p/")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, quernBin, "node", "--dev", "--datadir", filepath.Join(dir, "n2"),
		"--rpc.addr", "127.0.0.1:0", "--p2p.listen", listen)
	errOut, err := second.CombinedOutput()
	if err == nil || ctx.Err() != nil || !strings.Contains(string(errOut), "already in use") {
		t.Fatalf("second node on %s: %v, ctx %v\n%s", listen, err, ctx.Err(), errOut)
	}

	b2 := n.block(2)
	var byNum, byHash node.RPCBlock
	jsonOut(t, &byNum, rpcArgs("chain", "block", "2", "--json")...)
	jsonOut(t, &byHash, rpcArgs("chain", "block", b2.Hash.Hex(), "--json")...)
	if byNum.Hash != b2.Hash || byHash.Hash != b2.Hash || byHash.Number != 2 {
		t.Fatalf("chain block 2: %s, by hash: %s/%d, want %s", byNum.Hash, byHash.Hash, byHash.Number, b2.Hash)
	}
	text := runQuern(t, rpcArgs("chain", "block", "latest")...)
	for _, want := range []string{"number:", "hash:", "coinbase:    " + dev.Hex(), "seal:", "txs:", "results:"} {
		if !strings.Contains(text, want) {
			t.Fatalf("chain block latest lacks %q:\n%s", want, text)
		}
	}
	cliFails(t, "no block", rpcArgs("chain", "block", "999999")...)

	// wallet list | import | export.
	pw := filepath.Join(dir, "pw.txt")
	os.WriteFile(pw, []byte("pw\n"), 0o600)
	keys := filepath.Join(dir, "keys")
	if out, _, err := cliRun("wallet", "list", "--keystore", keys); err != nil || out != "" {
		t.Fatalf("wallet list of an empty keystore: %q %v", out, err)
	}
	key, _ := crypto.GenerateKey()
	me := crypto.PubkeyToAddress(key.PublicKey)
	hexFile := filepath.Join(dir, "key.hex")
	os.WriteFile(hexFile, []byte("0x"+common.Bytes2Hex(crypto.FromECDSA(key))+"\n"), 0o600)
	if got := runQuern(t, "wallet", "import", "--keystore", keys, "--password-file", pw, "--lightkdf", hexFile); got != me.Hex() {
		t.Fatalf("wallet import printed %q, want %s", got, me.Hex())
	}
	var list struct {
		Accounts []struct {
			Address common.Address `json:"address"`
			File    string         `json:"file"`
		} `json:"accounts"`
	}
	jsonOut(t, &list, "wallet", "list", "--keystore", keys, "--json")
	if len(list.Accounts) != 1 || list.Accounts[0].Address != me {
		t.Fatalf("wallet list --json: %+v", list)
	}
	if out := runQuern(t, "wallet", "list", "--keystore", keys); !strings.HasPrefix(out, me.Hex()+" ") {
		t.Fatalf("wallet list: %q", out)
	}
	exported := filepath.Join(dir, "exported.json")
	runQuern(t, "wallet", "export", "--keystore", keys, "--out", exported, me.Hex())
	keys2 := filepath.Join(dir, "keys2")
	if got := runQuern(t, "wallet", "import", "--keystore", keys2, "--password-file", pw, exported); got != me.Hex() {
		t.Fatalf("import of the exported key file printed %q", got)
	}
	cliFails(t, "no key for", "wallet", "export", "--keystore", keys, dev.Hex())

	// A transfer to the imported key, signed from the second keystore: tx status --json.
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o600)
	hash := runQuern(t, rpcArgs("wallet", "send", "--keystore", filepath.Join(datadir, "keystore"), "--password-file", empty,
		"--from", dev.Hex(), "--to", me.Hex(), "--value", "50", "--wait")...)
	var st node.RPCTxStatus
	jsonOut(t, &st, rpcArgs("tx", "status", "--json", hash)...)
	if st.Status != "mined" || st.Block == nil {
		t.Fatalf("tx status --json: %+v", st)
	}
	var bal struct{ Address, Balance, Wei string }
	jsonOut(t, &bal, rpcArgs("wallet", "balance", "--json", me.Hex())...)
	if bal.Balance != "50" || bal.Wei != "50000000000000000000" {
		t.Fatalf("wallet balance --json: %+v", bal)
	}

	// A job: job list shows it with its status; job status --json.
	r := rand.New(rand.NewSource(7))
	aPath, bPath := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.npy")
	writeInt8NPY(t, aPath, randI8(r, 32, 64))
	writeInt8NPY(t, bPath, randI8(r, 64, 16))
	jobID := strings.Fields(runQuern(t, rpcArgs("job", "submit", "matmul", "--keystore", keys2, "--password-file", pw,
		"--from", me.Hex(), "--a", aPath, "--b", bPath, "--fee", "1", "--wait")...))[0]
	var job node.RPCJob
	jsonOut(t, &job, rpcArgs("job", "status", "--json", jobID)...)
	if job.Status != "done" || job.ID.Hex() != jobID {
		t.Fatalf("job status --json: %+v", job)
	}
	var jobs node.RPCJobList
	jsonOut(t, &jobs, rpcArgs("job", "list", "--json")...)
	if len(jobs.Jobs) != 1 || jobs.Jobs[0].ID.Hex() != jobID || jobs.Jobs[0].Status != "done" {
		t.Fatalf("job list --json: %+v", jobs)
	}
	if out := runQuern(t, rpcArgs("job", "list", "--status", "done")...); !strings.Contains(out, jobID) || !strings.Contains(out, "done") {
		t.Fatalf("job list: %q", out)
	}
	jsonOut(t, &jobs, rpcArgs("job", "list", "--json", "--status", "pending")...)
	if len(jobs.Jobs) != 0 {
		t.Fatalf("job list --status pending: %+v", jobs)
	}
	jsonOut(t, &jobs, rpcArgs("job", "list", "--json", "--before", "1")...)
	if len(jobs.Jobs) != 0 {
		t.Fatalf("job list --before 1 (genesis only): %+v", jobs)
	}

	// Rewards count the blocks mined (they printed "blocks: 0").
	var rw struct {
		Blocks uint64 `json:"blocks"`
		Total  string `json:"total"`
	}
	jsonOut(t, &rw, rpcArgs("wallet", "rewards", "--json", dev.Hex())...)
	if rw.Blocks < 3 || rw.Total == "0" {
		t.Fatalf("wallet rewards --json: %+v", rw)
	}
	if out := runQuern(t, rpcArgs("wallet", "rewards", dev.Hex())...); strings.Contains(out, "blocks: 0") {
		t.Fatalf("wallet rewards: %q", out)
	}

	// Usage errors: one line with a suggestion, no help dump.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"wallt"}, `did you mean "wallet"`},
		{[]string{"chain", "haed"}, `did you mean "head"`},
		{[]string{"chain", "head", "--rcp", n.rpc}, "did you mean --rpc"},
	} {
		cliFails(t, tc.want, tc.args...)
		_, errOut, _ := cliRun(tc.args...)
		if strings.Count(strings.TrimSpace(errOut), "\n") > 0 || strings.Contains(errOut, "USAGE") {
			t.Errorf("quern %v: stderr is not one line: %q", tc.args, errOut)
		}
	}
}
