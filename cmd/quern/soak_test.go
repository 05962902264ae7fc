package main

// Reliability soaks (issue 7), behind -quern.long (make soak): a --dev
// --mine node killed with SIGKILL at random moments and restarted on its
// datadir; four peered miners split into {A,B} and {C,D}, left to mine two
// forks, then healed; a transfer load from funded accounts across both. The
// parent test prints one table: crashes survived, blocks lost per kill,
// convergence times and the fate of every accepted transaction.

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/node"
)

var (
	soakKills      = flag.Int("soak.kills", 20, "SIGKILL cycles of the mining node")
	soakKillWithin = flag.Duration("soak.killwithin", 4*time.Second, "each kill comes at a random moment this long at most after the node serves RPC")
	soakMaxLost    = flag.Int("soak.maxlost", 2, "blocks one SIGKILL may cost before the test fails (see TestSoak)")
	soakPartitions = flag.Int("soak.partitions", 3, "partition/heal rounds of the four-node network")
	soakSplit      = flag.Duration("soak.split", 20*time.Second, "how long each partition mines two forks")
	soakJoined     = flag.Duration("soak.joined", 10*time.Second, "how long the network stays whole between partitions")
	soakConverge   = flag.Duration("soak.converge", 2*time.Minute, "longest a healed network may take to agree on one head")
	soakSettle     = flag.Duration("soak.settle", 90*time.Second, "longest the load's last transactions may take to be mined once it stops")
	soakAccounts   = flag.Int("soak.accounts", 8, "funded accounts sending transfers")
	soakTxEvery    = flag.Duration("soak.txevery", 300*time.Millisecond, "each account sends a transfer this often")
)

// soakReport gathers the figures the parent test prints.
type soakReport struct {
	mu          sync.Mutex
	crashes     int
	importKills int   // of crashes: B killed while importing A's blocks
	blocksLost  []int // per SIGKILL: blocks seen before it that the restarted node lacks
	convergence []time.Duration
	forks       []uint64 // per partition: blocks on the shorter of the two forks
	loads       []*txLoadResult
}

// TestSoak runs the kill and partition soaks and prints their table.
//
// Durability expected today: a SIGKILL ends the process, not the machine, so
// every write badger handed the kernel survives even without SyncWrites; a
// kill should lose 0 blocks (blocks the miner had sealed but not committed
// are not "seen" by RPC). -soak.maxlost bounds what we tolerate; a power loss
// (not tested here) is what SyncWrites decides. The txpool is not journaled:
// a killed (or restarted) node forgets the transactions it held, and the load
// resubmits them as a wallet would; the table counts those resubmissions.
func TestSoak(t *testing.T) {
	if e2eSkip != "" || !*long {
		t.Skip("long soak: pass -args -quern.long")
	}
	rep := &soakReport{}
	t.Cleanup(func() { rep.print(t) })
	t.Run("Kill9", func(t *testing.T) { soakKill9(t, rep) })
	t.Run("Partition", func(t *testing.T) { soakPartition(t, rep) })
}

func soakKill9(t *testing.T, rep *soakReport) {
	dir := t.TempDir()
	args := []string{"--dev", "--mine", "--datadir", filepath.Join(dir, "miner"), "--rpc.addr", "127.0.0.1:0", "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}
	nodes := &soakNodes{procs: []*proc{startNode(t, "kill9 miner", args...)}}
	nodes.get(0).waitHeight(2, 90*time.Second)
	load := newTxLoad(t, nodes, *soakAccounts)
	load.start()

	seen := map[uint64]common.Hash{} // every head the RPC showed, by height
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < *soakKills; i++ {
		p := nodes.get(0)
		until := time.Now().Add(time.Duration(rng.Int63n(int64(*soakKillWithin))) + 100*time.Millisecond)
		var last uint64
		for time.Now().Before(until) {
			if h, err := p.tryHead(); err == nil {
				seen[h.Number], last = h.Hash, max(last, h.Number)
			}
			time.Sleep(30 * time.Millisecond)
		}
		p.kill9()
		p = startNode(t, fmt.Sprintf("kill9 miner (restart %d)", i+1), args...)
		nodes.set(0, p)
		rep.mu.Lock()
		rep.crashes++
		rep.mu.Unlock()

		// The highest height where the restarted node still holds the block
		// we saw there: every seen block above it is lost.
		head := p.height()
		kept := uint64(0)
		for h := min(head, last); h > 0; h-- {
			want, ok := seen[h]
			if !ok {
				continue
			}
			if b := p.block(h); b.Hash == want {
				kept = h
				break
			}
			if last-h > uint64(*soakMaxLost)+8 {
				t.Fatalf("kill %d: restarted node's chain differs from what it served below height %d (head was %d)", i+1, h, last)
			}
		}
		lost := int(last - kept)
		for h := range seen {
			if h > kept {
				delete(seen, h)
			}
		}
		rep.mu.Lock()
		rep.blocksLost = append(rep.blocksLost, lost)
		rep.mu.Unlock()
		t.Logf("kill %d: last head seen %d, reopened at %d, blocks lost %d", i+1, last, head, lost)
		if lost > *soakMaxLost {
			t.Errorf("kill %d lost %d blocks (> -soak.maxlost=%d)", i+1, lost, *soakMaxLost)
		}
		if n := load.resync(0); n > 0 {
			t.Errorf("kill %d: the node forgot %d accepted transactions (not pooled, mined or reported dropped); resubmitted them", i+1, n)
		}
	}
	// It keeps mining after the last kill.
	p := nodes.get(0)
	p.waitHeight(p.height()+2, 2*time.Minute)
	load.stop()
	rep.addLoad(load.settle(nodes, *soakSettle), "kill9")
}

func soakPartition(t *testing.T, rep *soakReport) {
	dir := t.TempDir()
	g := chain.DevGenesis()
	g.Config.TargetBlockMs = 1000
	g.Config.InitialDifficulty = 100_000_000_000
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	sn := &soakNet{t: t, genesis: filepath.Join(dir, "genesis.json"), dir: dir}
	if err := os.WriteFile(sn.genesis, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	sn.procs = make([]*proc, 4)
	for i := range 4 {
		sn.start(i, sn.allBut(i)[:i]...) // each new node knows the ones before it
	}
	sn.get(0).waitHeight(2, 90*time.Second)
	if d := sn.converge(*soakConverge); d < 0 {
		t.Fatal("the four nodes never agreed on a head after start-up")
	}
	load := newTxLoad(t, &sn.soakNodes, *soakAccounts)
	load.start()

	for round := 1; round <= *soakPartitions; round++ {
		// Split: C and D come back on fresh ports that only they know, so A
		// and B's redials to the old addresses fail and two forks grow.
		sn.restart([]int{2, 3}, func(i int) []int { return []int{5 - i} }, load)
		sn.waitPeers(2, 1, time.Minute)
		// Halfway, B dies by SIGKILL while it imports A's blocks, and
		// comes back on its datadir and port.
		time.Sleep(*soakSplit / 2)
		sn.get(1).kill9()
		sn.start(1, 0)
		rep.mu.Lock()
		rep.crashes++
		rep.importKills++
		rep.mu.Unlock()
		load.resync(1)
		time.Sleep(*soakSplit / 2)
		var ia, ic node.RPCNodeInfo
		sn.get(0).try(&ia, "quern_nodeInfo")
		sn.get(2).try(&ic, "quern_nodeInfo")
		if ia.Peers > 1 || ic.Peers > 1 {
			t.Errorf("round %d: not partitioned (A has %d peers, C has %d)", round, ia.Peers, ic.Peers)
		}
		fork, ab, cd := sn.forkPoint(0, 2)
		t.Logf("round %d split for %s: fork at height %d, then {A,B} mined %d blocks and {C,D} %d (A has %d peers, C has %d)",
			round, *soakSplit, fork, ab, cd, ia.Peers, ic.Peers)
		if ab > 0 && cd > 0 {
			rep.mu.Lock()
			rep.forks = append(rep.forks, min(ab, cd))
			rep.mu.Unlock()
		} else {
			t.Logf("round %d: only one half mined: no competing fork this round", round)
		}

		// Heal: C and D come back knowing everyone.
		started := sn.restart([]int{2, 3}, sn.allBut, load)
		if sn.converge(*soakConverge) < 0 {
			t.Fatalf("round %d: the four nodes did not agree on a head within %s", round, *soakConverge)
		}
		d := time.Since(started)
		t.Logf("round %d healed: one head on all four %s after C and D were started", round, d.Round(time.Millisecond))
		rep.mu.Lock()
		rep.convergence = append(rep.convergence, d)
		rep.mu.Unlock()
		time.Sleep(*soakJoined)
	}
	load.stop()
	if sn.converge(*soakConverge) < 0 {
		t.Fatal("the four nodes did not agree on a head after the load stopped")
	}
	rep.addLoad(load.settle(&sn.soakNodes, *soakSettle), "partition")
}

// --- nodes ---------------------------------------------------------------

// soakNodes holds the current process of each node; a restart swaps it.
type soakNodes struct {
	mu    sync.Mutex
	procs []*proc
}

func (n *soakNodes) get(i int) *proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.procs[i]
}

func (n *soakNodes) set(i int, p *proc) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.procs[i] = p
}

func (n *soakNodes) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.procs)
}

// soakNet is four miners on explicit loopback ports.
type soakNet struct {
	soakNodes
	t       *testing.T
	genesis string
	dir     string
	ids     [4]string
	ports   [4]int
}

var soakNames = [4]string{"A", "B", "C", "D"}

func (s *soakNet) allBut(i int) []int {
	var out []int
	for j := range 4 {
		if j != i {
			out = append(out, j)
		}
	}
	return out
}

func (s *soakNet) addr(i int) string {
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", s.ports[i], s.ids[i])
}

// start runs node i on its current port (a fresh one the first time) with
// the given nodes as bootnodes.
func (s *soakNet) start(i int, boots ...int) {
	s.t.Helper()
	if s.ports[i] == 0 {
		s.ports[i] = soakFreePort(s.t)
	}
	var bl []string
	for _, j := range boots {
		bl = append(bl, s.addr(j))
	}
	coinbase := common.BigToAddress(uint256.NewInt(uint64(0xc0ffee00 + i)).ToBig())
	args := []string{"--genesis", s.genesis, "--datadir", filepath.Join(s.dir, soakNames[i]),
		"--mine", "--miner.address", coinbase.Hex(),
		"--rpc.addr", "127.0.0.1:0", "--p2p.listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", s.ports[i])}
	if len(bl) > 0 {
		args = append(args, "--bootnodes", strings.Join(bl, ","))
	}
	p := startNode(s.t, "node "+soakNames[i], args...)
	if s.ids[i] == "" {
		var info node.RPCNodeInfo
		p.call(&info, "quern_nodeInfo")
		s.ids[i] = info.ID
	}
	s.set(i, p)
}

// restart stops nodes gracefully, gives each a fresh port and starts them
// again with boots(i) as bootnodes; the load resubmits what they forgot. It
// returns when the new processes were launched.
func (s *soakNet) restart(which []int, boots func(int) []int, load *txLoad) time.Time {
	s.t.Helper()
	for _, i := range which {
		s.get(i).stop()
		s.ports[i] = soakFreePort(s.t)
	}
	started := time.Now()
	for _, i := range which {
		s.start(i, boots(i)...)
	}
	for _, i := range which {
		load.resync(i)
	}
	return started
}

// waitPeers waits until node i has at least n peers.
func (s *soakNet) waitPeers(i, n int, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var info node.RPCNodeInfo
		if s.get(i).try(&info, "quern_nodeInfo") == nil && info.Peers >= n {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("node %s has %d peers after %s, want %d", soakNames[i], info.Peers, within, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// forkPoint compares the canonical chains of nodes i and j: the highest
// common height and how many blocks each has above it.
func (s *soakNet) forkPoint(i, j int) (fork, aboveI, aboveJ uint64) {
	s.t.Helper()
	pi, pj := s.get(i), s.get(j)
	hi, hj := pi.height(), pj.height()
	for fork = min(hi, hj); fork > 0 && pi.block(fork).Hash != pj.block(fork).Hash; fork-- {
	}
	return fork, hi - fork, hj - fork
}

// converge polls every node's head until all show the same hash; it returns
// how long that took, or -1 past within.
func (s *soakNodes) converge(within time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < within {
		var first common.Hash
		same := true
		for i := range s.len() {
			h, err := s.get(i).tryHead()
			if err != nil || (i > 0 && h.Hash != first) {
				same = false
				break
			}
			first = h.Hash
		}
		if same {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return -1
}

func soakFreePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type soakHead struct {
	Number uint64
	Hash   common.Hash
}

// try is call without failing the test: the node may be dead or restarting.
func (p *proc) try(result any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := rpc.DialContext(ctx, p.rpc)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.CallContext(ctx, result, method, args...)
}

func (p *proc) tryHead() (soakHead, error) {
	var b *node.RPCHeader
	if err := p.try(&b, "quern_getBlockByNumber", "latest"); err != nil {
		return soakHead{}, err
	}
	if b == nil {
		return soakHead{}, errors.New("no head")
	}
	return soakHead{b.Number, b.Hash}, nil
}

// kill9 ends the process with SIGKILL: no shutdown code runs.
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// --- transfer load -------------------------------------------------------

type soakAccount struct {
	key  *ecdsa.PrivateKey
	addr common.Address
	node int    // the node it sends to
	next uint64 // nonce of its next transfer
	txs  []*soakTx
}

type soakTx struct {
	hash  common.Hash
	nonce uint64
	raw   hexutil.Bytes
}

// txLoad sends transfers from funded accounts, each bound to one node, and
// records every transaction a node accepted.
type txLoad struct {
	t        *testing.T
	nodes    *soakNodes
	chainID  uint64
	fee      *uint256.Int
	sink     common.Address
	mu       sync.Mutex
	accounts []*soakAccount
	sent     int
	accepted int
	resent   int // accepted txs a restarted node forgot, resubmitted
	rejected map[string]int
	quit     chan struct{}
	done     chan struct{}
}

type txLoadResult struct {
	name                   string
	sent, accepted, resent int
	mined, dropped, lost   int
	rejected               map[string]int
	lostTxs                []string
	dropReasons            map[string]int
}

// newTxLoad funds n accounts from the dev account (through node 0) and
// waits until every funding transfer is mined.
func newTxLoad(t *testing.T, nodes *soakNodes, n int) *txLoad {
	t.Helper()
	p := nodes.get(0)
	var info node.RPCNodeInfo
	p.call(&info, "quern_nodeInfo")
	l := &txLoad{t: t, nodes: nodes, chainID: info.ChainID, fee: chain.DevGenesis().Config.MinTxFee,
		sink: common.HexToAddress("0x00000000000000000000000000000000005011c0"), rejected: map[string]int{}}
	dev := chain.DevKey()
	var nonce uint64
	p.call(&nonce, "quern_getTransactionCount", chain.DevAddress(), "pending")
	fund, _ := uint256.FromDecimal("1000000000000000000000") // 1000 QRN
	for i := range n {
		key, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		a := &soakAccount{key: key, addr: crypto.PubkeyToAddress(key.PublicKey), node: i % nodes.len()}
		l.accounts = append(l.accounts, a)
		tx := &types.Tx{ChainID: l.chainID, Nonce: nonce, Kind: types.TxTransfer, To: a.addr, Value: fund, Fee: l.fee}
		if err := tx.Sign(dev); err != nil {
			t.Fatal(err)
		}
		raw, _ := rlp.EncodeToBytes(tx)
		var h common.Hash
		p.call(&h, "quern_sendRawTransaction", hexutil.Bytes(raw))
		nonce++
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, a := range l.accounts {
		for {
			var bal string
			p.call(&bal, "quern_getBalance", a.addr)
			if bal != "0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("funding of %s not mined within 2 minutes", a.addr.Hex())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return l
}

func (l *txLoad) start() {
	l.quit, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		tick := time.NewTicker(*soakTxEvery)
		defer tick.Stop()
		for {
			select {
			case <-l.quit:
				return
			case <-tick.C:
			}
			l.mu.Lock()
			for _, a := range l.accounts {
				l.sendNext(a)
			}
			l.mu.Unlock()
		}
	}()
}

func (l *txLoad) stop() {
	close(l.quit)
	<-l.done
}

// sendNext signs a's next transfer and sends it; it counts only when accepted.
func (l *txLoad) sendNext(a *soakAccount) {
	tx := &types.Tx{ChainID: l.chainID, Nonce: a.next, Kind: types.TxTransfer, To: l.sink, Value: uint256.NewInt(1), Fee: l.fee}
	if err := tx.Sign(a.key); err != nil {
		l.t.Error(err)
		return
	}
	raw, _ := rlp.EncodeToBytes(tx)
	l.sent++
	var h common.Hash
	if err := l.nodes.get(a.node).try(&h, "quern_sendRawTransaction", hexutil.Bytes(raw)); err != nil {
		l.rejected[soakRejection(err)]++
		return
	}
	if h != tx.Hash() {
		l.t.Errorf("node named tx %s, expected %s", h.Hex(), tx.Hash().Hex())
	}
	l.accepted++
	a.txs = append(a.txs, &soakTx{hash: tx.Hash(), nonce: a.next, raw: raw})
	a.next++
}

// soakRejection is an error's kind for the table: its text without numbers
// and hashes, cut short.
func soakRejection(err error) string {
	var re rpc.Error
	if !errors.As(err, &re) {
		return "transport: node down or restarting"
	}
	s := err.Error()
	if i := strings.IndexAny(s, "0123456789"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// resync is what a wallet does after its node restarted: resend, in nonce
// order, every accepted transfer the node no longer knows (not pooled, not
// mined, not reported dropped). The txpool journal should leave none: it
// returns how many it had to resend, each a tx the node forgot.
func (l *txLoad) resync(node int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.nodes.get(node)
	n := 0
	for _, a := range l.accounts {
		if a.node != node {
			continue
		}
		var pending uint64
		if err := p.try(&pending, "quern_getTransactionCount", a.addr, "pending"); err != nil {
			continue
		}
		for _, tx := range a.txs {
			if tx.nonce < pending {
				continue
			}
			var st txStatus
			if p.try(&st, "quern_getTransactionStatus", tx.hash) == nil && st.Status != "unknown" {
				continue // the node still knows it: pooled, mined or dropped with a reason
			}
			var h common.Hash
			if p.try(&h, "quern_sendRawTransaction", tx.raw) == nil {
				n++
			}
		}
	}
	l.resent += n
	return n
}

type txStatus struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// settle waits until every accepted transfer is in node 0's canonical chain
// or reported dropped (quern_getTransactionStatus, where the node has it);
// what is left at the deadline is lost.
func (l *txLoad) settle(nodes *soakNodes, within time.Duration) *txLoadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := nodes.get(0)
	res := &txLoadResult{sent: l.sent, accepted: l.accepted, resent: l.resent, rejected: l.rejected, dropReasons: map[string]int{}}
	hasStatus := true
	deadline := time.Now().Add(within)
	for {
		mined := map[common.Hash]bool{}
		head := p.height()
		for n := uint64(1); n <= head; n++ {
			for _, tx := range p.block(n).Txs {
				mined[tx.Hash] = true
			}
		}
		res.mined, res.dropped, res.lost, res.lostTxs = 0, 0, 0, nil
		clear(res.dropReasons)
		for _, a := range l.accounts {
			for _, tx := range a.txs {
				if mined[tx.hash] {
					res.mined++
					continue
				}
				var st txStatus
				if hasStatus {
					err := p.try(&st, "quern_getTransactionStatus", tx.hash)
					var re rpc.Error
					if errors.As(err, &re) && re.ErrorCode() == -32601 {
						hasStatus = false // not served (yet): blocks are the only witness
					}
				}
				if st.Status == "mined" { // in a block past our scan
					res.mined++
					continue
				}
				if st.Status == "dropped" {
					res.dropped++
					res.dropReasons[st.Reason]++
					continue
				}
				res.lost++
				res.lostTxs = append(res.lostTxs, fmt.Sprintf("%s (from %s nonce %d, status %q)", tx.hash.Hex(), a.addr.Hex(), tx.nonce, st.Status))
			}
		}
		if res.lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if res.resent > 0 {
		l.t.Errorf("restarted nodes forgot %d accepted transactions (the txpool journal should keep them)", res.resent)
	}
	if res.lost > 0 {
		l.t.Errorf("%d accepted transactions were neither mined nor reported dropped after %s: %s", res.lost, within, strings.Join(soakFirst(res.lostTxs, 10), "; "))
	}
	return res
}

func soakFirst[T any](s []T, n int) []T { return s[:min(n, len(s))] }

func (r *soakReport) addLoad(res *txLoadResult, name string) {
	res.name = name
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loads = append(r.loads, res)
}

func (r *soakReport) print(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\n== soak summary ==\n")
	lost := slices.Clone(r.blocksLost)
	sort.Ints(lost)
	total := 0
	for _, n := range lost {
		total += n
	}
	fmt.Fprintf(&b, "crashes survived (SIGKILL, reopened, mining on): %d (%d of them a peer importing mid-partition)\n", r.crashes, r.importKills)
	if len(lost) > 0 {
		fmt.Fprintf(&b, "blocks lost per kill: min %d  median %d  max %d  total %d\n", lost[0], lost[len(lost)/2], lost[len(lost)-1], total)
	}
	conv := slices.Clone(r.convergence)
	slices.Sort(conv)
	if len(conv) > 0 {
		fmt.Fprintf(&b, "convergence after heal, from the healed processes' start (%d heals): min %s  median %s  max %s\n", len(conv),
			conv[0].Round(time.Millisecond), conv[len(conv)/2].Round(time.Millisecond), conv[len(conv)-1].Round(time.Millisecond))
	}
	if len(r.forks) > 0 {
		fmt.Fprintf(&b, "partitions that forked: %d (shorter fork: %v blocks)\n", len(r.forks), r.forks)
	}
	fmt.Fprintf(&b, "%-10s %6s %9s %9s %6s %8s %5s\n", "txs", "sent", "accepted", "forgotten", "mined", "dropped", "lost")
	for _, l := range r.loads {
		fmt.Fprintf(&b, "%-10s %6d %9d %9d %6d %8d %5d\n", l.name, l.sent, l.accepted, l.resent, l.mined, l.dropped, l.lost)
		for why, n := range l.rejected {
			fmt.Fprintf(&b, "  rejected %4d× %s\n", n, why)
		}
		for why, n := range l.dropReasons {
			fmt.Fprintf(&b, "  dropped  %4d× %s\n", n, why)
		}
	}
	t.Log(b.String())
}
