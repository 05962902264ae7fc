package chain_test

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// BenchmarkStateScale imports blocks of 1000 transfers (1000 senders, each
// to a random account) into a chain whose state holds 10^3, 10^5 and 10^6
// accounts, and prints beside it, in the same run, what the flat snapshot
// of before the trie (docs/protocol.md §8, v1) costs per block on the same
// state: copy every account, apply the block, sort and RLP-encode all of
// them, hash the encoding and write it to badger. The trie column is the
// whole import (signatures, rules, trie, the badger commit with fsync); the
// flat column is the state work alone, so the ratio understates the gain.
// Each also reports the badger directory's size on disk after its blocks.
//
// The trie's store is compacted (chain.Settle) after the genesis is written
// and before the timed blocks, as a long-running node's is: otherwise the
// blocks would compete with the compaction of a million-account genesis.
//
// The trie imports scaleTrieBlocks blocks with the least state retention
// (chain.MinStateRetention), so the last ones also prune the states that
// fall out of the window, as every block of a running full node does.
// ms/block is the mean over the blocks whose signatures were never seen
// (every sender recovered), ms/block-pooled over those whose txs passed the
// pool first (their senders known, as most of a gossiped block's are), and
// ms/block-pruning over those whose window was full, so that the pruner
// ran beside them (it releases what falls out of the window in the
// background), and ms/block+prune the same blocks with their own pruning
// waited for: what a node importing back to back pays per block.
// The node cache starts with what the genesis wrote, as a running node's
// holds what its recent blocks wrote and read.
//
// QUERN_SCALE_MAX caps the accounts (default 1000000); run with
// -benchtime 1x: each run builds its own genesis.
func BenchmarkStateScale(b *testing.B) {
	maxN := 1_000_000
	if s := os.Getenv("QUERN_SCALE_MAX"); s != "" {
		maxN, _ = strconv.Atoi(s)
	}
	const blocks = 5 // of the flat snapshot, whose every block costs the same
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		if n > maxN {
			continue
		}
		fx := newScaleFixture(b, n)
		b.Run(fmt.Sprintf("accounts=%d/trie", n), func(b *testing.B) {
			for range b.N {
				fx.trie(b, scaleTrieBlocks)
			}
		})
		b.Run(fmt.Sprintf("accounts=%d/flat", n), func(b *testing.B) {
			for range b.N {
				fx.flat(b, blocks)
			}
		})
	}
}

type scaleFixture struct {
	n       int
	keys    []*ecdsa.PrivateKey
	senders []common.Address
	all     []common.Address // senders, then the other accounts: the recipients
}

const (
	scaleSenders    = 1000
	scaleTrieBlocks = chain.MinStateRetention + 8
)

func newScaleFixture(b *testing.B, n int) *scaleFixture {
	fx := &scaleFixture{n: n, all: make([]common.Address, 0, n)}
	for i := range scaleSenders {
		k, err := crypto.ToECDSA(crypto.Keccak256(binary.BigEndian.AppendUint64([]byte("sender"), uint64(i))))
		if err != nil {
			b.Fatal(err)
		}
		a := crypto.PubkeyToAddress(k.PublicKey)
		fx.keys, fx.senders, fx.all = append(fx.keys, k), append(fx.senders, a), append(fx.all, a)
	}
	for i := scaleSenders; i < n; i++ {
		fx.all = append(fx.all, common.BytesToAddress(crypto.Keccak256(binary.BigEndian.AppendUint64([]byte("acct"), uint64(i)))))
	}
	return fx
}

// genesis returns the fixture's genesis, built afresh: the benchmarks hold
// its million-entry allocation only while they open a chain, so the
// collector does not walk it during the imports a node would run without it.
func (fx *scaleFixture) genesis() *chain.Genesis {
	g := testGenesis()
	g.Alloc = make(map[common.Address]*uint256.Int, fx.n)
	for i, a := range fx.all {
		if i < scaleSenders {
			g.Alloc[a] = qrn(1000)
		} else {
			g.Alloc[a] = uint256.NewInt(1)
		}
	}
	return g
}

// transfers returns block i's 1000 transfers (sender s at nonce i).
func (fx *scaleFixture) transfers(b *testing.B, i int) []*types.Tx {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	txs := make([]*types.Tx, scaleSenders)
	for s := range txs {
		txs[s] = transfer(b, fx.keys[s], uint64(i), fx.all[rng.IntN(len(fx.all))], uint256.NewInt(1))
	}
	return txs
}

func (fx *scaleFixture) trie(b *testing.B, blocks int) {
	b.StopTimer()
	dir := b.TempDir()
	start := time.Now()
	c, err := chain.OpenWithOptionsSync(dir, fx.genesis(), testEngine{}, chain.Options{StateRetention: chain.MinStateRetention}, os.Getenv("NOSYNC") == "")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	genesis := time.Since(start)
	opened := time.Now()
	for chain.NodeFilterBuilds(c) == 0 { // built in the background from the store
		time.Sleep(time.Millisecond)
	}
	filter := time.Since(opened)
	if err := chain.Settle(c); err != nil {
		b.Fatal(err)
	}
	nowMs := genesisTimeMs + 24*3600*1000
	chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(nowMs)) })
	// Even blocks arrive cold (no signature seen before: every sender is
	// recovered), odd ones as their txs met the node's pool first (the
	// senders recovered then are known: types.Tx.Sender's process cache).
	var cold, pooled, pruning, withPrune []time.Duration
	for i := range blocks {
		blk, err := c.BuildBlock(c.CurrentBlock(), miner1, c.CurrentBlock().Header.Time+2000, fx.transfers(b, i), nil)
		if err != nil || len(blk.Txs) != scaleSenders {
			b.Fatalf("build: %v (%d txs)", err, len(blk.Txs))
		}
		// A block as it arrives from a peer: decoded, no sender cached in it.
		var fresh types.Block
		if err := rlp.DecodeBytes(mustEncode(b, blk), &fresh); err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			types.ForgetRecoveredSenders()
		}
		b.StartTimer()
		t0 := time.Now()
		if err := c.InsertBlock(&fresh); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		// The pruner runs beside the imports; waiting for it here charges
		// each block its own pruning, as a node importing back to back pays.
		c.WaitPruning()
		dw := time.Since(t0)
		b.StopTimer()
		if i%2 == 0 {
			cold = append(cold, d)
		} else {
			pooled = append(pooled, d)
		}
		if uint64(i+1) > chain.MinStateRetention {
			pruning = append(pruning, d)
			withPrune = append(withPrune, dw)
		}
	}
	b.ReportMetric(msMean(cold), "ms/block")
	b.ReportMetric(msMean(pooled), "ms/block-pooled")
	b.ReportMetric(msMean(pruning), "ms/block-pruning")
	b.ReportMetric(msMean(withPrune), "ms/block+prune")
	b.ReportMetric(float64(dirSize(dir))/(1<<20), "MiB-on-disk")
	b.ReportMetric(genesis.Seconds(), "s-genesis")
	b.ReportMetric(filter.Seconds(), "s-node-filter")
	b.StartTimer()
}

// The flat snapshot, as the state was stored before the trie.
type flatAccount struct {
	Addr    common.Address
	Balance *uint256.Int
	Nonce   uint64
}

type flatSnapshot struct {
	Accounts []flatAccount
	Jobs     []struct{}
	Rewards  []struct{}
}

func (fx *scaleFixture) flat(b *testing.B, blocks int) {
	b.StopTimer()
	dir := b.TempDir()
	opts := badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil).WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).WithNumMemtables(2).WithValueThreshold(1 << 10).WithValueLogFileSize(256 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	alloc := fx.genesis().Alloc
	state := make(map[common.Address]*chain.Account, len(alloc))
	for a, v := range alloc {
		state[a] = &chain.Account{Balance: new(uint256.Int).Set(v)}
	}
	type move struct {
		from, to common.Address
	}
	var elapsed time.Duration
	for i := range blocks {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		moves := make([]move, scaleSenders)
		for s := range moves {
			moves[s] = move{fx.senders[s], fx.all[rng.IntN(len(fx.all))]}
		}
		b.StartTimer()
		t0 := time.Now()
		next := make(map[common.Address]*chain.Account, len(state)) // State.Copy
		for a, acc := range state {
			next[a] = &chain.Account{Balance: new(uint256.Int).Set(acc.Balance), Nonce: acc.Nonce}
		}
		for _, m := range moves {
			from, to := next[m.from], next[m.to]
			from.Balance = new(uint256.Int).Sub(from.Balance, uint256.NewInt(1))
			from.Nonce++
			to.Balance = new(uint256.Int).Add(to.Balance, uint256.NewInt(1))
		}
		var snap flatSnapshot // EncodeState
		for a, acc := range next {
			snap.Accounts = append(snap.Accounts, flatAccount{a, acc.Balance, acc.Nonce})
		}
		slices.SortFunc(snap.Accounts, func(x, y flatAccount) int { return bytes.Compare(x.Addr[:], y.Addr[:]) })
		enc, err := rlp.EncodeToBytes(&snap)
		if err != nil {
			b.Fatal(err)
		}
		root := crypto.Keccak256Hash(enc)
		err = db.Update(func(txn *badger.Txn) error {
			if err := txn.Set(append([]byte("s"), root[:]...), enc); err != nil {
				return err
			}
			return txn.Set(binary.BigEndian.AppendUint64([]byte("S"), uint64(i)), root[:])
		})
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(t0)
		b.StopTimer()
		state = next
	}
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(blocks), "ms/block")
	b.ReportMetric(float64(dirSize(dir))/(1<<20), "MiB-on-disk")
	b.StartTimer()
}

// msMean is the mean of ds in milliseconds.
func msMean(ds []time.Duration) float64 {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return float64(sum.Microseconds()) / 1000 / float64(max(len(ds), 1))
}

func mustEncode(b *testing.B, v any) []byte {
	enc, err := rlp.EncodeToBytes(v)
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

// dirSize is the disk space the files under dir take (allocated blocks:
// badger preallocates its value log sparsely).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}
