package main

// Snap sync survives SIGKILL: a node killed while it snap syncs, and one
// killed right after its snap sync finished, reopen on their datadirs and
// reach their source's head and state root. Real binaries, real sockets.

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

const (
	// snapE2EMinBlocks is the source chain's least length; it goes on
	// until its pivot (head − 64) lies above every block with transfers.
	snapE2EMinBlocks = 110
	// snapE2ESenders × snapE2EWave transfers per wave fit the txpool
	// (1024 pending per sender, 5120 in all); each goes to a new account,
	// so the pivot's state shares little with the genesis state B holds.
	snapE2ESenders = 5
	snapE2EWave    = 1000
	snapE2EWaves   = 2
)

// snapSource is an idle source node with a fixed head: the chain B snap syncs.
type snapSource struct {
	t       *testing.T
	genesis string
	dir     string
	src     *proc
	boot    string
	head    *node.RPCHeader
	probe   common.Address // a transfer recipient, for the balance check
}

// TestSnapSyncKill9 kills a snap syncing node with SIGKILL twice over:
// while it fetches the pivot's state, and right after "Snap sync finished".
// Each time it must reopen on its datadir and reach the source's head hash
// and state root.
func TestSnapSyncKill9(t *testing.T) {
	if e2eSkip != "" {
		t.Skip("end-to-end tests skipped with " + e2eSkip)
	}
	start := time.Now()
	s := newSnapSource(t)
	t.Logf("source: %d blocks, %d transfers to new accounts, built in %s", s.head.Number, snapE2ESenders*snapE2EWave*snapE2EWaves, time.Since(start).Round(time.Millisecond))

	// Scenario B first: an uninterrupted session gives the full node count
	// and the session's length, against which the kill of scenario A is timed.
	fullNodes, elapsed := s.killAfterFinish()
	s.killDuringSync(fullNodes, elapsed)
	t.Logf("total %s", time.Since(start).Round(time.Millisecond))
}

// newSnapSource writes a genesis with cheap blocks and funded senders,
// mines snapE2EMinBlocks blocks or more with snapE2EWaves waves of transfers early on,
// and restarts the miner idle so its head stands still.
func newSnapSource(t *testing.T) *snapSource {
	dir := t.TempDir()
	s := &snapSource{t: t, dir: dir, genesis: filepath.Join(dir, "genesis.json")}
	g := chain.DevGenesis()
	g.Config.TargetBlockMs = 40
	g.Config.InitialDifficulty = 1_000_000
	g.Config.MinDifficulty = 1_000_000
	keys := make([]*ecdsa.PrivateKey, snapE2ESenders)
	fund, _ := uint256.FromDecimal("1000000000000000000000000") // 1e6 QRN
	for i := range keys {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("quern snap e2e sender %d", i))))
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
		g.Alloc[crypto.PubkeyToAddress(k.PublicKey)] = fund
	}
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.genesis, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	coinbase := snapE2ECoinbase
	srcDir := filepath.Join(dir, "source")
	miner := startNode(t, "source (mining)", s.args(srcDir, "--mine", "--miner.address", coinbase.Hex())...)
	miner.waitHeight(1, 90*time.Second)
	began := time.Now()

	// Transfers: each wave fills the pool, then waits until it is mined.
	var info node.RPCNodeInfo
	miner.call(&info, "quern_nodeInfo")
	c, err := rpc.Dial(miner.rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := uint64(0)
	for wave := range snapE2EWaves {
		var batch []rpc.BatchElem
		hashes := make([]common.Hash, 0, snapE2ESenders*snapE2EWave)
		for _, k := range keys {
			for j := range snapE2EWave {
				to++
				tx := &types.Tx{ChainID: info.ChainID, Nonce: uint64(wave*snapE2EWave + j), Kind: types.TxTransfer,
					To: common.BigToAddress(new(big.Int).SetUint64(0x5a9e0000 + to)), Value: uint256.NewInt(1 + to), Fee: g.Config.MinTxFee}
				if err := tx.Sign(k); err != nil {
					t.Fatal(err)
				}
				enc, _ := rlp.EncodeToBytes(tx)
				hashes = append(hashes, common.Hash{})
				batch = append(batch, rpc.BatchElem{Method: "quern_sendRawTransaction", Args: []any{hexutil.Bytes(enc)}, Result: &hashes[len(hashes)-1]})
			}
		}
		for len(batch) > 0 {
			n := min(len(batch), 100)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := c.BatchCallContext(ctx, batch[:n])
			cancel()
			if err != nil {
				t.Fatalf("wave %d: send batch: %v", wave, err)
			}
			for _, e := range batch[:n] {
				if e.Error != nil {
					t.Fatalf("wave %d: sendRawTransaction: %v", wave, e.Error)
				}
			}
			batch = batch[n:]
		}
		want := uint64((wave + 1) * snapE2EWave)
		deadline := time.Now().Add(90 * time.Second)
		for _, k := range keys {
			for {
				var nonce uint64
				miner.call(&nonce, "quern_getTransactionCount", crypto.PubkeyToAddress(k.PublicKey), "latest")
				if nonce >= want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("wave %d not mined within 90 s: sender nonce %d, want %d (height %d)\n%s", wave, nonce, want, miner.height(), logTail(miner, 40))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	s.probe = common.BigToAddress(new(big.Int).SetUint64(0x5a9e0000 + to))
	// The pivot (head − 64) must lie above every block with a transfer.
	txsAt := miner.height()
	t.Logf("source: %d transfers mined by block %d, %s after the start", to, txsAt, time.Since(began).Round(time.Millisecond))
	miner.waitHeight(max(snapE2EMinBlocks, txsAt+snapE2EPivotDepth+16), 3*time.Minute)
	miner.stop()

	s.src = startNode(t, "source (idle)", s.args(srcDir)...)
	s.src.call(&s.head, "quern_getBlockByNumber", "latest")
	if s.head == nil || s.head.Number < snapE2EMinBlocks {
		t.Fatalf("idle source's head %+v, want ≥ %d", s.head, snapE2EMinBlocks)
	}
	s.src.call(&info, "quern_nodeInfo")
	if len(info.Addrs) == 0 {
		t.Fatal("source has no p2p address")
	}
	s.boot = strings.Join(info.Addrs, ",")
	return s
}

var snapE2ECoinbase = common.HexToAddress("0x000000000000000000000000000000000000c0de")

// snapE2EPivotDepth is p2p's snapPivotDepth: the pivot is the peer's head minus it.
const snapE2EPivotDepth = 64

func (s *snapSource) args(datadir string, extra ...string) []string {
	return append([]string{"--genesis", s.genesis, "--datadir", datadir, "--rpc.addr", "127.0.0.1:0", "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}, extra...)
}

// syncerArgs are B's flags, the same at every start.
func (s *snapSource) syncerArgs(datadir string) []string {
	return s.args(datadir, "--sync.mode", "snap", "--bootnodes", s.boot)
}

var (
	snapFinishedLine = regexp.MustCompile(`Snap sync finished.*\bpivot=(\d+).*\bnodes=(\d+)`)
	snapElapsedLine  = regexp.MustCompile(`Snap sync finished.*\belapsed=([0-9.]+[a-zµ]+)`)
	snapStartedLine  = regexp.MustCompile(`Snap sync started.*\bfrom=(\d+)`)
	chainOpenedLine  = regexp.MustCompile(`chain opened.*\bhead=(\d+)`)
)

// logNumber is the first number group of re in log; ok false: no match.
func logNumber(re *regexp.Regexp, log string, group int) (uint64, bool) {
	m := re.FindStringSubmatch(log)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(m[group], 10, 64)
	return n, err == nil
}

// killAfterFinish is scenario B: SIGKILL right after "Snap sync finished".
// It returns the trie nodes and the time that uninterrupted session took.
func (s *snapSource) killAfterFinish() (nodes uint64, elapsed time.Duration) {
	t := s.t
	const name = "B after-finish"
	dir := filepath.Join(s.dir, "after-finish")
	b := startNode(t, name, s.syncerArgs(dir)...)
	waitLog(t, b, "Snap sync finished", 90*time.Second)
	b.kill9()
	first := b.logText()
	noPanic(t, name, first)
	if !strings.Contains(first, "Snap sync started") || !strings.Contains(first, "snap sync: pivot state complete") {
		t.Fatalf("%s: log lacks the snap sync lines\n%s", name, tail(first, 40))
	}
	pivot, ok1 := logNumber(snapFinishedLine, first, 1)
	nodes, ok2 := logNumber(snapFinishedLine, first, 2)
	if !ok1 || !ok2 || pivot == 0 {
		t.Fatalf("%s: no pivot and node count in the finished line\n%s", name, tail(first, 40))
	}
	if e := snapElapsedLine.FindStringSubmatch(first); e != nil {
		elapsed, _ = time.ParseDuration(e[1])
	}
	t.Logf("scenario B: the session fetched %d trie nodes for pivot %d in %s, then SIGKILL", nodes, pivot, elapsed)

	b = startNode(t, name+" (restarted)", s.syncerArgs(dir)...)
	second := b.logText()
	// It reopens at the pivot: Finish's head survived the kill.
	if head, ok := logNumber(chainOpenedLine, second, 1); !ok || head != pivot {
		t.Fatalf("%s reopened at head %d (found: %v), want the pivot %d\n%s", name, head, ok, pivot, tail(second, 40))
	}
	s.waitSame(b, name+" (restarted)")
	second = b.logText()
	noPanic(t, name+" (restarted)", second)
	// Its head is 64 blocks behind: the range sync replays the rest; no
	// second snap session.
	if strings.Contains(second, "Snap sync started") {
		t.Errorf("%s snap synced again after the restart (its head was the pivot)\n%s", name, tail(second, 40))
	}
	t.Logf("scenario B: killed log:\n%s\nrestarted log:\n%s", snapLines(first), snapLines(second))
	for _, addr := range []common.Address{s.probe, snapE2ECoinbase} {
		var got, want hexutil.Big
		b.call(&got, "eth_getBalance", addr, "latest")
		s.src.call(&want, "eth_getBalance", addr, "latest")
		if got.ToInt().Cmp(want.ToInt()) != 0 || got.ToInt().Sign() == 0 {
			t.Errorf("eth_getBalance(%s, latest): B %s, source %s", addr.Hex(), got.String(), want.String())
		}
	}
	b.stop()
	return nodes, elapsed
}

// killDuringSync is scenario A: SIGKILL while B fetches the pivot's state.
// The first kill comes 4/5 into a session as long as scenario B's: after
// the first flush of nodes (every 8192) if the timing holds. One that lands
// after Finish (logged, or committed as the reopened head shows) does not
// count: the attempt is repeated with the kill at "Snap sync started".
func (s *snapSource) killDuringSync(fullNodes uint64, elapsed time.Duration) {
	t := s.t
	delays := []time.Duration{elapsed * 4 / 5, 0}
	for attempt, delay := range delays {
		dir := filepath.Join(s.dir, fmt.Sprintf("during-sync-%d", attempt))
		name := fmt.Sprintf("B during-sync #%d", attempt+1)
		b := startNode(t, name, s.syncerArgs(dir)...)
		waitLog(t, b, "Snap sync started", 90*time.Second)
		if delay > 0 {
			time.Sleep(delay)
		}
		b.kill9()
		first := b.logText()
		noPanic(t, name, first)
		late := strings.Contains(first, "snap sync: pivot state complete")

		b = startNode(t, name+" (restarted)", s.syncerArgs(dir)...)
		opened, ok := logNumber(chainOpenedLine, b.logText(), 1)
		if !ok {
			t.Fatalf("%s: no \"chain opened\" line after the restart\n%s", name, logTail(b, 40))
		}
		if opened != 0 && !late {
			t.Logf("scenario A attempt %d: the kill %s in came after Finish committed the pivot %d (its log line was not out yet)", attempt+1, delay, opened)
			late = true
		}
		// Late or not, it must reach the source's head and root.
		s.waitSame(b, name+" (restarted)")
		second := b.logText()
		noPanic(t, name+" (restarted)", second)
		if late {
			t.Logf("scenario A attempt %d: the kill %s after \"Snap sync started\" came after the state was complete; again, earlier", attempt+1, delay)
			b.stop()
			continue
		}
		t.Logf("scenario A attempt %d: SIGKILL %s after \"Snap sync started\", before the pivot state was complete; reopened at genesis", attempt+1, delay)
		// Its head was still genesis: it snap syncs again from 0 and keeps
		// the trie nodes the killed session had flushed.
		if from, ok := logNumber(snapStartedLine, second, 1); !ok || from != 0 {
			t.Fatalf("%s: no second snap session from genesis after the restart\n%s", name, tail(second, 40))
		}
		again, ok := logNumber(snapFinishedLine, second, 2)
		if !ok {
			t.Fatalf("%s: the second snap session did not log its finish\n%s", name, tail(second, 40))
		}
		if again > fullNodes {
			t.Errorf("%s: the second session fetched %d trie nodes, more than a whole uninterrupted one (%d)", name, again, fullNodes)
		}
		t.Logf("scenario A: the second session fetched %d of %d trie nodes (%d kept from the killed one)", again, fullNodes, fullNodes-again)
		t.Logf("scenario A: killed log:\n%s\nrestarted log:\n%s", snapLines(first), snapLines(second))
		b.stop()
		return
	}
	t.Fatal("scenario A: every kill landed after the pivot state was complete")
}

// waitSame waits until b's head is the source's and compares the hash and
// state root there.
func (s *snapSource) waitSame(b *proc, name string) {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		h, err := b.tryHead()
		if err == nil && h.Number >= s.head.Number {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: head %d (%v) after 90 s, want the source's %d\n%s", name, h.Number, err, s.head.Number, logTail(b, 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var got *node.RPCHeader
	b.call(&got, "quern_getBlockByNumber", "latest")
	if got.Number != s.head.Number || got.Hash != s.head.Hash || got.StateRoot != s.head.StateRoot {
		t.Fatalf("%s: head %d %s root %s, source %d %s root %s", name, got.Number, got.Hash.Hex(), got.StateRoot.Hex(), s.head.Number, s.head.Hash.Hex(), s.head.StateRoot.Hex())
	}
	// The Ethereum view agrees.
	var eb, es *node.EthBlock
	b.call(&eb, "eth_getBlockByNumber", "latest", false)
	s.src.call(&es, "eth_getBlockByNumber", "latest", false)
	if eb == nil || es == nil || eb.Hash != es.Hash || eb.StateRoot != es.StateRoot || eb.Hash != s.head.Hash {
		t.Fatalf("%s: eth_getBlockByNumber(latest) %+v, source %+v", name, eb, es)
	}
}

// waitLog waits until p's log holds line, polling finely: the kill that
// follows must land close behind it.
func waitLog(t *testing.T, p *proc, line string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.logText(), line) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before logging %q\n%s", p.name, line, logTail(p, 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %s\n%s", p.name, line, within, logTail(p, 40))
		}
		time.Sleep(time.Millisecond)
	}
}

func noPanic(t *testing.T, name, log string) {
	t.Helper()
	if strings.Contains(log, "panic") || strings.Contains(log, "goroutine ") {
		t.Errorf("%s: log shows a panic\n%s", name, tail(log, 60))
	}
}

// snapLines are the lines of log about the chain's opening and snap sync.
func snapLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "chain opened") || strings.Contains(strings.ToLower(l), "snap sync") {
			out = append(out, "  "+l)
		}
	}
	return strings.Join(out, "\n")
}

func logTail(p *proc, lines int) string { return tail(p.logText(), lines) }

// tail is the last lines of s.
func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
