package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"
	"github.com/sbinet/npyio/npy"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/node"
	"github.com/quern-chain/quern/vm"
)

const testChainID = 4242

// fakeAPI serves a few quern_* methods from memory, like node/ does.
type fakeAPI struct {
	mu       sync.Mutex
	head     uint64
	balances map[common.Address]*uint256.Int
	pending  map[common.Address]uint64 // nonce for "pending"
	latest   map[common.Address]uint64 // nonce for "latest"
	sent     []*types.Tx
	jobs     map[common.Hash]*node.RPCJob
	results  map[common.Hash]*node.RPCJobResult
	baseFee  *uint256.Int // per MAC
	mineSent bool         // include every sent tx at once (latest nonce, done jobs)
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		head:     77,
		balances: map[common.Address]*uint256.Int{},
		pending:  map[common.Address]uint64{},
		latest:   map[common.Address]uint64{},
		jobs:     map[common.Hash]*node.RPCJob{},
		results:  map[common.Hash]*node.RPCJobResult{},
		baseFee:  uint256.NewInt(5_000_000_000), // wei per MAC
	}
}

func (f *fakeAPI) BlockNumber() uint64 { f.mu.Lock(); defer f.mu.Unlock(); return f.head }

func (f *fakeAPI) GetBlockByNumber(n json.RawMessage) (*node.RPCBlock, error) {
	if string(n) != `"latest"` {
		return nil, fmt.Errorf("fake: want \"latest\", got %s", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := &node.RPCBlock{}
	b.Number = f.head
	b.Hash = common.BigToHash(new(uint256.Int).SetUint64(f.head*1000 + 1).ToBig())
	return b, nil
}

func (f *fakeAPI) GetBalance(addr common.Address) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.balances[addr]; b != nil {
		return b.Dec()
	}
	return "0"
}

func (f *fakeAPI) GetTransactionCount(addr common.Address, tag string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch tag {
	case "pending":
		return f.pending[addr], nil
	case "latest":
		return f.latest[addr], nil
	}
	return 0, fmt.Errorf("unknown block tag %q", tag)
}

func (f *fakeAPI) SendRawTransaction(raw hexutil.Bytes) (common.Hash, error) {
	tx := new(types.Tx)
	if err := rlp.DecodeBytes(raw, tx); err != nil {
		return common.Hash{}, fmt.Errorf("decode transaction: %w", err)
	}
	from, err := tx.Sender()
	if err != nil {
		return common.Hash{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if tx.Nonce != f.pending[from] {
		return common.Hash{}, fmt.Errorf("nonce %d, want %d", tx.Nonce, f.pending[from])
	}
	f.pending[from]++
	f.sent = append(f.sent, tx)
	id := tx.Hash()
	if tx.Kind == types.TxJob {
		p, err := vm.Decode(tx.Program, chain.JobLimits(fakeParams()))
		if err != nil {
			return common.Hash{}, err
		}
		a, b, _ := p.MatMulOperands()
		job := &node.RPCJob{ID: id, Owner: from, Status: "pending", Fee: tx.Fee.Dec(), Work: p.Work(),
			Rows: uint32(a.Rows), Cols: uint32(b.Cols), Submitted: f.head + 1, Expiry: tx.Expiry}
		f.jobs[id] = job
		if f.mineSent {
			f.finishJob(job, matmul(a, b))
		}
	}
	if f.mineSent {
		f.latest[from] = f.pending[from]
	}
	return id, nil
}

// GetTransactionStatus reports every sent tx mined at the head when the
// fake mines what it is sent, pending otherwise.
func (f *fakeAPI) GetTransactionStatus(h common.Hash) *node.RPCTxStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tx := range f.sent {
		if tx.Hash() == h && f.mineSent {
			n, bh := f.head, common.Hash{0xb1}
			return &node.RPCTxStatus{Hash: h, Status: "mined", Block: &n, BlockHash: &bh}
		}
		if tx.Hash() == h {
			return &node.RPCTxStatus{Hash: h, Status: "pending"}
		}
	}
	return &node.RPCTxStatus{Hash: h, Status: "unknown"}
}

// finishJob marks job done with result c in the next block.
func (f *fakeAPI) finishJob(job *node.RPCJob, c compute.I32) {
	f.head++
	job.Status, job.DoneBlock, job.Miner = "done", f.head, common.HexToAddress("0x00000000000000000000000000000000000000aa")
	job.MinerFee, job.Burned = "1000", "2000"
	f.results[job.ID] = &node.RPCJobResult{JobID: job.ID, Rows: uint32(c.Rows), Cols: uint32(c.Cols), Data: vm.EncodeResult(c), Block: f.head}
}

func (f *fakeAPI) GetJob(id common.Hash) (*node.RPCJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return nil, fmt.Errorf("job %s not found", id.Hex())
	}
	c := *j
	return &c, nil
}

func (f *fakeAPI) GetJobResult(id common.Hash) (*node.RPCJobResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return nil, fmt.Errorf("job %s not found", id.Hex())
	}
	switch j.Status {
	case "pending":
		return nil, fmt.Errorf("job %s is pending (no result yet)", id.Hex())
	case "expired":
		return nil, fmt.Errorf("job %s expired at block %d without a result", id.Hex(), j.Expiry)
	}
	return f.results[id], nil
}

func (f *fakeAPI) NodeInfo() node.RPCNodeInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return node.RPCNodeInfo{ID: "12D3KooWfake", Network: "test", ChainID: testChainID, Head: f.head, Backend: "portable"}
}

func (f *fakeAPI) Syncing() any { return false }

func (f *fakeAPI) MinerRewards(addr common.Address) node.RPCRewards {
	return node.RPCRewards{Address: addr, Total: "2500000000000000000", Blocks: 3}
}

// JobBaseFee is the work part at baseFee a MAC plus the devnet's byte fee.
func (f *fakeAPI) JobBaseFee(work uint64, bytes *uint64) string {
	fee := new(uint256.Int).Mul(f.baseFee, uint256.NewInt(work))
	if bytes != nil {
		fee.Add(fee, new(uint256.Int).Mul(fakeParams().JobByteFee, uint256.NewInt(*bytes)))
	}
	return fee.Dec()
}

// JobLimits are the devnet's caps.
func (f *fakeAPI) JobLimits() node.RPCJobLimits { return node.JobLimitsOf(fakeParams()) }

// fakeParams are the params the fake node serves its caps from: the devnet's.
func fakeParams() *types.Params {
	p := chain.DevGenesis().Config
	return &p
}

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

// startFake serves api over HTTP and returns its URL.
func startFake(t *testing.T, api *fakeAPI) string {
	t.Helper()
	srv := rpc.NewServer()
	if err := srv.RegisterName("quern", api); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Stop() })
	return hs.URL
}

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

func TestWalletBalance(t *testing.T) {
	api := newFakeAPI()
	addr := common.HexToAddress("0x1111111111111111111111111111111111111111")
	api.balances[addr] = qrn("1000000")
	other := common.HexToAddress("0x2222222222222222222222222222222222222222")
	api.balances[other] = qrn("0.5")
	url := startFake(t, api)

	for a, want := range map[common.Address]string{addr: "1000000 QRN\n", other: "0.5 QRN\n", {}: "0 QRN\n"} {
		out, stderr, code := quern(t, "wallet", "balance", "--rpc", url, a.Hex())
		if code != 0 || out != want {
			t.Errorf("balance %s: %q (exit %d, %s), want %q", a.Hex(), out, code, stderr, want)
		}
	}
	_, stderr, code := quern(t, "wallet", "balance", "--rpc", url, "0x12")
	wantError(t, stderr, code, `bad address "0x12": want 40 hex digits`)
	_, stderr, code = quern(t, "wallet", "balance", "--rpc", url)
	wantError(t, stderr, code, "missing ADDRESS")
}

func TestWalletSend(t *testing.T) {
	api := newFakeAPI()
	api.mineSent = true
	url := startFake(t, api)
	dir, _, from := testKey(t, "pw")
	api.balances[from] = qrn("10")
	api.pending[from], api.latest[from] = 3, 3
	to := common.HexToAddress("0x2222222222222222222222222222222222222222")

	out, stderr, code := quern(t, "wallet", "send", "--rpc", url, "--keystore", dir, "--from", from.Hex(), "--to", to.Hex(),
		"--value", "1.5", "--password-file", passwordFile(t, "pw\r\n"), "--wait", "--poll", "10ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(api.sent) != 1 {
		t.Fatalf("%d txs sent", len(api.sent))
	}
	tx := api.sent[0]
	sender, err := tx.Sender()
	if err != nil || sender != from {
		t.Fatalf("recovered sender %s (%v), want %s", sender.Hex(), err, from.Hex())
	}
	if tx.ChainID != testChainID || tx.Nonce != 3 || tx.Kind != types.TxTransfer || tx.To != to ||
		!tx.Value.Eq(qrn("1.5")) || !tx.Fee.Eq(qrn("0.001")) {
		t.Fatalf("tx %+v", tx)
	}
	// stdout carries only the hash, so scripts can capture it; progress goes to stderr.
	if want := tx.Hash().Hex() + "\n"; out != want {
		t.Fatalf("printed %q, want %q", out, want)
	}
	if !strings.Contains(stderr, "included in block 77 (0xb1") {
		t.Fatalf("stderr %q, want the inclusion note with the block", stderr)
	}
}

func TestWalletSendChecks(t *testing.T) {
	api := newFakeAPI()
	url := startFake(t, api)
	dir, _, from := testKey(t, "pw")
	api.balances[from] = qrn("1.2")
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

	if len(api.sent) != 0 {
		t.Fatalf("a failed check still sent %d txs", len(api.sent))
	}
}

func TestWalletSendWaitTimeout(t *testing.T) {
	api := newFakeAPI() // never includes anything
	url := startFake(t, api)
	dir, _, from := testKey(t, "")
	api.balances[from] = qrn("10")
	out, stderr, code := quern(t, "wallet", "send", "--rpc", url, "--keystore", dir, "--password-file", passwordFile(t, ""),
		"--from", from.Hex(), "--to", from.Hex(), "--value", "1", "--wait", "--timeout", "100ms", "--poll", "10ms")
	wantError(t, stderr, code, "not included after 100ms")
	if !strings.HasPrefix(out, "0x") {
		t.Fatalf("tx hash not printed before waiting: %q", out)
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

func TestJobSubmitMatMul(t *testing.T) {
	api := newFakeAPI()
	api.mineSent = true
	url := startFake(t, api)
	ks, _, from := testKey(t, "pw")
	api.balances[from] = qrn("100")
	dir := t.TempDir()
	aPath, a := saveInt8(t, dir, "a.npy", 16, 32, func(i, j int) int8 { return int8((i*7+j*3)%225 - 112) })
	bPath, b := saveInt8(t, dir, "b.npy", 32, 8, func(i, j int) int8 { return int8((i*5+j*11)%200 - 100) })
	work := uint64(16 * 32 * 8)
	prog, _ := vm.Encode(vm.NewMatMul(a, b))
	bytes := uint64(len(prog)) + 4*16*8                             // program and result
	base := new(uint256.Int).Mul(api.baseFee, uint256.NewInt(work)) // 0.00002048 QRN
	base.Add(base, new(uint256.Int).Mul(fakeParams().JobByteFee, uint256.NewInt(bytes)))
	args := []string{"job", "submit", "matmul", "--rpc", url, "--keystore", ks, "--from", from.Hex(),
		"--a", aPath, "--b", bPath, "--password-file", passwordFile(t, "pw")}

	_, stderr, code := quern(t, append(args, "--fee", "0.00001")...)
	wantError(t, stderr, code, fmt.Sprintf("fee 0.00001 QRN is below this job's base fee %s QRN (%d MACs, and %d bytes of program and result at 0.0000003 QRN a byte); pass --fee %s or more",
		formatQRN(base), work, bytes, formatQRN(base)))
	_, stderr, code = quern(t, args...)
	wantError(t, stderr, code, "--fee is required")

	out, stderr, code := quern(t, append(args, "--fee", "0.01", "--wait", "--poll", "10ms")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(api.sent) != 1 {
		t.Fatalf("%d txs sent", len(api.sent))
	}
	tx := api.sent[0]
	if sender, err := tx.Sender(); err != nil || sender != from {
		t.Fatalf("sender %s, %v", sender.Hex(), err)
	}
	if tx.Kind != types.TxJob || tx.ChainID != testChainID || tx.Expiry != 77+1000 || !tx.Fee.Eq(qrn("0.01")) {
		t.Fatalf("tx %+v", tx)
	}
	p, err := vm.Decode(tx.Program, chain.JobLimits(fakeParams()))
	if err != nil {
		t.Fatal(err)
	}
	gotA, gotB, _ := p.MatMulOperands()
	if fmt.Sprint(gotA) != fmt.Sprint(a) || fmt.Sprint(gotB) != fmt.Sprint(b) || p.Work() != work {
		t.Fatal("program does not carry the .npy inputs")
	}
	if want := tx.Hash().Hex() + "\n"; out != want {
		t.Fatalf("printed %q, want %q", out, want)
	}
	if !strings.Contains(stderr, "done in block 78\n") {
		t.Fatalf("stderr %q, want the done note", stderr)
	}

	// The result of that job, fetched as .npy.
	cPath := filepath.Join(dir, "c.npy")
	out, stderr, code = quern(t, "job", "result", "--rpc", url, "--out", cPath, tx.Hash().Hex())
	if code != 0 {
		t.Fatalf("job result: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "16×8") {
		t.Errorf("job result printed %q", out)
	}
	f, err := os.Open(cPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npy.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Descr.Type != "<i4" || r.Header.Descr.Fortran || fmt.Sprint(r.Header.Descr.Shape) != "[16 8]" {
		t.Fatalf("c.npy header %v", r.Header)
	}
	var c []int32
	if err := r.Read(&c); err != nil {
		t.Fatal(err)
	}
	if want := matmul(a, b); fmt.Sprint(c) != fmt.Sprint(want.Data) {
		t.Fatal("c.npy is not A·B")
	}

	// And its status.
	out, stderr, code = quern(t, "job", "status", "--rpc", url, tx.Hash().Hex())
	if code != 0 {
		t.Fatalf("job status: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"status:     done", "fee:        0.01 QRN", fmt.Sprintf("work:       %d MACs", work),
		"submitted:  block 78", "expiry:     block 1077", "done block: 78", "miner:      0x00000000000000000000000000000000000000AA"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("job status lacks %q:\n%s", want, out)
		}
	}
}

// TestJobSubmitChecksCapsBeforeSending: the CLI fetches the node's caps and
// refuses, before signing or sending, a job the node would refuse: the
// 3000×1·1×3000 job whose 36 MB result no block may carry, and an expiry
// past the job lifetime. The error names the cap and the numbers.
func TestJobSubmitChecksCapsBeforeSending(t *testing.T) {
	api := newFakeAPI()
	url := startFake(t, api)
	ks, _, from := testKey(t, "pw")
	api.balances[from] = qrn("100")
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
	if len(api.sent) != 0 {
		t.Fatalf("%d txs sent", len(api.sent))
	}
}

// TestCheckJob2048: a 2048×2048·2048×2048 job (8 MiB of inputs, a 16 MiB
// result: the devnet's result cap exactly) passes the CLI's local check; a
// row more does not.
func TestCheckJob2048(t *testing.T) {
	limits := node.JobLimitsOf(fakeParams())
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

func TestJobResultPending(t *testing.T) {
	api := newFakeAPI()
	url := startFake(t, api)
	id := common.HexToHash("0xabcdef")
	api.jobs[id] = &node.RPCJob{ID: id, Status: "pending", Fee: "1", Expiry: 100}
	out := filepath.Join(t.TempDir(), "c.npy")
	_, stderr, code := quern(t, "job", "result", "--rpc", url, "--out", out, id.Hex())
	wantError(t, stderr, code, fmt.Sprintf("job %s is pending (no result yet); try again after it is mined, or use --wait", id.Hex()))
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a pending job left an output file")
	}

	api.jobs[id].Status = "expired"
	_, stderr, code = quern(t, "job", "result", "--rpc", url, "--out", out, id.Hex())
	wantError(t, stderr, code, "expired after block 100")

	_, stderr, code = quern(t, "job", "result", "--rpc", url, "--out", out, common.HexToHash("0x99").Hex())
	wantError(t, stderr, code, "not found")

	// --wait polls until the job is done.
	api.jobs[id].Status = "pending"
	go func() {
		time.Sleep(50 * time.Millisecond)
		api.mu.Lock()
		api.finishJob(api.jobs[id], compute.I32{Rows: 1, Cols: 2, Data: []int32{-5, 7}})
		api.mu.Unlock()
	}()
	_, stderr, code = quern(t, "job", "result", "--rpc", url, "--out", out, "--wait", "--poll", "10ms", id.Hex())
	if code != 0 {
		t.Fatalf("job result --wait: exit %d: %s", code, stderr)
	}
	var c []int32
	f, _ := os.Open(out)
	defer f.Close()
	if err := npy.Read(f, &c); err != nil || fmt.Sprint(c) != "[-5 7]" {
		t.Fatalf("c.npy = %v, %v", c, err)
	}
}

func TestJobWaitExpired(t *testing.T) {
	api := newFakeAPI()
	url := startFake(t, api)
	id := common.HexToHash("0xabcdef")
	api.jobs[id] = &node.RPCJob{ID: id, Status: "expired", Fee: "1", Expiry: 100}
	_, stderr, code := quern(t, "job", "result", "--rpc", url, "--out", filepath.Join(t.TempDir(), "c.npy"), "--wait", "--poll", "10ms", id.Hex())
	wantError(t, stderr, code, "expired after block 100 without a result")
}

func TestChainCommands(t *testing.T) {
	api := newFakeAPI()
	url := startFake(t, api)
	out, stderr, code := quern(t, "chain", "head", "--rpc", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := fmt.Sprintf("height 77 hash %s\n", common.BigToHash(uint256.NewInt(77001).ToBig()).Hex()); out != want {
		t.Fatalf("chain head printed %q, want %q", out, want)
	}
	out, stderr, code = quern(t, "chain", "info", "--rpc", url)
	if code != 0 || !strings.Contains(out, "chain id: 4242\n") || !strings.Contains(out, "syncing:  no\n") {
		t.Fatalf("chain info: exit %d %s\n%s", code, stderr, out)
	}
	out, _, code = quern(t, "wallet", "rewards", "--rpc", url, "0x1111111111111111111111111111111111111111")
	if code != 0 || out != "total:  2.5 QRN\nblocks: 3\n" {
		t.Fatalf("wallet rewards printed %q", out)
	}
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

// Flags may follow the positional argument, as in "quern job result ID --out c.npy".
func TestFlagsAfterArguments(t *testing.T) {
	api := newFakeAPI()
	addr := common.HexToAddress("0x1111111111111111111111111111111111111111")
	api.balances[addr] = qrn("2.25")
	url := startFake(t, api)
	for _, args := range [][]string{
		{"wallet", "balance", addr.Hex(), "--rpc", url},
		{"wallet", "balance", addr.Hex(), "--rpc=" + url},
		{"wallet", "balance", "--rpc", url, addr.Hex()},
	} {
		out, stderr, code := quern(t, args...)
		if code != 0 || out != "2.25 QRN\n" {
			t.Errorf("%v: %q, exit %d, %s", args, out, code, stderr)
		}
	}
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
