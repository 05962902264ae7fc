package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
	"github.com/sbinet/npyio/npy"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/node"
	"github.com/quern-chain/quern/vm"
)

// The CLI's commands against a real node in process (devnode_test.go):
// each read command's text and --json, and the errors a user meets.

// quern runs the CLI in-process and returns stdout, stderr and the exit status.
func quern(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = run(ctx, append([]string{"quern"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// wantError checks a failed run: exit 1 and exactly one "error: " line
// containing msg.
func wantError(t *testing.T, stderr string, code int, msg string) {
	t.Helper()
	if code != 1 {
		t.Fatalf("exit %d, want 1 (stderr %q)", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "error: ") || !strings.Contains(last, msg) {
		t.Fatalf("stderr %q, want an error line containing %q", stderr, msg)
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "USAGE") {
		t.Fatalf("runtime error dumped more than a line: %q", stderr)
	}
}

// testKey puts a fresh key with password pw in a new keystore directory.
func testKey(t *testing.T, pw string) (dir string, key *ecdsa.PrivateKey, addr common.Address) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "keystore")
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.NewKeyStore(dir, keystore.LightScryptN, keystore.LightScryptP)
	acct, err := ks.ImportECDSA(key, pw)
	if err != nil {
		t.Fatal(err)
	}
	return dir, key, acct.Address
}

func passwordFile(t *testing.T, content string) string {
	return writeFile(t, "pw.txt", []byte(content))
}

func qrn(s string) *uint256.Int {
	v, err := parseQRN(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestWalletNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ks")
	out, stderr, code := quern(t, "wallet", "new", "--keystore", dir, "--password-file", passwordFile(t, "s3cret\n"), "--lightkdf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	addrHex := strings.TrimSpace(out)
	addr, err := parseAddress(addrHex)
	if err != nil || addr.Hex() != addrHex {
		t.Fatalf("printed %q, want one checksummed address (%v)", out, err)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("keystore holds %d files", len(files))
	}
	blob, _ := os.ReadFile(filepath.Join(dir, files[0].Name()))
	key, err := keystore.DecryptKey(blob, "s3cret")
	if err != nil {
		t.Fatalf("decrypt with the password from the file (newline stripped): %v", err)
	}
	if key.Address != addr {
		t.Fatalf("key is for %s, printed %s", key.Address.Hex(), addrHex)
	}
	if !strings.Contains(string(blob), fmt.Sprintf(`"n":%d`, keystore.LightScryptN)) {
		t.Error("--lightkdf did not use light scrypt parameters")
	}
}

// matmul is the exact product A·B, as a job's result must be.
func matmul(a, b compute.I8) compute.I32 {
	c := compute.NewI32(a.Rows, b.Cols)
	for i := 0; i < a.Rows; i++ {
		for j := 0; j < b.Cols; j++ {
			var s int32
			for k := 0; k < a.Cols; k++ {
				s += int32(a.At(i, k)) * int32(b.At(k, j))
			}
			c.Data[i*c.Cols+j] = s
		}
	}
	return c
}

// readProduct reads an int32 .npy file the CLI wrote.
func readProduct(t *testing.T, path string, rows, cols int) []int32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npy.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Descr.Type != "<i4" || r.Header.Descr.Fortran || fmt.Sprint(r.Header.Descr.Shape) != fmt.Sprint([]int{rows, cols}) {
		t.Fatalf("%s header %v", path, r.Header)
	}
	var c []int32
	if err := r.Read(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// jsonOf runs a command that must succeed and decodes its stdout into v.
func jsonOf(t *testing.T, v any, args ...string) {
	t.Helper()
	out, stderr, code := quern(t, args...)
	if code != 0 {
		t.Fatalf("quern %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("quern %s: not one JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ok runs a command that must succeed and returns its stdout and stderr.
func ok(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, code := quern(t, args...)
	if code != 0 {
		t.Fatalf("quern %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out, errOut
}

func TestWalletBalance(t *testing.T) {
	addr := common.HexToAddress("0x1111111111111111111111111111111111111111")
	other := common.HexToAddress("0x2222222222222222222222222222222222222222")
	d := startDevNode(t, devNodeOpts{alloc: map[common.Address]string{addr: "1000000", other: "0.5"}})
	url := d.url

	for a, want := range map[common.Address]string{addr: "1000000 QRN\n", other: "0.5 QRN\n", {}: "0 QRN\n"} {
		out, stderr, code := quern(t, "wallet", "balance", "--rpc", url, a.Hex())
		if code != 0 || out != want {
			t.Errorf("balance %s: %q (exit %d, %s), want %q", a.Hex(), out, code, stderr, want)
		}
	}
	var bal struct{ Address, Balance, Wei string }
	jsonOf(t, &bal, "wallet", "balance", "--json", "--rpc", url, other.Hex())
	if bal.Address != other.Hex() || bal.Balance != "0.5" || bal.Wei != "500000000000000000" {
		t.Errorf("balance --json: %+v", bal)
	}
	_, stderr, code := quern(t, "wallet", "balance", "--rpc", url, "0x12")
	wantError(t, stderr, code, `bad address "0x12": want 40 hex digits`)
	_, stderr, code = quern(t, "wallet", "balance", "--rpc", url)
	wantError(t, stderr, code, "missing ADDRESS")

	// Flags may follow the positional argument.
	for _, args := range [][]string{
		{"wallet", "balance", other.Hex(), "--rpc", url},
		{"wallet", "balance", other.Hex(), "--rpc=" + url},
		{"wallet", "balance", "--rpc", url, other.Hex()},
	} {
		out, stderr, code := quern(t, args...)
		if code != 0 || out != "0.5 QRN\n" {
			t.Errorf("%v: %q, exit %d, %s", args, out, code, stderr)
		}
	}
}

// The read commands of a fresh node: chain head|info|block, wallet
// rewards, job list, each as text and as --json.
func TestChainCommands(t *testing.T) {
	d := startDevNode(t, devNodeOpts{})
	url := d.url
	genesis := d.Chain().CurrentBlock().Hash()

	out, _ := ok(t, "chain", "head", "--rpc", url)
	if want := fmt.Sprintf("height 0 hash %s\n", genesis.Hex()); out != want {
		t.Fatalf("chain head printed %q, want %q", out, want)
	}
	var head struct {
		Height uint64      `json:"height"`
		Hash   common.Hash `json:"hash"`
	}
	jsonOf(t, &head, "chain", "head", "--json", "--rpc", url)
	if head.Height != 0 || head.Hash != genesis {
		t.Fatalf("chain head --json: %+v", head)
	}

	out, _ = ok(t, "chain", "info", "--rpc", url)
	for _, want := range []string{"network:  dev\n", "chain id: 7357\n", "genesis:  " + genesis.Hex() + "\n", "head:     0\n",
		"mining:   false\n", "backend:  " + d.Backend().Name() + "\n", "syncing:  no\n", "node id:  12D3KooW", "address:  /ip4/127.0.0.1/tcp/"} {
		if !strings.Contains(out, want) {
			t.Errorf("chain info lacks %q:\n%s", want, out)
		}
	}
	var info struct {
		node.RPCNodeInfo
		Syncing *node.RPCSyncing `json:"syncing"`
	}
	jsonOf(t, &info, "chain", "info", "--json", "--rpc", url)
	if info.ChainID != 7357 || info.Network != "dev" || info.Genesis != genesis || info.Mining || info.Syncing != nil || len(info.Addrs) == 0 {
		t.Fatalf("chain info --json: %+v", info)
	}

	out, _ = ok(t, "chain", "block", "0", "--rpc", url)
	for _, want := range []string{"number:      0\n", "hash:        " + genesis.Hex() + "\n", "txs:         0\n", "results:     0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("chain block 0 lacks %q:\n%s", want, out)
		}
	}
	var b node.RPCBlock
	jsonOf(t, &b, "chain", "block", "--json", "--rpc", url, genesis.Hex())
	if b.Hash != genesis || b.Number != 0 || b.Txs == nil {
		t.Fatalf("chain block --json %s: %+v", genesis.Hex(), b)
	}
	_, stderr, code := quern(t, "chain", "block", "5", "--rpc", url)
	wantError(t, stderr, code, "has no block 5")
	_, stderr, code = quern(t, "chain", "block", "five", "--rpc", url)
	wantError(t, stderr, code, `bad block "five"`)

	dev := chain.DevAddress().Hex()
	if out, _ := ok(t, "wallet", "rewards", "--rpc", url, dev); out != "total:  0 QRN\nblocks: 0\n" {
		t.Fatalf("wallet rewards printed %q", out)
	}
	var rewards struct {
		Address    common.Address
		Total, Wei string
		Blocks     uint64
	}
	jsonOf(t, &rewards, "wallet", "rewards", "--json", "--rpc", url, dev)
	if rewards.Address != chain.DevAddress() || rewards.Total != "0" || rewards.Wei != "0" || rewards.Blocks != 0 {
		t.Fatalf("wallet rewards --json: %+v", rewards)
	}

	if out, errOut := ok(t, "job", "list", "--rpc", url); out != "" || errOut != "no jobs\n" {
		t.Fatalf("job list of no jobs: %q, %q", out, errOut)
	}
	var list node.RPCJobList
	jsonOf(t, &list, "job", "list", "--json", "--rpc", url)
	if list.Jobs == nil || len(list.Jobs) != 0 || list.Next != nil {
		t.Fatalf("job list --json: %+v", list)
	}
	_, stderr, code = quern(t, "job", "list", "--status", "lost", "--rpc", url)
	wantError(t, stderr, code, `status "lost": want submitted, pending, done or expired`)
}

func TestWalletSend(t *testing.T) {
	ks, _, from := testKey(t, "pw")
	to := common.HexToAddress("0x2222222222222222222222222222222222222222")
	d := startDevNode(t, devNodeOpts{mine: true, alloc: map[common.Address]string{from: "10"}})

	out, stderr := ok(t, "wallet", "send", "--rpc", d.url, "--keystore", ks, "--from", from.Hex(), "--to", to.Hex(),
		"--value", "1.5", "--password-file", passwordFile(t, "pw\r\n"), "--wait", "--poll", "10ms")
	// stdout carries only the hash, so scripts can capture it; progress goes to stderr.
	hash, err := parseHash(strings.TrimSpace(out))
	if err != nil || out != hash.Hex()+"\n" {
		t.Fatalf("printed %q, want one tx hash", out)
	}
	var st node.RPCTxStatus
	jsonOf(t, &st, "tx", "status", "--json", "--rpc", d.url, hash.Hex())
	if st.Status != "mined" || st.Block == nil || st.BlockHash == nil {
		t.Fatalf("tx status --json after --wait: %+v", st)
	}
	if want := fmt.Sprintf("included in block %d (%s)\n", *st.Block, st.BlockHash.Hex()); !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q, want %q", stderr, want)
	}
	if out, errOut := ok(t, "tx", "status", "--rpc", d.url, hash.Hex()); out != "mined\n" || !strings.Contains(errOut, fmt.Sprintf("in block %d", *st.Block)) {
		t.Fatalf("tx status: %q, %q", out, errOut)
	}
	var sent *node.RPCTx
	for _, tx := range d.block(*st.Block).Txs {
		if tx.Hash == hash {
			sent = &tx
		}
	}
	if sent == nil || sent.From != from || sent.To != to || sent.Kind != "transfer" || sent.Nonce != 0 ||
		sent.Value != qrn("1.5").Dec() || sent.Fee != qrn("0.001").Dec() {
		t.Fatalf("tx in block %d: %+v", *st.Block, sent)
	}
	if out, _ := ok(t, "wallet", "balance", "--rpc", d.url, to.Hex()); out != "1.5 QRN\n" {
		t.Fatalf("recipient's balance %q", out)
	}
}

// Checks before anything is signed or sent, and --wait's timeout, against a
// node that does not mine.
func TestWalletSendChecks(t *testing.T) {
	dir, _, from := testKey(t, "pw")
	d := startDevNode(t, devNodeOpts{alloc: map[common.Address]string{from: "1.2"}})
	url := d.url
	to := "0x2222222222222222222222222222222222222222"
	pw := passwordFile(t, "pw")
	send := func(args ...string) (string, int) {
		base := []string{"wallet", "send", "--rpc", url, "--keystore", dir, "--password-file", pw}
		_, stderr, code := quern(t, append(base, args...)...)
		return stderr, code
	}

	stderr, code := send("--from", from.Hex(), "--to", to, "--value", "5")
	wantError(t, stderr, code, "insufficient balance: have 1.2 QRN, need 5.001 QRN")

	stderr, code = send("--from", from.Hex(), "--to", "0x12", "--value", "1")
	wantError(t, stderr, code, `bad address "0x12": want 40 hex digits`)

	stderr, code = send("--from", from.Hex(), "--to", to, "--value", "-1")
	wantError(t, stderr, code, "negative")

	stranger := common.HexToAddress("0x3333333333333333333333333333333333333333")
	stderr, code = send("--from", stranger.Hex(), "--to", to, "--value", "1")
	wantError(t, stderr, code, fmt.Sprintf("no key for %s in keystore %s", stranger.Hex(), dir))

	_, stderr, code = quern(t, "wallet", "send", "--rpc", url, "--keystore", dir, "--password-file", passwordFile(t, "nope"),
		"--from", from.Hex(), "--to", to, "--value", "1")
	wantError(t, stderr, code, "wrong password for "+from.Hex())

	_, stderr, code = quern(t, "wallet", "send", "--rpc", url, "--keystore", filepath.Join(t.TempDir(), "nowhere"),
		"--password-file", pw, "--from", from.Hex(), "--to", to, "--value", "1")
	wantError(t, stderr, code, "does not exist")

	if n := d.nonce(from); n != 0 {
		t.Fatalf("a failed check still sent: nonce %d", n)
	}

	// A node that does not mine never includes it: --wait gives up, after
	// printing the hash.
	out, stderr, code := quern(t, "wallet", "send", "--rpc", url, "--keystore", dir, "--password-file", pw,
		"--from", from.Hex(), "--to", to, "--value", "1", "--wait", "--timeout", "100ms", "--poll", "10ms")
	wantError(t, stderr, code, "not included after 100ms")
	if !strings.HasPrefix(out, "0x") {
		t.Fatalf("tx hash not printed before waiting: %q", out)
	}
	if st, _ := ok(t, "tx", "status", "--rpc", url, strings.TrimSpace(out)); st != "pending\n" {
		t.Fatalf("tx status of the waiting tx: %q", st)
	}
}

func TestJobSubmitMatMul(t *testing.T) {
	ks, _, from := testKey(t, "pw")
	d := startDevNode(t, devNodeOpts{mine: true, alloc: map[common.Address]string{from: "100"}})
	url := d.url
	dir := t.TempDir()
	aPath, a := saveInt8(t, dir, "a.npy", 16, 32, func(i, j int) int8 { return int8((i*7+j*3)%225 - 112) })
	bPath, b := saveInt8(t, dir, "b.npy", 32, 8, func(i, j int) int8 { return int8((i*5+j*11)%200 - 100) })
	work := uint64(16 * 32 * 8)
	prog, _ := vm.Encode(vm.NewMatMul(a, b))
	bytes := uint64(len(prog)) + 4*16*8 // program and result
	args := []string{"job", "submit", "matmul", "--rpc", url, "--keystore", ks, "--from", from.Hex(),
		"--a", aPath, "--b", bPath, "--password-file", passwordFile(t, "pw")}

	// The base fee moves with the difficulty: the message names the same
	// one twice, with the work and bytes of this job.
	_, stderr, code := quern(t, append(args, "--fee", "0.00001")...)
	wantError(t, stderr, code, "fee 0.00001 QRN is below this job's base fee ")
	m := regexp.MustCompile(`base fee ([0-9.]+) QRN \((\d+) MACs, and (\d+) bytes of program and result at 0\.0000003 QRN a byte\); pass --fee ([0-9.]+) or more`).FindStringSubmatch(stderr)
	if m == nil || m[1] != m[4] || m[2] != fmt.Sprint(work) || m[3] != fmt.Sprint(bytes) {
		t.Fatalf("base fee error %q", stderr)
	}
	_, stderr, code = quern(t, args...)
	wantError(t, stderr, code, "--fee is required")

	out, stderr := ok(t, append(args, "--fee", "1", "--wait", "--poll", "10ms")...)
	id, err := parseHash(strings.TrimSpace(out))
	if err != nil || out != id.Hex()+"\n" {
		t.Fatalf("printed %q, want one job id", out)
	}
	job := d.job(id)
	if job == nil || job.Status != "done" || job.Owner != from || job.Fee != qrn("1").Dec() || job.Work != work ||
		job.Rows != 16 || job.Cols != 8 || job.Kind != "matmul" || job.Miner != chain.DevAddress() {
		t.Fatalf("job after --wait: %+v", job)
	}
	// The expiry counts from the head the CLI saw, before the job's block.
	if job.Expiry-1000 >= job.Submitted {
		t.Fatalf("expiry %d, submitted in block %d: want --expiry 1000 blocks from the head before it", job.Expiry, job.Submitted)
	}
	if want := fmt.Sprintf("done in block %d\n", job.DoneBlock); !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q, want %q", stderr, want)
	}

	// The result of that job, fetched as .npy, plain and --json.
	want := fmt.Sprint(matmul(a, b).Data)
	cPath := filepath.Join(dir, "c.npy")
	out, _ = ok(t, "job", "result", "--rpc", url, "--out", cPath, id.Hex())
	if out != fmt.Sprintf("wrote %s: 16×8 int32 from block %d\n", cPath, job.DoneBlock) {
		t.Errorf("job result printed %q", out)
	}
	if c := readProduct(t, cPath, 16, 8); fmt.Sprint(c) != want {
		t.Fatal("c.npy is not A·B")
	}
	var written jobResultWritten
	jsonOf(t, &written, "job", "result", "--json", "--rpc", url, "--out", cPath+"2", id.Hex())
	if written.JobID != id || written.Kind != "matmul" || written.Out != cPath+"2" || written.Rows != 16 || written.Cols != 8 || written.Block != job.DoneBlock {
		t.Fatalf("job result --json: %+v", written)
	}
	if c := readProduct(t, cPath+"2", 16, 8); fmt.Sprint(c) != want {
		t.Fatal("job result --json wrote something else than A·B")
	}

	// Its status, plain and --json.
	out, _ = ok(t, "job", "status", "--rpc", url, id.Hex())
	for _, want := range []string{"id:         " + id.Hex(), "status:     done", "owner:      " + from.Hex(), "fee:        1 QRN",
		fmt.Sprintf("work:       %d MACs", work), "result:     16×8 int32", fmt.Sprintf("submitted:  block %d", job.Submitted),
		fmt.Sprintf("expiry:     block %d", job.Expiry), fmt.Sprintf("done block: %d", job.DoneBlock),
		"miner:      " + chain.DevAddress().Hex(), "miner fee:  ", "burned:     "} {
		if !strings.Contains(out, want) {
			t.Errorf("job status lacks %q:\n%s", want, out)
		}
	}
	var status node.RPCJob
	jsonOf(t, &status, "job", "status", "--json", "--rpc", url, id.Hex())
	if !reflect.DeepEqual(&status, job) {
		t.Fatalf("job status --json %+v, node %+v", status, job)
	}

	// The job in the list and in its blocks.
	out, _ = ok(t, "job", "list", "--rpc", url)
	if !strings.Contains(out, id.Hex()+"  done       matmul  fee 1 QRN  16×8, 4096 MACs\n") {
		t.Errorf("job list:\n%s", out)
	}
	var list node.RPCJobList
	jsonOf(t, &list, "job", "list", "--json", "--owner", from.Hex(), "--rpc", url)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != id || list.Jobs[0].Status != "done" {
		t.Fatalf("job list --json --owner: %+v", list)
	}
	out, _ = ok(t, "chain", "block", fmt.Sprint(job.Submitted), "--rpc", url)
	if !strings.Contains(out, fmt.Sprintf("  %s job from %s, fee 1 QRN, expiry %d\n", id.Hex(), from.Hex(), job.Expiry)) {
		t.Errorf("chain block %d lacks the job tx:\n%s", job.Submitted, out)
	}
	var done node.RPCBlock
	jsonOf(t, &done, "chain", "block", "--json", fmt.Sprint(job.DoneBlock), "--rpc", url)
	if len(done.Results) == 0 || done.Results[0].JobID != id || done.Results[0].Rows != 16 {
		t.Fatalf("chain block %d --json: results %+v", job.DoneBlock, done.Results)
	}

	// The miner's rewards: the dev address mined every block.
	var rewards struct {
		Total  string
		Blocks uint64
	}
	jsonOf(t, &rewards, "wallet", "rewards", "--json", "--rpc", url, chain.DevAddress().Hex())
	if rewards.Blocks < job.DoneBlock || rewards.Total == "0" {
		t.Fatalf("wallet rewards --json: %+v, want at least %d blocks", rewards, job.DoneBlock)
	}
}

// TestJobSubmitChecksCapsBeforeSending: the CLI fetches the node's caps and
// refuses, before signing or sending, a job the node would refuse: the
// 3000×1·1×3000 job whose 36 MB result no block may carry, and an expiry
// past the job lifetime. The error names the cap and the numbers. A job it
// sends waits in the txpool of a node that does not mine: "submitted".
func TestJobSubmitChecksCapsBeforeSending(t *testing.T) {
	ks, _, from := testKey(t, "pw")
	d := startDevNode(t, devNodeOpts{alloc: map[common.Address]string{from: "100"}})
	url := d.url
	dir := t.TempDir()
	aPath, _ := saveInt8(t, dir, "a.npy", 3000, 1, func(i, j int) int8 { return 1 })
	bPath, _ := saveInt8(t, dir, "b.npy", 1, 3000, func(i, j int) int8 { return 1 })
	args := []string{"job", "submit", "matmul", "--rpc", url, "--keystore", ks, "--from", from.Hex(), "--fee", "1",
		"--password-file", passwordFile(t, "pw")}
	_, stderr, code := quern(t, append(args, "--a", aPath, "--b", bPath)...)
	wantError(t, stderr, code, "job rejected before sending: result 3000×3000 takes 36000000 bytes (4 per entry), more than the limit of 16777216 a block may carry; split the job along M or N")

	small, _ := saveInt8(t, dir, "s.npy", 4, 4, func(i, j int) int8 { return 1 })
	_, stderr, code = quern(t, append(args, "--a", small, "--b", small, "--expiry", "5000")...)
	wantError(t, stderr, code, "--expiry 5000 is more than the node's job lifetime of 1800 blocks; pass --expiry 1800 or less")
	if n := d.nonce(from); n != 0 {
		t.Fatalf("a refused job was sent: nonce %d", n)
	}

	out, _ := ok(t, append(args, "--a", small, "--b", small)...)
	id, err := parseHash(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("printed %q", out)
	}
	out, _ = ok(t, "job", "status", "--rpc", url, id.Hex())
	if !strings.Contains(out, "status:     submitted\n") || !strings.Contains(out, "result:     4×4 int32\n") {
		t.Fatalf("job status of a job in the txpool:\n%s", out)
	}
	_, stderr, code = quern(t, "job", "result", "--rpc", url, "--out", filepath.Join(dir, "c.npy"), id.Hex())
	wantError(t, stderr, code, fmt.Sprintf("job %s is submitted: its tx waits in the txpool, not yet in a block; try again after it is mined, or use --wait", id.Hex()))
	out, _ = ok(t, "job", "list", "--status", "submitted", "--rpc", url)
	if !strings.HasPrefix(out, id.Hex()+"  submitted  matmul") {
		t.Fatalf("job list --status submitted:\n%s", out)
	}
}

// A job on chain that no miner has done: pending, then expired; one held in
// the miner, then done while `job result --wait` polls.
func TestJobResultPending(t *testing.T) {
	ks, _, from := testKey(t, "pw")
	d := startDevNode(t, devNodeOpts{mine: true, alloc: map[common.Address]string{from: "100"}})
	url := d.url
	dir := t.TempDir()
	aPath, a := saveInt8(t, dir, "a.npy", 2, 3, func(i, j int) int8 { return int8(i - j) })
	bPath, b := saveInt8(t, dir, "b.npy", 3, 2, func(i, j int) int8 { return int8(2*i + j) })
	pw := passwordFile(t, "pw")
	submit := func(expiry string) common.Hash {
		t.Helper()
		out, _ := ok(t, "job", "submit", "matmul", "--rpc", url, "--keystore", ks, "--from", from.Hex(), "--password-file", pw,
			"--a", aPath, "--b", bPath, "--fee", "1", "--expiry", expiry)
		id, err := parseHash(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("printed %q", out)
		}
		return id
	}
	out := filepath.Join(dir, "c.npy")

	d.gate.set(gateRefuse)
	id := submit("1000")
	d.waitJob(id, "pending")
	_, stderr, code := quern(t, "job", "result", "--rpc", url, "--out", out, id.Hex())
	wantError(t, stderr, code, fmt.Sprintf("job %s is pending (no result yet); try again after it is mined, or use --wait", id.Hex()))
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a pending job left an output file")
	}
	if status, _ := ok(t, "job", "status", "--rpc", url, id.Hex()); !strings.Contains(status, "status:     pending\n") {
		t.Fatalf("job status:\n%s", status)
	}

	_, stderr, code = quern(t, "job", "result", "--rpc", url, "--out", out, common.HexToHash("0x99").Hex())
	wantError(t, stderr, code, "not found")

	// Relative to the head the CLI reads; the dev node mines a block every
	// ~20 ms, so leave room for the key decryption and a loaded machine.
	exp := submit("40")
	j := d.waitJob(exp, "expired")
	_, stderr, code = quern(t, "job", "result", "--rpc", url, "--out", out, exp.Hex())
	wantError(t, stderr, code, fmt.Sprintf("expired after block %d", j.Expiry))
	_, stderr, code = quern(t, "job", "result", "--rpc", url, "--out", out, "--wait", "--poll", "10ms", exp.Hex())
	wantError(t, stderr, code, fmt.Sprintf("job %s expired after block %d without a result", exp.Hex(), j.Expiry))

	// --wait polls until the job is done: the miner holds this one until
	// the wait has begun.
	d.gate.set(gateHold)
	held := submit("1000")
	d.waitJob(held, "pending")
	done := make(chan string, 1)
	go func() {
		_, stderr, code := quern(t, "job", "result", "--rpc", url, "--out", out, "--wait", "--poll", "10ms", held.Hex())
		done <- fmt.Sprintf("exit %d: %s", code, stderr)
	}()
	time.Sleep(100 * time.Millisecond)
	d.gate.set(gateRun)
	if res := <-done; !strings.HasPrefix(res, "exit 0:") || !strings.Contains(res, "job pending (12 MACs to compute)\njob done\n") {
		t.Fatalf("job result --wait: %s; want it to have waited on the pending job", res)
	}
	if c := readProduct(t, out, 2, 2); fmt.Sprint(c) != fmt.Sprint(matmul(a, b).Data) {
		t.Fatalf("c.npy = %v, want A·B", c)
	}
}

// saveInt8 writes m as an int8 .npy file in dir.
func saveInt8(t *testing.T, dir, name string, rows, cols int, fill func(i, j int) int8) (string, compute.I8) {
	t.Helper()
	m := compute.NewI8(rows, cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			m.Data[i*cols+j] = fill(i, j)
		}
	}
	raw := make([]byte, len(m.Data))
	for i, v := range m.Data {
		raw[i] = byte(v)
	}
	path := filepath.Join(dir, name)
	dict := fmt.Sprintf("{'descr': '|i1', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	if err := os.WriteFile(path, npyFile(1, dict, raw), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, m
}

// TestCheckJob2048: a 2048×2048·2048×2048 job (8 MiB of inputs, a 16 MiB
// result: the devnet's result cap exactly) passes the CLI's local check; a
// row more does not.
func TestCheckJob2048(t *testing.T) {
	limits := node.JobLimitsOf(devParams())
	for _, c := range []struct {
		m   int
		err string
	}{{2048, ""}, {2049, "result 2049×2048 takes 16785408 bytes"}} {
		prog, err := vm.Encode(vm.NewMatMul(compute.NewI8(c.m, 2048), compute.NewI8(2048, 2048)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = checkJob(prog, 1000, &limits)
		if c.err == "" && err != nil {
			t.Fatalf("%d×2048·2048×2048: %v", c.m, err)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Fatalf("%d×2048·2048×2048: %v, want %q", c.m, err, c.err)
		}
	}
}

func TestJobSubmitShapeErrorsBeforeSending(t *testing.T) {
	dir := t.TempDir()
	aPath, _ := saveInt8(t, dir, "a.npy", 128, 256, func(i, j int) int8 { return 1 })
	bPath, _ := saveInt8(t, dir, "b.npy", 300, 64, func(i, j int) int8 { return 1 })
	// No node at all: the error must come before any RPC.
	_, stderr, code := quern(t, "job", "submit", "matmul", "--rpc", deadURL(t), "--from", "0x1111111111111111111111111111111111111111",
		"--a", aPath, "--b", bPath, "--fee", "1")
	wantError(t, stderr, code, aPath+" is 128×256 but "+bPath+" is 300×64: b needs 256 rows")

	fPath := filepath.Join(dir, "f.npy")
	os.WriteFile(fPath, npyFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", make([]byte, 32)), 0o644)
	_, stderr, code = quern(t, "job", "submit", "matmul", "--rpc", deadURL(t), "--from", "0x1111111111111111111111111111111111111111",
		"--a", fPath, "--b", bPath, "--fee", "1")
	wantError(t, stderr, code, fPath+": dtype <f8 is not int8; save with a.astype(np.int8)")
}

// deadURL is an http URL where nothing listens.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestUnreachableNode(t *testing.T) {
	url := deadURL(t)
	for _, args := range [][]string{
		{"wallet", "balance", "--rpc", url, "0x1111111111111111111111111111111111111111"},
		{"chain", "head", "--rpc", url},
		{"job", "status", "--rpc", url, common.HexToHash("0x1").Hex()},
	} {
		_, stderr, code := quern(t, args...)
		wantError(t, stderr, code, fmt.Sprintf(`cannot reach node at %s: connection refused (is "quern node" running?)`, url))
		if n := strings.Count(stderr, "\n"); n != 1 {
			t.Errorf("%v: %d stderr lines: %q", args, n, stderr)
		}
	}
	// A bare host:port means http.
	_, stderr, code := quern(t, "chain", "head", "--rpc", strings.TrimPrefix(url, "http://"))
	wantError(t, stderr, code, "cannot reach node at "+url)
	_, stderr, code = quern(t, "chain", "head", "--rpc", "ftp://example.com")
	wantError(t, stderr, code, `scheme "ftp"`)
}

func TestParseAddress(t *testing.T) {
	const sum = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" // EIP-55 example
	for _, s := range []string{sum, strings.ToLower(sum), "0x" + strings.ToUpper(sum[2:]), sum[2:]} {
		a, err := parseAddress(s)
		if err != nil || a.Hex() != sum {
			t.Errorf("parseAddress(%q) = %s, %v", s, a.Hex(), err)
		}
	}
	for s, msg := range map[string]string{
		"0x12":                         "want 40 hex digits",
		"":                             "want 40 hex digits",
		"0x" + strings.Repeat("g", 40): "want 40 hex digits",
		sum + "00":                     "want 40 hex digits",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD": "checksum mismatch",
	} {
		if _, err := parseAddress(s); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseAddress(%q): %v, want %q", s, err, msg)
		}
	}
	if _, err := parseHash("0x1234"); err == nil {
		t.Error("short hash accepted")
	}
}

func TestPasswordFile(t *testing.T) {
	for content, want := range map[string]string{
		"pw\n": "pw", "pw\r\n": "pw", "pw": "pw", "": "", "\n": "", "first\nsecond\n": "first", " spaced \n": " spaced ",
	} {
		got, err := readPasswordFile(passwordFile(t, content))
		if err != nil || got != want {
			t.Errorf("password file %q: %q, %v; want %q", content, got, err, want)
		}
	}
	if _, err := readPasswordFile(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("missing password file accepted")
	}
}

// Flags may follow the positional argument, as in "quern job result ID --out c.npy"
// (run against a node in TestWalletBalance).
func TestFlagsAfterArguments(t *testing.T) {
	app := newApp()
	for in, want := range map[string]string{
		"quern job result 0xID --out c.npy --wait":          "quern job result --out c.npy --wait 0xID",
		"quern job result --wait 0xID --out c.npy":          "quern job result --wait --out c.npy 0xID",
		"quern wallet balance -- -weird --rpc":              "quern wallet balance -- -weird --rpc",
		"quern job submit matmul --a x.npy -b y.npy --wait": "quern job submit matmul --a x.npy -b y.npy --wait",
		"quern nosuch 1 --x":                                "quern nosuch 1 --x",
		"quern wallet":                                      "quern wallet",
	} {
		if got := strings.Join(flagsFirst(app, strings.Fields(in)), " "); got != want {
			t.Errorf("flagsFirst(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	_, stderr, code := quern(t, "wallet", "balance", "--rpc", deadURL(t), "0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222")
	wantError(t, stderr, code, "want one ADDRESS, got 2 arguments")
	_, stderr, code = quern(t, "wallet", "send", "--to", "0x1111111111111111111111111111111111111111", "--value", "1")
	if code != 1 || !strings.Contains(stderr, `error: Required flag "from" not set`) {
		t.Fatalf("missing --from: exit %d, %q", code, stderr)
	}
}
