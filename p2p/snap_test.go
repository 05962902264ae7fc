package p2p

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// --- Framing and caps: no chain side needed. ---

// fakeSnapChain serves snap/1 from maps on top of a fakeChain.
type fakeSnapChain struct {
	*fakeChain
	nodes       map[common.Hash][]byte
	txs         map[common.Hash]*types.Tx
	checkpoints map[common.Hash][]byte
	starts      map[uint64][]byte // trainstart answers by block number (any job)
}

func newFakeSnapChain(g *types.Block) *fakeSnapChain {
	return &fakeSnapChain{fakeChain: newFakeChain(g), nodes: map[common.Hash][]byte{},
		txs: map[common.Hash]*types.Tx{}, checkpoints: map[common.Hash][]byte{}, starts: map[uint64][]byte{}}
}

func (c *fakeSnapChain) HeaderByNumber(n uint64) *types.Header {
	if b := c.GetBlockByNumber(n); b != nil {
		return b.Header
	}
	return nil
}
func (c *fakeSnapChain) StateNode(h common.Hash) ([]byte, bool) { b, ok := c.nodes[h]; return b, ok }
func (c *fakeSnapChain) GetTransaction(h common.Hash) (*types.Tx, *chain.TxLookup, bool) {
	tx, ok := c.txs[h]
	return tx, &chain.TxLookup{}, ok
}
func (c *fakeSnapChain) JobCheckpoint(r common.Hash) ([]byte, bool) {
	b, ok := c.checkpoints[r]
	return b, ok
}
func (c *fakeSnapChain) InsertSnapHeaders([]*types.Header, ...*chain.SnapSealPieces) error {
	return errors.New("fake")
}
func (c *fakeSnapChain) VerifySnapSeal(*types.Header, *chain.SnapSealPieces) error {
	return errors.New("fake")
}
func (c *fakeSnapChain) SnapNeedsTrainStart(*types.Header, *types.Block, *types.Tx) bool {
	return false
}
func (c *fakeSnapChain) SnapTrainStart(n uint64, _ common.Hash) ([]byte, bool) {
	b, ok := c.starts[n]
	return b, ok
}
func (c *fakeSnapChain) NewSnapState(*types.Block) (*chain.SnapState, error) {
	return nil, errors.New("fake")
}

func (c *fakeSnapChain) addNode(blob []byte) common.Hash {
	h := crypto.Keccak256Hash(blob)
	c.nodes[h] = blob
	return h
}

// snapServer is a Service that serves c without being started.
func snapServer(t *testing.T, c *fakeSnapChain) *Service {
	t.Helper()
	s, err := New(testConfig(), c, newFakePool())
	if err != nil {
		t.Fatal(err)
	}
	if s.snap == nil {
		t.Fatal("a chain with the SnapChain methods does not serve snap")
	}
	s.ctx = context.Background()
	return s
}

// exchange serves req and reads the answer back as a client does.
func exchange(t *testing.T, s *Service, req *snapRequest) ([][]byte, error) {
	t.Helper()
	enc := mustRLP(t, req)
	if len(enc) > maxSnapRequestBytes {
		t.Fatalf("request of %d bytes over the %d cap", len(enc), maxSnapRequestBytes)
	}
	got, err := decodeSnapRequest(enc)
	if err != nil {
		t.Fatalf("request does not decode: %v", err)
	}
	var buf bytes.Buffer
	if err := s.serveSnap(&buf, got); err != nil {
		t.Fatal(err)
	}
	return readSnapResponse(bufio.NewReader(&buf), req, testCaps)
}

func hashes(n int, salt byte) []common.Hash {
	out := make([]common.Hash, n)
	for i := range out {
		out[i] = common.Hash{salt, byte(i >> 8), byte(i)}
	}
	return out
}

func TestSnapRequestDecode(t *testing.T) {
	good := []*snapRequest{
		{Kind: snapHeaders, From: 7, Count: 5000},
		{Kind: snapNodes, Hashes: hashes(maxSnapNodes, 1)},
		{Kind: snapJobTxs, Hashes: hashes(maxSnapJobTxs, 2)},
		{Kind: snapCheckpoints, Hashes: hashes(maxSnapCheckpoints, 3)},
		{Kind: snapTrainStart, From: 12, Hashes: hashes(1, 4)},
	}
	for _, r := range good {
		enc := mustRLP(t, r)
		if len(enc) > maxSnapRequestBytes {
			t.Fatalf("kind %d: a full request is %d bytes, over the %d-byte frame cap", r.Kind, len(enc), maxSnapRequestBytes)
		}
		got, err := decodeSnapRequest(enc)
		if err != nil {
			t.Fatalf("kind %d: %v", r.Kind, err)
		}
		if got.Kind != r.Kind || got.From != r.From || got.Count != r.Count || !slices.Equal(got.Hashes, r.Hashes) {
			t.Fatalf("kind %d: round trip %+v", r.Kind, got)
		}
	}
	if n := (&snapRequest{Kind: snapHeaders, Count: 5000}).maxItems(); n != maxSnapHeaders {
		t.Fatalf("a headers answer may carry %d, want %d", n, maxSnapHeaders)
	}
	bad := map[string]*snapRequest{
		"unknown kind":         {Kind: 5, Hashes: hashes(1, 0)},
		"trainstart, 2 jobs":   {Kind: snapTrainStart, From: 1, Hashes: hashes(2, 0)},
		"trainstart, count":    {Kind: snapTrainStart, From: 1, Count: 1, Hashes: hashes(1, 0)},
		"trainstart, no job":   {Kind: snapTrainStart, From: 1},
		"headers with hashes":  {Kind: snapHeaders, Count: 1, Hashes: hashes(1, 0)},
		"nodes with from":      {Kind: snapNodes, From: 1, Hashes: hashes(1, 0)},
		"nodes with count":     {Kind: snapNodes, Count: 1, Hashes: hashes(1, 0)},
		"nodes without hashes": {Kind: snapNodes},
		"513 nodes":            {Kind: snapNodes, Hashes: hashes(maxSnapNodes+1, 0)},
		"65 job txs":           {Kind: snapJobTxs, Hashes: hashes(maxSnapJobTxs+1, 0)},
		"17 checkpoints":       {Kind: snapCheckpoints, Hashes: hashes(maxSnapCheckpoints+1, 0)},
	}
	for name, r := range bad {
		if _, err := decodeSnapRequest(mustRLP(t, r)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := decodeSnapRequest([]byte{0xc1, 0x80, 0x01}); err == nil {
		t.Error("garbage accepted")
	}
}

// TestSnapHeaderCap: the largest header a chain can hold fits the cap.
func TestSnapHeaderCap(t *testing.T) {
	ff := common.Hash{}
	for i := range ff {
		ff[i] = 0xff
	}
	h := &types.Header{ParentHash: ff, Number: math.MaxUint64, Time: math.MaxUint64, Coinbase: common.Address(ff[:20]),
		Difficulty: math.MaxUint64, StateRoot: ff, TxRoot: ff, ResultRoot: ff,
		Seal: types.Seal{Nonce: math.MaxUint64, Work: types.Work{JobID: ff, Op: math.MaxUint32, Step: math.MaxUint32},
			TileI: math.MaxUint32, TileJ: math.MaxUint32, TileDigest: ff}}
	if n := len(mustRLP(t, h)); n > maxSnapHeaderBytes {
		t.Fatalf("largest header %d bytes, cap %d", n, maxSnapHeaderBytes)
	}
}

func TestSnapServeHeaders(t *testing.T) {
	g := testGenesis()
	c := newFakeSnapChain(g)
	c.mustInsert(makeBlocks(g, 1500, 1)...)
	s := snapServer(t, c)

	req := &snapRequest{Kind: snapHeaders, From: 0, Count: 5000}
	frames, err := exchange(t, s, req)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := decodeSnapHeaders(frames, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != maxSnapHeaders || hs[0].Hash() != g.Hash() || hs[1023].Hash() != c.GetBlockByNumber(1023).Hash() {
		t.Fatalf("got %d headers from 0", len(hs))
	}
	// The chain ends: fewer; past it: none.
	req = &snapRequest{Kind: snapHeaders, From: 1400, Count: 1024}
	if frames, err = exchange(t, s, req); err != nil || len(frames) != 101 {
		t.Fatalf("from 1400: %d headers, %v; want 101", len(frames), err)
	}
	if frames, err = exchange(t, s, &snapRequest{Kind: snapHeaders, From: 1501, Count: 10}); err != nil || len(frames) != 0 {
		t.Fatalf("past the head: %d headers, %v", len(frames), err)
	}

	// The client checks numbering and linkage.
	req = &snapRequest{Kind: snapHeaders, From: 5, Count: 3}
	b := makeBlocks(g, 10, 1)
	other := makeBlocks(g, 10, 2)
	for name, hs := range map[string][]*types.Header{
		"gap":        {b[4].Header, b[6].Header},
		"wrong from": {b[3].Header},
		"no link":    {b[4].Header, other[5].Header},
	} {
		var frames [][]byte
		for _, h := range hs {
			frames = append(frames, mustRLP(t, h))
		}
		if _, err := decodeSnapHeaders(frames, req); !errors.Is(err, errBadResponse) {
			t.Errorf("%s: %v, want a bad response", name, err)
		}
	}
	// More headers than asked, or one over the byte cap, are refused.
	var over bytes.Buffer
	for _, blk := range b[4:8] {
		writeFrame(&over, mustRLP(t, blk.Header))
	}
	if _, err := readSnapResponse(bufio.NewReader(&over), req, testCaps); !errors.Is(err, errBadResponse) {
		t.Errorf("4 headers for 3: %v", err)
	}
	over.Reset()
	writeFrame(&over, make([]byte, maxSnapHeaderBytes+1))
	if _, err := readSnapResponse(bufio.NewReader(&over), req, testCaps); !errors.Is(err, errBadResponse) {
		t.Errorf("a header over the cap: %v", err)
	}
}

func TestSnapServeNodes(t *testing.T) {
	c := newFakeSnapChain(testGenesis())
	var want []common.Hash
	for i := range 600 {
		want = append(want, c.addNode([]byte{0xc2, byte(i >> 8), byte(i)}))
	}
	s := snapServer(t, c)

	// Known ones in request order, unknown ones skipped.
	ask := []common.Hash{want[5], {0xde, 0xad}, want[2], want[9]}
	req := &snapRequest{Kind: snapNodes, Hashes: ask}
	frames, err := exchange(t, s, req)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := decodeSnapBlobs(frames, req, true, maxSnapNodeBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 3 || crypto.Keccak256Hash(blobs[1]) != want[2] {
		t.Fatalf("got %d nodes", len(blobs))
	}

	// A node we did not ask for, or out of order, proves a lie.
	for name, bs := range map[string][][]byte{
		"unasked":      {c.nodes[want[5]], {0xc1, 0x01}},
		"out of order": {c.nodes[want[2]], c.nodes[want[5]]},
		"twice":        {c.nodes[want[5]], c.nodes[want[5]]},
	} {
		var frames [][]byte
		for _, b := range bs {
			frames = append(frames, mustRLP(t, b))
		}
		if _, err := decodeSnapBlobs(frames, req, true, maxSnapNodeBytes); !errors.Is(err, errSnapRefused) || !errors.Is(err, errBadResponse) {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}

	// Big nodes: the answer stops past 2 MiB, but one is always sent.
	big := make([]common.Hash, 0, 4)
	for i := range 4 {
		blob := bytes.Repeat([]byte{byte(i + 1)}, 700<<10)
		big = append(big, c.addNode(blob))
	}
	req = &snapRequest{Kind: snapNodes, Hashes: big}
	if frames, err = exchange(t, s, req); err != nil || len(frames) != 2 {
		t.Fatalf("big nodes: %d sent, %v; want 2 (2 MiB soft cap)", len(frames), err)
	}
	huge := c.addNode(bytes.Repeat([]byte{9}, maxSnapNodeBytes+1))
	if frames, err = exchange(t, s, &snapRequest{Kind: snapNodes, Hashes: []common.Hash{huge, want[0]}}); err != nil || len(frames) != 1 {
		t.Fatalf("a node over the cap: %d sent, %v; want it skipped", len(frames), err)
	}

	// The client refuses a node over the cap, a response over the total
	// cap, and more nodes than asked.
	var buf bytes.Buffer
	writeFrame(&buf, mustRLP(t, bytes.Repeat([]byte{1}, maxSnapNodeBytes+1)))
	frames, err = readSnapResponse(bufio.NewReader(&buf), &snapRequest{Kind: snapNodes, Hashes: big}, testCaps)
	if err == nil {
		_, err = decodeSnapBlobs(frames, req, false, maxSnapNodeBytes)
	}
	if !errors.Is(err, errBadResponse) {
		t.Errorf("node over the cap: %v", err)
	}
	buf.Reset()
	writeFrame(&buf, mustRLP(t, bytes.Repeat([]byte{1}, maxSnapNodeBytes+16)))
	if _, err := readSnapResponse(bufio.NewReader(&buf), &snapRequest{Kind: snapNodes, Hashes: big}, testCaps); !errors.Is(err, errBadResponse) {
		t.Errorf("node frame over the cap: %v", err)
	}
	buf.Reset()
	for range 4 {
		writeFrame(&buf, mustRLP(t, bytes.Repeat([]byte{1}, maxSnapNodeBytes)))
	}
	if _, err := readSnapResponse(bufio.NewReader(&buf), &snapRequest{Kind: snapNodes, Hashes: big}, testCaps); !errors.Is(err, errBadResponse) {
		t.Errorf("4 MiB answer: %v", err)
	}
	buf.Reset()
	for range 2 {
		writeFrame(&buf, mustRLP(t, []byte{1}))
	}
	if _, err := readSnapResponse(bufio.NewReader(&buf), &snapRequest{Kind: snapNodes, Hashes: big[:1]}, testCaps); !errors.Is(err, errBadResponse) {
		t.Errorf("2 nodes for 1: %v", err)
	}
}

func TestSnapServeJobTxsAndCheckpoints(t *testing.T) {
	c := newFakeSnapChain(testGenesis())
	key, _ := crypto.GenerateKey()
	sign := func(tx *types.Tx) *types.Tx {
		if err := tx.Sign(key); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	job := sign(&types.Tx{ChainID: 7, Kind: types.TxJob, Value: new(uint256.Int), Fee: uint256.NewInt(9), Expiry: 10, Program: []byte{1, 2, 3}})
	job2 := sign(&types.Tx{ChainID: 7, Nonce: 1, Kind: types.TxJob, Value: new(uint256.Int), Fee: uint256.NewInt(9), Expiry: 10, Program: []byte{4}})
	plain := sign(&types.Tx{ChainID: 7, Nonce: 2, Value: uint256.NewInt(1), Fee: uint256.NewInt(1)})
	for _, tx := range []*types.Tx{job, job2, plain} {
		c.txs[tx.Hash()] = tx
	}
	s := snapServer(t, c)

	req := &snapRequest{Kind: snapJobTxs, Hashes: []common.Hash{job2.Hash(), plain.Hash(), {1}, job.Hash()}}
	frames, err := exchange(t, s, req)
	if err != nil {
		t.Fatal(err)
	}
	txs, err := decodeSnapTxs(frames, req, testCaps.tx)
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 2 || txs[0].Hash() != job2.Hash() || txs[1].Hash() != job.Hash() {
		t.Fatalf("got %d job txs (a transfer is not served)", len(txs))
	}
	for name, bad := range map[string]*types.Tx{"transfer": plain, "unasked": sign(&types.Tx{ChainID: 7, Nonce: 3, Kind: types.TxJob, Value: new(uint256.Int), Fee: uint256.NewInt(1)})} {
		if _, err := decodeSnapTxs([][]byte{mustRLP(t, bad)}, req, testCaps.tx); !errors.Is(err, errBadResponse) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := decodeSnapTxs([][]byte{mustRLP(t, job)}, req, 10); !errors.Is(err, errBadResponse) {
		t.Errorf("a tx over the cap: %v", err)
	}

	root := common.Hash{0xcc}
	c.checkpoints[root] = []byte("weights")
	req = &snapRequest{Kind: snapCheckpoints, Hashes: []common.Hash{{0xdd}, root}}
	if frames, err = exchange(t, s, req); err != nil {
		t.Fatal(err)
	}
	states, err := decodeSnapBlobs(frames, req, false, testCaps.block)
	if err != nil || len(states) != 1 || string(states[0]) != "weights" {
		t.Fatalf("checkpoints: %q, %v", states, err)
	}

	c.starts[7] = []byte("start")
	for n, want := range map[uint64]int{7: 1, 8: 0} {
		req = &snapRequest{Kind: snapTrainStart, From: n, Hashes: []common.Hash{job.Hash()}}
		if frames, err = exchange(t, s, req); err != nil {
			t.Fatal(err)
		}
		states, err := decodeSnapBlobs(frames, req, false, testCaps.block)
		if err != nil || len(states) != want || (want == 1 && string(states[0]) != "start") {
			t.Fatalf("trainstart of block %d: %q, %v", n, states, err)
		}
	}
}

func TestSnapPivotChoice(t *testing.T) {
	g := testGenesis()
	c := newFakeSnapChain(g)
	cfg := testConfig()
	cfg.SnapSync = true
	s, err := New(cfg, c, newFakePool())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		head, peer, pivot uint64
		ok                bool
	}{
		{0, 64, 0, false}, // no block below its head's last 64
		{0, 65, 1, true},  // from genesis, any pivot above it
		{0, 1000, 936, true},
		{100, 228, 0, false}, // 128 behind: replay
		{100, 229, 165, true},
	} {
		c.head = &types.Block{Header: &types.Header{Number: tc.head}}
		pivot, ok := s.snapPivot(&statusMsg{Number: tc.peer}, false)
		if ok != tc.ok || pivot != tc.pivot {
			t.Errorf("head %d, peer %d: pivot %d %v, want %d %v", tc.head, tc.peer, pivot, ok, tc.pivot, tc.ok)
		}
	}
	s.snapOff.Store(true)
	if _, ok := s.snapPivot(&statusMsg{Number: 1000}, false); ok {
		t.Error("snap chosen after falling back to full sync")
	}
	// When no peer serves the range sync, snap runs anyway: close to the
	// head, after falling back, and up to the first block the peer serves whole.
	c.head = &types.Block{Header: &types.Header{Number: 100}}
	if pivot, ok := s.snapPivot(&statusMsg{Number: 200, OldestFull: 150}, true); !ok || pivot != 150 {
		t.Errorf("unserved: pivot %d %v, want 150 true", pivot, ok)
	}
	if _, ok := s.snapPivot(&statusMsg{Number: 200, OldestFull: 201}, true); ok {
		t.Error("a pivot above the peer's head")
	}
	s.snapOff.Store(false)
	if pivot, ok := s.snapPivot(&statusMsg{Number: 1000, OldestFull: 990}, false); !ok || pivot != 990 {
		t.Errorf("pivot %d %v, want the first block the peer serves whole, 990", pivot, ok)
	}
	if _, err := New(cfg, newFakeChain(g), newFakePool()); err == nil {
		t.Error("SnapSync accepted on a chain that cannot snap")
	}
}

// --- End to end: real chains on disk, real hosts on 127.0.0.1. ---

// openRealChain opens a dev-genesis chain in a temp dir with the fake
// engine: every seal passes, results and state are checked for real.
func openRealChain(t *testing.T) *chain.Chain { return openChainWith(t, consensus.NewFaker()) }

// openSealChain is openRealChain with sealEngine: job-work seals are checked.
func openSealChain(t *testing.T) *chain.Chain { return openChainWith(t, sealEngine{}) }

func openChainWith(t *testing.T, engine consensus.Engine) *chain.Chain {
	t.Helper()
	c, err := chain.Open(t.TempDir(), chain.DevGenesis(), engine, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// snapFixture is a chain whose state is worth fetching: accounts funded
// from the dev key (several requests' worth of trie nodes), a matrix job
// submitted below the pivot and answered above it (so the importer needs
// its program), and a training job pending at the pivot (its checkpoint).
type snapFixture struct {
	blocks   []*types.Block
	accounts []common.Address
	matmul   common.Hash
	train    common.Hash
}

func buildSnapFixture(t *testing.T, c *chain.Chain, n, accounts int) *snapFixture {
	t.Helper()
	p := c.Params()
	key := chain.DevKey()
	nonce := uint64(0)
	sign := func(tx *types.Tx) *types.Tx {
		tx.ChainID, tx.Nonce = p.ChainID, nonce
		nonce++
		if tx.Value == nil {
			tx.Value = new(uint256.Int)
		}
		if err := tx.Sign(key); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	fx := &snapFixture{}
	rng := rand.New(rand.NewPCG(1, 2))
	operands := func(rows, cols int) compute.I8 {
		m := compute.NewI8(rows, cols)
		for i := range m.Data {
			m.Data[i] = int8(rng.IntN(2*compute.OperandMax+1) - compute.OperandMax)
		}
		return m
	}
	a, b := operands(8, 8), operands(8, 8)
	matProg, err := vm.Encode(vm.NewMatMul(a, b))
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]byte, 64*8), make([]byte, 64)
	for i := range x {
		x[i] = byte(int8(rng.IntN(2*vm.OperandMax+1) - vm.OperandMax))
	}
	for i := range y {
		y[i] = byte(rng.IntN(3))
	}
	trainProg, err := vm.Encode(vm.NewTrain(vm.TrainSpec{Layers: []uint32{8, 16, 3}, Steps: 32, Batch: 16, LRShift: 6, Rows: 64, X: x, Y: y}))
	if err != nil {
		t.Fatal(err)
	}
	jobFee := func(code []byte, rows, cols uint32) *uint256.Int {
		prog, err := vm.Decode(code, chain.JobLimits(p))
		if err != nil {
			t.Fatal(err)
		}
		base := consensus.JobBaseFee(p, 4*p.InitialDifficulty, prog.Work(), consensus.JobBytes(len(code), rows, cols))
		return base.Add(base, new(uint256.Int).Mul(uint256.NewInt(1), types.QRN))
	}
	perBlock := 400
	for i := 1; i <= n; i++ {
		var txs []*types.Tx
		var results []*types.JobResult
		for j := 0; j < perBlock && len(fx.accounts) < accounts; j++ {
			to := common.Address{0xac, byte(len(fx.accounts) >> 8), byte(len(fx.accounts))}
			fx.accounts = append(fx.accounts, to)
			txs = append(txs, sign(&types.Tx{To: to, Value: uint256.NewInt(uint64(1000 + len(fx.accounts))), Fee: p.MinTxFee}))
		}
		switch i {
		case 10:
			tx := sign(&types.Tx{Kind: types.TxJob, Expiry: uint64(i) + p.MaxJobLifetime, Program: matProg, Fee: jobFee(matProg, 8, 8)})
			fx.matmul = tx.Hash()
			txs = append(txs, tx)
		case 11:
			tx := sign(&types.Tx{Kind: types.TxJob, Expiry: uint64(i) + p.MaxJobLifetime, Program: trainProg, Fee: jobFee(trainProg, 0, 0)})
			fx.train = tx.Hash()
			txs = append(txs, tx)
		case n - 5: // above the pivot: the importer needs the program
			prod := compute.NewI32(8, 8)
			for r := range 8 {
				for k := range 8 {
					for col := range 8 {
						prod.Data[r*8+col] += int32(a.Data[r*8+k]) * int32(b.Data[k*8+col])
					}
				}
			}
			results = append(results, &types.JobResult{JobID: fx.matmul, Rows: 8, Cols: 8, Data: vm.EncodeResult(prod)})
		}
		parent := c.CurrentBlock()
		coinbase := common.Address{0xc0, byte(i % 7)}
		blk, err := c.BuildBlock(parent, coinbase, parent.Header.Time+2000, txs, results)
		if err != nil {
			t.Fatal(err)
		}
		if len(blk.Txs) != len(txs) || len(blk.Results) != len(results) {
			t.Fatalf("block %d kept %d/%d txs and %d/%d results", i, len(blk.Txs), len(txs), len(blk.Results), len(results))
		}
		if err := c.InsertBlock(blk); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		fx.blocks = append(fx.blocks, blk)
	}
	return fx
}

func insertAll(t *testing.T, c *chain.Chain, blocks []*types.Block) {
	t.Helper()
	for _, b := range blocks {
		if err := c.InsertBlock(b); err != nil {
			t.Fatalf("block %d: %v", b.Number(), err)
		}
	}
}

// startSnapSyncer starts a node over c with snap sync on, bootstrapped to
// from; fastRetry retries a failed session after 100 ms.
func startSnapSyncer(t *testing.T, c Chain, from *Service, fastRetry bool) *Service {
	t.Helper()
	cfg := testConfig(from.Addrs()...)
	cfg.SnapSync = true
	if fastRetry {
		cfg.syncFailCooldown = 100 * time.Millisecond
	}
	return startRealNode(t, cfg, c)
}

func startRealNode(t *testing.T, cfg Config, c Chain) *Service {
	t.Helper()
	s, err := New(cfg, c, newFakePool())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func waitLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameState checks that got's head state holds what want's does.
func sameState(t *testing.T, want, got *chain.Chain, fx *snapFixture) {
	t.Helper()
	if g, w := got.CurrentBlock().Header.StateRoot, want.CurrentBlock().Header.StateRoot; g != w {
		t.Fatalf("head state root %s, want %s", g, w)
	}
	ws, gs := want.State(), got.State()
	if r := gs.Root(); r != got.CurrentBlock().Header.StateRoot {
		t.Fatalf("state root %s differs from the head's %s", r, got.CurrentBlock().Header.StateRoot)
	}
	sample := []common.Address{chain.DevAddress()}
	for i := 0; i < len(fx.accounts); i += max(1, len(fx.accounts)/50) {
		sample = append(sample, fx.accounts[i])
	}
	for _, a := range sample {
		if g, w := gs.Account(a), ws.Account(a); g.Nonce != w.Nonce || !g.Balance.Eq(w.Balance) {
			t.Fatalf("account %s: %+v, want %+v", a, g, w)
		}
	}
	for _, id := range []common.Hash{fx.matmul, fx.train} {
		wj, _ := ws.Job(id)
		gj, ok := gs.Job(id)
		if !ok || gj.Status != wj.Status || gj.Checkpoint != wj.Checkpoint {
			t.Fatalf("job %s: %+v, want %+v", id, gj, wj)
		}
		if _, ok := got.JobProgram(id); !ok {
			t.Fatalf("job %s: program not stored", id)
		}
	}
	tj, _ := gs.Job(fx.train)
	if _, ok := got.JobCheckpoint(tj.Checkpoint); !ok {
		t.Fatalf("training job checkpoint %s not stored", tj.Checkpoint)
	}
}

const snapTestBlocks, snapTestAccounts = 300, 2000

// TestSnapSync: a new node with SnapSync reaches its peer's head through a
// snap sync at head − 64, then a range sync, and holds the same state.
func TestSnapSync(t *testing.T) {
	ca := openRealChain(t)
	fx := buildSnapFixture(t, ca, snapTestBlocks, snapTestAccounts)
	a := startRealNode(t, testConfig(), ca)

	cb := openRealChain(t)
	b := startSnapSyncer(t, cb, a, false)
	waitLong(t, "B at A's head", 90*time.Second, func() bool { return cb.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
	if got, want := b.snapPivotDone.Load(), uint64(snapTestBlocks-snapPivotDepth); got != want {
		t.Fatalf("snap finished at pivot %d, want %d (off=%v)", got, want, b.snapOff.Load())
	}
	sameState(t, ca, cb, fx)
	waitFor(t, "sync to end", func() bool { s, _, _ := b.SyncStatus(); return !s })
}

// snapLiar serves a real chain's data but flips a byte in every trie node.
type snapLiar struct {
	*chain.Chain
	served atomic.Int64
}

func (l *snapLiar) StateNode(h common.Hash) ([]byte, bool) {
	blob, ok := l.Chain.StateNode(h)
	if !ok {
		return nil, false
	}
	l.served.Add(1)
	bad := slices.Clone(blob)
	bad[len(bad)-1] ^= 1
	return bad, true
}

// TestSnapLyingPeer: a peer that serves corrupted trie nodes is banned, and
// the sync finishes from an honest one.
func TestSnapLyingPeer(t *testing.T) {
	ca := openRealChain(t)
	fx := buildSnapFixture(t, ca, snapTestBlocks, snapTestAccounts)
	a := startRealNode(t, testConfig(), ca)

	// The liar holds the same chain and one block more, so it is asked first.
	cl := openRealChain(t)
	insertAll(t, cl, fx.blocks)
	parent := cl.CurrentBlock()
	extra, err := cl.BuildBlock(parent, common.Address{0xee}, parent.Header.Time+2000, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.InsertBlock(extra); err != nil {
		t.Fatal(err)
	}
	liar := &snapLiar{Chain: cl}
	l := startRealNode(t, testConfig(), liar)

	cb := openRealChain(t)
	b := startSnapSyncer(t, cb, l, true)
	waitLong(t, "B to ban the liar", 60*time.Second, func() bool { return b.rep.isBanned(l.ID()) })
	if liar.served.Load() == 0 {
		t.Fatal("the liar served no trie node: the test proves nothing")
	}
	if b.snapPivotDone.Load() != 0 {
		t.Fatal("a snap sync finished on the liar's nodes")
	}
	ai := peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()}
	if err := b.host.Connect(context.Background(), ai); err != nil {
		t.Fatal(err)
	}
	waitLong(t, "B at A's head", 90*time.Second, func() bool { return cb.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
	if got, want := b.snapPivotDone.Load(), uint64(snapTestBlocks-snapPivotDepth); got != want {
		t.Fatalf("snap finished at pivot %d, want %d (off=%v)", got, want, b.snapOff.Load())
	}
	sameState(t, ca, cb, fx)
}

// prunedPeer serves blocks and headers but no trie node, as a node that
// pruned the pivot's state.
type prunedPeer struct{ *chain.Chain }

func (prunedPeer) StateNode(common.Hash) ([]byte, bool) { return nil, false }

// TestSnapFallsBackToFull: when snap keeps failing, the node gives it up
// after maxSnapFailures sessions and syncs in full from genesis.
func TestSnapFallsBackToFull(t *testing.T) {
	ca := openRealChain(t)
	buildSnapFixture(t, ca, 200, 50)
	a := startRealNode(t, testConfig(), prunedPeer{ca})

	cb := openRealChain(t)
	b := startSnapSyncer(t, cb, a, true)
	waitLong(t, "B at A's head", 90*time.Second, func() bool { return cb.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
	if !b.snapOff.Load() || b.snapPivotDone.Load() != 0 {
		t.Fatalf("snap off=%v, finished at pivot %d; want off, none", b.snapOff.Load(), b.snapPivotDone.Load())
	}
	if b.rep.isBanned(a.ID()) {
		t.Fatal("a peer that pruned the state was banned")
	}
	if cb.GetBlockByNumber(1) == nil {
		t.Fatal("full sync did not import block 1")
	}
}

// stalePeer holds back the root of one state until its head moved on, and
// then answers that it has none of it (pruned).
type stalePeer struct {
	*chain.Chain
	root  common.Hash
	asked chan struct{} // closed when the root is first asked for
	moved chan struct{} // closed by the test once the head moved on
	once  sync.Once
}

func (p *stalePeer) StateNode(h common.Hash) ([]byte, bool) {
	if h == p.root {
		p.once.Do(func() { close(p.asked) })
		<-p.moved
		return nil, false
	}
	return p.Chain.StateNode(h)
}

// TestSnapRepivot: when the peer no longer has the pivot's state, the
// session moves its pivot up to the peer's new head − 64 and finishes there.
func TestSnapRepivot(t *testing.T) {
	ca := openRealChain(t)
	fx := buildSnapFixture(t, ca, snapTestBlocks, 500)
	old := ca.GetBlockByNumber(snapTestBlocks - snapPivotDepth)
	sp := &stalePeer{Chain: ca, root: old.Header.StateRoot, asked: make(chan struct{}), moved: make(chan struct{})}
	a := startRealNode(t, testConfig(), sp)

	cb := openRealChain(t)
	b := startSnapSyncer(t, cb, a, false)
	select {
	case <-sp.asked:
	case <-time.After(60 * time.Second):
		t.Fatal("the pivot's root was never asked for")
	}
	for range 10 {
		parent := ca.CurrentBlock()
		blk, err := ca.BuildBlock(parent, common.Address{0xc1}, parent.Header.Time+2000, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ca.InsertBlock(blk); err != nil {
			t.Fatal(err)
		}
	}
	close(sp.moved)
	waitLong(t, "B at A's head", 90*time.Second, func() bool { return cb.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
	if got, want := b.snapPivotDone.Load(), uint64(snapTestBlocks+10-snapPivotDepth); got != want {
		t.Fatalf("snap finished at pivot %d, want %d (off=%v)", got, want, b.snapOff.Load())
	}
	sameState(t, ca, cb, fx)
}

// FuzzSnapRequest: any bytes decode to a request within the caps, or fail.
func FuzzSnapRequest(f *testing.F) {
	f.Add([]byte{0xc4, 0x80, 0x80, 0x0a, 0xc0})
	f.Add(rlpOf(f, &snapRequest{Kind: snapNodes, Hashes: hashes(3, 1)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeSnapRequest(b)
		if err != nil {
			return
		}
		if r.check() != nil || r.maxItems() > maxSnapHeaders {
			t.Fatalf("decoded a request out of bounds: %+v", r)
		}
	})
}

// FuzzSnapResponse: any answer is read within the caps, or refused.
func FuzzSnapResponse(f *testing.F) {
	var buf bytes.Buffer
	writeFrame(&buf, rlpOf(f, []byte{0xc0}))
	f.Add(uint8(snapNodes), buf.Bytes())
	f.Add(uint8(snapHeaders), []byte{0x05, 0xc4, 0x80, 0x80, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		req := &snapRequest{Kind: kind % 5, Count: 3}
		if req.Kind != snapHeaders {
			req.Count, req.Hashes = 0, hashes(2, 0)
		}
		frames, err := readSnapResponse(bufio.NewReader(bytes.NewReader(b)), req, testCaps)
		if err != nil {
			return
		}
		if len(frames) > req.maxItems() {
			t.Fatalf("%d items for %d", len(frames), req.maxItems())
		}
		switch req.Kind {
		case snapHeaders:
			decodeSnapHeaders(frames, req)
		case snapJobTxs:
			decodeSnapTxs(frames, req, testCaps.tx)
		default:
			decodeSnapBlobs(frames, req, req.Kind == snapNodes, snapBlobCap(req.Kind, testCaps))
		}
	})
}

func rlpOf(f *testing.F, v any) []byte {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// blockCounter counts the blocks numbered below `below` that a chain serves.
type blockCounter struct {
	*chain.Chain
	below uint64
	low   atomic.Int64
}

func (c *blockCounter) GetBlockByNumber(n uint64) *types.Block {
	if n < c.below {
		c.low.Add(1)
	}
	return c.Chain.GetBlockByNumber(n)
}

// sealEngine is the fake engine but for job-work seals: the job must be
// pending (the snap check's work source resolves it from the job tx), and a
// seal with nonce badJobNonce does not verify.
type sealEngine struct{ consensus.Faker }

const badJobNonce = 0xdead

func (sealEngine) VerifySeal(p *types.Params, h *types.Header, body *types.Body, jobs consensus.WorkSource) error {
	if h.Seal.Work.IsSynthetic() {
		return nil
	}
	if _, err := jobs.PendingJobProgram(h.Seal.Work.JobID); err != nil {
		return err
	}
	if h.Seal.Nonce == badJobNonce {
		return consensus.ErrLosingTicket
	}
	return nil
}

// buildJobWorkChain builds n blocks on c: block 1 submits a matmul job, and
// every block after it claims job work on it with the given nonce.
func buildJobWorkChain(t *testing.T, c *chain.Chain, n int, nonce uint64) common.Hash {
	t.Helper()
	p := c.Params()
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := compute.NewI8(8, 8), compute.NewI8(8, 8)
	for i := range a.Data {
		a.Data[i], b.Data[i] = int8(rng.IntN(7)-3), int8(rng.IntN(7)-3)
	}
	code, err := vm.Encode(vm.NewMatMul(a, b))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := vm.Decode(code, chain.JobLimits(p))
	if err != nil {
		t.Fatal(err)
	}
	fee := consensus.JobBaseFee(p, 4*p.InitialDifficulty, prog.Work(), consensus.JobBytes(len(code), 8, 8))
	fee.Add(fee, types.QRN)
	tx := &types.Tx{ChainID: p.ChainID, Kind: types.TxJob, Expiry: 1 + p.MaxJobLifetime, Program: code, Fee: fee, Value: new(uint256.Int)}
	if err := tx.Sign(chain.DevKey()); err != nil {
		t.Fatal(err)
	}
	id := tx.Hash()
	for i := 1; i <= n; i++ {
		var txs []*types.Tx
		if i == 1 {
			txs = []*types.Tx{tx}
		}
		parent := c.CurrentBlock()
		blk, err := c.BuildBlock(parent, common.Address{0xc0, byte(i % 7)}, parent.Header.Time+2000, txs, nil)
		if err != nil || len(blk.Txs) != len(txs) {
			t.Fatalf("block %d: %v", i, err)
		}
		if i > 1 {
			blk.Header.Seal = types.Seal{Nonce: nonce, Work: types.Work{JobID: id}}
		}
		if err := c.InsertBlock(blk); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
	}
	return id
}

// TestSnapJobWorkSeals: headers that all claim job work have their sampled
// seals checked with blocks and job txs fetched from peers. Honest ones
// snap sync; a peer whose job-work seals do not verify is banned, and its
// pivot is not adopted (nor any of its headers stored).
func TestSnapJobWorkSeals(t *testing.T) {
	// 335 job-work headers below the pivot, each sampled 1 in 16: none is
	// with odds (15/16)^335 ≈ 4e-10 (with 100 blocks it was ~1 in 50 runs).
	const blocks = 400
	for _, tc := range []struct {
		name  string
		nonce uint64
	}{{"honest", 7}, {"liar", badJobNonce}} {
		t.Run(tc.name, func(t *testing.T) {
			ca := openRealChain(t) // the fake engine: it took the bad seals
			buildJobWorkChain(t, ca, blocks, tc.nonce)
			srv := &blockCounter{Chain: ca, below: blocks - snapPivotDepth}
			a := startRealNode(t, testConfig(), srv)

			cb := openSealChain(t)
			b := startSnapSyncer(t, cb, a, true)
			pivot := ca.GetBlockByNumber(blocks - snapPivotDepth)
			if tc.nonce != badJobNonce {
				waitLong(t, "B at A's head", 60*time.Second, func() bool { return cb.CurrentBlock().Hash() == ca.CurrentBlock().Hash() })
				if got := b.snapPivotDone.Load(); got != pivot.Number() {
					t.Fatalf("snap finished at pivot %d, want %d (off=%v)", got, pivot.Number(), b.snapOff.Load())
				}
				if srv.low.Load() == 0 {
					t.Fatal("no block below the pivot was asked for: no job-work seal was checked")
				}
				return
			}
			waitLong(t, "B to ban the liar", 30*time.Second, func() bool { return b.rep.isBanned(a.ID()) })
			if b.snapPivotDone.Load() != 0 || cb.CurrentBlock().Number() != 0 {
				t.Fatalf("adopted the liar's chain: pivot %d, head %d", b.snapPivotDone.Load(), cb.CurrentBlock().Number())
			}
			if cb.GetHeader(pivot.Hash()) != nil || cb.GetHeader(ca.GetBlockByNumber(2).Hash()) != nil {
				t.Fatal("stored the liar's headers")
			}
		})
	}
}

// oldBodiesGone serves no block below oldest whole, as a node that itself
// snap synced to oldest.
type oldBodiesGone struct {
	*chain.Chain
	oldest uint64
}

func (c oldBodiesGone) OldestFullBlock() uint64 { return c.oldest }
func (c oldBodiesGone) ResultsPruned(h common.Hash) bool {
	hd := c.GetHeader(h)
	return hd == nil || hd.Number < c.oldest
}

// TestSnapJobSealsUnserved: when no peer serves the blocks of sampled
// job-work headers whole, their seals cannot be checked: the sessions fail,
// nothing is stored, nobody is banned, and snap is turned off after
// maxSnapFailures sessions.
func TestSnapJobSealsUnserved(t *testing.T) {
	const blocks = 300
	ca := openRealChain(t)
	buildJobWorkChain(t, ca, blocks, 7)
	a := startRealNode(t, testConfig(), oldBodiesGone{ca, blocks - 10})

	cb := openSealChain(t)
	b := startSnapSyncer(t, cb, a, true)
	waitLong(t, "snap to turn off", 30*time.Second, func() bool { return b.snapOff.Load() })
	if b.rep.isBanned(a.ID()) || b.snapPivotDone.Load() != 0 || cb.CurrentBlock().Number() != 0 {
		t.Fatalf("banned %v, pivot %d, head %d", b.rep.isBanned(a.ID()), b.snapPivotDone.Load(), cb.CurrentBlock().Number())
	}
	if cb.GetHeader(ca.GetBlockByNumber(blocks-10).Hash()) != nil {
		t.Fatal("stored headers whose sampled seals were not checked")
	}
}
