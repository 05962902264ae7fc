package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/vm"
)

// The RPC server under abuse (docs/security.md, attacks 3, 4 and 6): real
// nodes on 127.0.0.1:0, real HTTP connections.

// heapSampler records the largest live heap seen while it runs.
type heapSampler struct {
	base, peak atomic.Uint64
	stop       chan struct{}
	done       chan struct{}
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func startHeapSampler() *heapSampler {
	runtime.GC()
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.base.Store(heapAlloc())
	s.peak.Store(s.base.Load())
	go func() {
		defer close(s.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				if h := heapAlloc(); h > s.peak.Load() {
					s.peak.Store(h)
				}
			}
		}
	}()
	return s
}

// growth stops the sampler and returns the peak growth over the start, MiB.
func (s *heapSampler) growth() (base, peak uint64) {
	close(s.stop)
	<-s.done
	return s.base.Load(), s.peak.Load()
}

const maxHeapGrowth = 64 << 20

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// post sends body to the node with the given Host (empty: the URL's) and
// extra headers, and returns the status, headers and answer.
func post(t *testing.T, url, host, method string, hdr map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, url, host, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(out)
}

const blockNumberCall = `{"jsonrpc":"2.0","id":1,"method":"quern_blockNumber","params":[]}`

// Attack 3: a thousand connections that declare a 4 MB body and send one
// byte. The server must not allocate the declared size, must close them
// within its read timeout, and must keep answering a normal client.
func TestRPCSlowBodies(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.RPCLimits.ReadHeaderTimeout = time.Second
	cfg.RPCLimits.ReadTimeout = time.Second
	cfg.RPCLimits.WriteTimeout = 2 * time.Second
	cfg.RPCLimits.IdleTimeout = time.Second
	tn := startNode(t, "node", cfg)
	addr := strings.TrimPrefix(tn.RPCEndpoint(), "http://")

	const conns, declared = 1000, 4_000_000
	heap := startHeapSampler()
	slow := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range slow {
			c.Close()
		}
	}()
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", addr, declared)
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial slow connection %d: %v", len(slow), err)
		}
		slow = append(slow, c)
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatalf("slow connection %d: %v", len(slow), err)
		}
	}

	// A normal client still gets its answer (it waits its turn for a
	// connection slot while the server times the slow ones out).
	c, err := rpc.Dial(tn.RPCEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var n uint64
	if err := c.CallContext(ctx, &n, "quern_blockNumber"); err != nil {
		t.Fatalf("normal request during the attack: %v", err)
	}

	// Every slow connection is closed by the server: reading it ends (EOF or
	// reset, after the server's "read timeout" answer), it does not hang.
	var wg sync.WaitGroup
	var hung, answered atomic.Int32
	for _, sc := range slow {
		wg.Add(1)
		go func(sc net.Conn) {
			defer wg.Done()
			sc.SetReadDeadline(time.Now().Add(2 * time.Minute))
			got, err := io.ReadAll(sc)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				hung.Add(1)
			}
			if bytes.HasPrefix(got, []byte("HTTP/1.1 ")) {
				answered.Add(1)
			}
		}(sc)
	}
	wg.Wait()
	base, peak := heap.growth()
	t.Logf("%d slow connections declaring %d bytes: heap %s before, peak %s (+%s); %d closed with an answer",
		conns, declared, mib(base), mib(peak), mib(peak-base), answered.Load())
	if hung.Load() > 0 {
		t.Fatalf("%d of %d slow connections were still open after 2 minutes", hung.Load(), conns)
	}
	if peak-base > maxHeapGrowth {
		t.Fatalf("heap grew by %s under slow bodies (bound %s): the declared Content-Length was allocated", mib(peak-base), mib(maxHeapGrowth))
	}
}

// signedTransfers returns count dev-key transfers with nonces from 0.
func signedTransfers(t *testing.T, p *types.Params, count int) []*types.Tx {
	t.Helper()
	txs := make([]*types.Tx, count)
	for i := range txs {
		txs[i] = &types.Tx{ChainID: p.ChainID, Nonce: uint64(i), Kind: types.TxTransfer, To: common.Address{byte(i), 1},
			Value: uint256.NewInt(1), Fee: new(uint256.Int).Set(p.MinTxFee)}
		if err := txs[i].Sign(chain.DevKey()); err != nil {
			t.Fatal(err)
		}
	}
	return txs
}

type rpcAnswer struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func batchOf(count int, method, params string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range count {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, i, method, params)
	}
	b.WriteByte(']')
	return b.String()
}

// Attack 4: a 1,000-item batch of getBlockByNumber over a full block. The
// item limit refuses it whole; under the item limit, the response-size limit
// cuts it; the heap stays bounded either way.
func TestRPCBatchLimits(t *testing.T) {
	cfg := testConfig(t.TempDir())
	const respLimit = 2 << 20 // below the default (8 MiB): 100 answers of a full block pass it
	cfg.RPCLimits.BatchResponseBytes = respLimit
	tn := startNode(t, "node", cfg)
	p := tn.Chain().Params()
	sealOn(t, tn.Chain(), signedTransfers(t, p, int(p.MaxBlockTxs))...)

	heap := startHeapSampler()
	req := batchOf(1000, "quern_getBlockByNumber", `["0x1"]`)
	code, _, body := post(t, tn.RPCEndpoint(), "", http.MethodPost, nil, req)
	var answers []rpcAnswer
	if err := json.Unmarshal([]byte(body), &answers); err != nil {
		t.Fatalf("HTTP %d, answer %.200q: %v", code, body, err)
	}
	if len(answers) != 1 || answers[0].Error == nil || answers[0].Error.Message != "batch too large" {
		t.Fatalf("1000-item batch: %d answers, first %.300s", len(answers), body)
	}
	t.Logf("1000-item batch (%d bytes): HTTP %d, %d bytes back: %s", len(req), code, len(body), body)

	items := DefaultRPCLimits().BatchItems
	code, _, body = post(t, tn.RPCEndpoint(), "", http.MethodPost, nil, batchOf(items, "quern_getBlockByNumber", `["0x1"]`))
	answers = nil
	if err := json.Unmarshal([]byte(body), &answers); err != nil {
		t.Fatalf("HTTP %d, answer %.200q: %v", code, body, err)
	}
	var served, cut int
	for _, a := range answers {
		switch {
		case a.Error == nil:
			served++
		case a.Error.Message == "response too large":
			cut++
		default:
			t.Fatalf("unexpected error in batch: %+v", a.Error)
		}
	}
	one := len(answers[0].Result)
	base, peak := heap.growth()
	t.Logf("%d-item batch over a %d-tx block (%d bytes an answer): %d served, %d cut, %d bytes back; heap %s before, peak %s (+%s)",
		items, p.MaxBlockTxs, one, served, cut, len(body), mib(base), mib(peak), mib(peak-base))
	if len(answers) != items || cut == 0 || served == 0 || served*one > respLimit+one {
		t.Fatalf("%d-item batch: %d answers, %d served, %d cut (limit %d bytes, %d an answer)", items, len(answers), served, cut, respLimit, one)
	}
	if peak-base > maxHeapGrowth {
		t.Fatalf("heap grew by %s under batches (bound %s)", mib(peak-base), mib(maxHeapGrowth))
	}

	// One answer per block hash: the second call is the cached answer.
	api := newAPI(tn.Node)
	if a, b := api.GetBlockByNumber(BlockNumber{Number: 1}), api.GetBlockByNumber(BlockNumber{Latest: true}); a != b || len(a.Txs) != int(p.MaxBlockTxs) {
		t.Fatal("getBlockByNumber rebuilt the answer of a block it had just answered")
	}
}

// Attack 6: DNS rebinding and browsers. A Host not in --rpc.vhosts is 403
// (IP addresses always pass); CORS headers only for --rpc.corsdomain.
func TestRPCVHostsAndCORS(t *testing.T) {
	tn := startNode(t, "default", testConfig(t.TempDir()))
	url := tn.RPCEndpoint()
	port := url[strings.LastIndex(url, ":")+1:]
	for _, tc := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LocalHost", http.StatusOK},
		{"evil.example:" + port, http.StatusForbidden},
		{"localhost.evil.example", http.StatusForbidden},
	} {
		code, _, body := post(t, url, tc.host, http.MethodPost, nil, blockNumberCall)
		if code != tc.want {
			t.Errorf("Host %s: HTTP %d %q, want %d", tc.host, code, body, tc.want)
		}
		if code == http.StatusForbidden && !strings.Contains(body, "--rpc.vhosts") {
			t.Errorf("Host %s: 403 body %q does not name --rpc.vhosts", tc.host, body)
		}
	}

	preflight := map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "content-type"}
	if _, hdr, _ := post(t, url, "", http.MethodOptions, preflight, ""); hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight without --rpc.corsdomain allowed origin %q", hdr.Get("Access-Control-Allow-Origin"))
	}

	cfg := testConfig(t.TempDir())
	cfg.RPCVHosts = []string{"node.example"}
	cfg.RPCCorsDomains = []string{"https://app.example"}
	cors := startNode(t, "cors", cfg)
	url = cors.RPCEndpoint()
	if code, _, _ := post(t, url, "node.example", http.MethodPost, nil, blockNumberCall); code != http.StatusOK {
		t.Fatalf("Host node.example in --rpc.vhosts: HTTP %d", code)
	}
	if code, _, _ := post(t, url, "localhost", http.MethodPost, nil, blockNumberCall); code != http.StatusForbidden {
		t.Fatalf("Host localhost not in --rpc.vhosts node.example: HTTP %d", code)
	}
	code, hdr, _ := post(t, url, "", http.MethodOptions, preflight, "")
	if code != http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		hdr.Get("Access-Control-Allow-Methods") != "POST" || hdr.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Fatalf("preflight from an allowed origin: HTTP %d, headers %v", code, hdr)
	}
	preflight["Origin"] = "https://evil.example"
	if _, hdr, _ := post(t, url, "", http.MethodOptions, preflight, ""); hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin allowed %q", hdr.Get("Access-Control-Allow-Origin"))
	}
	code, hdr, body := post(t, url, "", http.MethodPost, map[string]string{"Origin": "https://app.example"}, blockNumberCall)
	if code != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(body, `"result"`) {
		t.Fatalf("call from an allowed origin: HTTP %d, headers %v, %q", code, hdr, body)
	}
}

func TestVHostHandler(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		vhosts []string
		host   string
		want   int
	}{
		{nil, "127.0.0.1:8545", 200},
		{nil, "localhost:8545", 403},
		{[]string{"localhost"}, "localhost:8545", 200},
		{[]string{"localhost"}, "localhost", 200},
		{[]string{"localhost"}, "10.1.2.3", 200},
		{[]string{"localhost"}, "[fe80::1]:8545", 200},
		{[]string{"localhost"}, "rebind.evil.example", 403},
		{[]string{"*"}, "rebind.evil.example:80", 200},
		{[]string{"Node.Example"}, "node.example:80", 200},
		{[]string{"localhost"}, "", 200},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Host = tc.host
		newVHostHandler(tc.vhosts, ok).ServeHTTP(rec, r)
		if rec.Code != tc.want {
			t.Errorf("vhosts %v, Host %q: %d, want %d", tc.vhosts, tc.host, rec.Code, tc.want)
		}
	}
}

// rawHTTP writes head and then body (from a goroutine: the server may answer
// and close before it has read it all) and returns the status line and body.
func rawHTTP(t *testing.T, addr, head string, body io.Reader) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	go func() {
		io.WriteString(c, head)
		if body != nil {
			io.Copy(c, body)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.Status, string(out)
}

// chunks writes n bytes of JSON-ish filler in HTTP chunked encoding.
type chunks struct{ left int }

func (c *chunks) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	const framing = 32 // chunk size line, CRLF and the last chunk
	if len(p) <= framing {
		return 0, io.ErrShortBuffer
	}
	n := min(len(p)-framing, c.left)
	c.left -= n
	hdr := fmt.Sprintf("%x\r\n", n)
	k := copy(p, hdr)
	for i := range n {
		p[k+i] = ' '
	}
	k += n
	k += copy(p[k:], "\r\n")
	if c.left == 0 {
		k += copy(p[k:], "0\r\n\r\n")
	}
	return k, nil
}

// The body limit: the largest valid tx, hex-encoded, in its envelope passes
// the HTTP layer; one byte more declared is 413 with the limit in words, and
// so is a chunked body that runs over.
func TestRPCBodyLimit(t *testing.T) {
	tn := startNode(t, "node", testConfig(t.TempDir()))
	p := tn.Chain().Params()
	limit := MaxRPCBodyBytes(p)
	addr := strings.TrimPrefix(tn.RPCEndpoint(), "http://")
	wantMsg := fmt.Sprintf("is over this node's limit of %d bytes", limit)

	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, limit+1)
	status, body := rawHTTP(t, addr, head, nil)
	if !strings.HasPrefix(status, "413") || !strings.Contains(body, fmt.Sprintf("request body of %d bytes %s", limit+1, wantMsg)) {
		t.Fatalf("declared %d bytes: %s %q, want 413 naming the limit", limit+1, status, body)
	}
	head = fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", addr)
	status, body = rawHTTP(t, addr, head, &chunks{left: int(limit) + 1})
	if !strings.HasPrefix(status, "413") || !strings.Contains(body, wantMsg) {
		t.Fatalf("chunked body over the limit: %s %q, want 413 naming the limit", status, body)
	}

	// The go-ethereum client (as the CLI uses it) sees the status and the message.
	big := bytes.Repeat([]byte{0xab}, int(limit)/2+1)
	err := tn.rpc.Call(nil, "quern_sendRawTransaction", hexutil.Bytes(big))
	var he rpc.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(he.Body), wantMsg) {
		t.Fatalf("client call over the limit: %v", err)
	}

	// A tx of exactly the largest valid size: through HTTP and JSON, decoded,
	// and refused by the pool on its merits (its program is filler).
	tx := &types.Tx{ChainID: p.ChainID, Kind: types.TxJob, Value: new(uint256.Int), Fee: uint256.NewInt(1), Expiry: 5}
	tx.Program = make([]byte, p.MaxTxBytes())
	for {
		raw, err := rlp.EncodeToBytes(tx)
		if err != nil {
			t.Fatal(err)
		}
		over := len(raw) + 65 + 2 - int(p.MaxTxBytes()) // a signature adds 65 bytes and a header
		if over <= 0 {
			break
		}
		tx.Program = tx.Program[:len(tx.Program)-over]
	}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	raw, err := rlp.EncodeToBytes(tx)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > int(p.MaxTxBytes()) || len(raw) < int(p.MaxTxBytes())-8 {
		t.Fatalf("test tx is %d bytes, want about %d", len(raw), p.MaxTxBytes())
	}
	req := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"quern_sendRawTransaction","params":["%s"]}`, hexutil.Encode(raw))
	code, _, answer := post(t, tn.RPCEndpoint(), "", http.MethodPost, nil, req)
	var a rpcAnswer
	if err := json.Unmarshal([]byte(answer), &a); err != nil || code != http.StatusOK {
		t.Fatalf("largest tx (%d bytes, %d-byte request, limit %d): HTTP %d %.300q", len(raw), len(req), limit, code, answer)
	}
	if a.Error == nil || strings.Contains(a.Error.Message, "parse") || strings.Contains(a.Error.Message, "decode transaction") {
		t.Fatalf("largest tx (%d bytes): %s, want the pool's own refusal", len(raw), answer)
	}
	t.Logf("largest tx %d bytes in a %d-byte request (limit %d): HTTP %d, %s", len(raw), len(req), limit, code, a.Error.Message)
}

// The largest job result (16 MiB, a 32 MiB hex answer) is served to a single
// call: single answers are not size-limited. In a batch it fits once; a
// second copy is cut by the batch response limit (the call that crosses it
// is answered, the rest are not).
func TestRPCLargestJobResult(t *testing.T) {
	tn := startNode(t, "node", testConfig(t.TempDir()))
	p := tn.Chain().Params()
	side := 1
	for uint64(4*(side*2)*(side*2)) <= p.MaxJobResultBytes {
		side *= 2
	}
	prog := randomMatMul(t, 3, side, 1, side) // K = 1: a cheap product with the largest result
	if prog.ResultBytes() != p.MaxJobResultBytes {
		t.Fatalf("%d×1×%d result is %d bytes, want the cap %d", side, side, prog.ResultBytes(), p.MaxJobResultBytes)
	}
	code, err := vm.Encode(prog)
	if err != nil {
		t.Fatal(err)
	}
	fee := new(uint256.Int).Mul(uint256.NewInt(1000), types.QRN) // well above any base fee
	tx := &types.Tx{ChainID: p.ChainID, Kind: types.TxJob, Value: new(uint256.Int), Fee: fee, Expiry: 50, Program: code}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	sealOn(t, tn.Chain(), tx)
	product, err := vm.Run(compute.Portable(), prog)
	if err != nil {
		t.Fatal(err)
	}
	data := vm.EncodeResult(product)
	sealWithResults(t, tn.Chain(), nil, []*types.JobResult{{JobID: tx.Hash(), Rows: uint32(side), Cols: uint32(side), Data: data}})

	var res RPCJobResult
	tn.call(&res, "getJobResult", tx.Hash())
	if !bytes.Equal(res.Data, data) {
		t.Fatalf("getJobResult: %d bytes, want the %d-byte product", len(res.Data), len(data))
	}

	call := fmt.Sprintf(`{"jsonrpc":"2.0","id":%%d,"method":"quern_getJobResult","params":["%s"]}`, tx.Hash().Hex())
	_, _, body := post(t, tn.RPCEndpoint(), "", http.MethodPost, nil, "["+fmt.Sprintf(call, 1)+","+fmt.Sprintf(call, 2)+"]")
	var answers []rpcAnswer
	if err := json.Unmarshal([]byte(body), &answers); err != nil {
		t.Fatalf("batch of two results: %.300q: %v", body, err)
	}
	if len(answers) != 2 || answers[0].Error != nil || answers[1].Error == nil || answers[1].Error.Message != "response too large" {
		t.Fatalf("batch of two largest results: %d answers (first error %+v)", len(answers), answers[0].Error)
	}
	t.Logf("largest result: %d bytes, single answer %d bytes hex; batch of two: first served, second %q (limit %d bytes)",
		len(data), 2*len(data), answers[1].Error.Message, DefaultRPCLimits().BatchResponseBytes)
}

// --rpc.vhosts and --rpc.corsdomain: defaults, the TOML file, and checks.
func TestRPCHostConfig(t *testing.T) {
	def := DefaultConfig()
	if len(def.RPCVHosts) != 1 || def.RPCVHosts[0] != "localhost" || def.RPCCorsDomains != nil {
		t.Fatalf("defaults: vhosts %q, corsdomain %q", def.RPCVHosts, def.RPCCorsDomains)
	}
	cfg := DefaultConfig()
	p := writeConfig(t, "[rpc]\nvhosts = [\"node.example\", \"localhost\"]\ncorsdomain = [\"https://app.example\"]\n")
	if err := ApplyConfigFile(p, &cfg); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.RPCVHosts, ",") != "node.example,localhost" || strings.Join(cfg.RPCCorsDomains, ",") != "https://app.example" {
		t.Fatalf("from the file: vhosts %q, corsdomain %q", cfg.RPCVHosts, cfg.RPCCorsDomains)
	}
	for _, tc := range []struct {
		vhosts, cors []string
		want         string
	}{
		{[]string{"http://node.example"}, nil, `--rpc.vhosts entry "http://node.example": give a host name without scheme or port`},
		{[]string{"localhost:8545"}, nil, `--rpc.vhosts entry "localhost:8545"`},
		{nil, []string{"app.example"}, `--rpc.corsdomain entry "app.example": give a web origin with its scheme`},
	} {
		cfg := testConfig(t.TempDir())
		cfg.RPCVHosts, cfg.RPCCorsDomains = tc.vhosts, tc.cors
		if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("vhosts %q corsdomain %q: %v, want %q", tc.vhosts, tc.cors, err, tc.want)
		}
	}
}

// Attack 3, with real bytes: clients that each send a body just under the
// limit can together make the node hold no more than the shared in-flight
// budget; past it they get 503, and the budget comes back as bodies end.
func TestRPCInFlightBodyBudget(t *testing.T) {
	const limit, budget = 800 << 10, 1 << 20
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, "ok")
	})
	h := newBodyLimitHandler(next, limit, budget)

	// A sends 700 KiB and holds its body open.
	pr, pw := io.Pipe()
	aDone := make(chan *httptest.ResponseRecorder)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", pr))
		aDone <- rec
	}()
	if _, err := pw.Write(make([]byte, 700<<10)); err != nil {
		t.Fatal(err)
	}
	for h.budget.Load() > budget-700<<10 {
		time.Sleep(time.Millisecond) // A's bytes are taken as they are read
	}

	// B's 600 KiB would take the total past the budget: 503, nothing held.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(make([]byte, 600<<10))))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "in flight") {
		t.Fatalf("second body past the budget: %d %q, want 503", rec.Code, rec.Body.String())
	}
	if got := h.budget.Load(); got != budget-700<<10 {
		t.Fatalf("budget %d after the refused body, want %d (its bytes given back)", got, budget-700<<10)
	}

	pw.Close()
	if a := <-aDone; a.Code != http.StatusOK {
		t.Fatalf("first body: %d %q", a.Code, a.Body.String())
	}
	if got := h.budget.Load(); got != budget {
		t.Fatalf("budget %d after both requests, want all %d back", got, budget)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(make([]byte, 600<<10))))
	if rec.Code != http.StatusOK {
		t.Fatalf("the same body once the budget is free: %d %q", rec.Code, rec.Body.String())
	}
}
