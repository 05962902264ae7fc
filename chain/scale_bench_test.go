package chain_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb/database"
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
// The floor column is the least any import built on go-ethereum's trie and
// one badger record per node can pay, on the same blocks: the trie
// library's own work (read the 2,000 accounts, update them, hash and
// collect the new nodes, over nodes held in memory so that a read costs
// only its decoding; the faster of the serial calls and the library's
// parallel ones) plus one badger transaction that writes those nodes as
// bare records with fsync (no reads, no counts). No signature, rule,
// journal, index or cache. flat / floor bounds the ratio any such import
// reaches on this machine; flat / floor's trie part (ms/block-trie) bounds
// it for any storage at all. ms/block-hash-only is the same trie work on a
// trie kept open across the blocks and only hashed, never committed: no
// node collected, stored or decoded twice, which no import that keeps its
// states can do with this library (a committed trie is closed for use) and
// which still bounds what any import on it can reach.
//
// QUERN_SCALE_MAX caps the accounts (default 1000000); run with
// -benchtime 1x: each run builds its own genesis. QUERN_SCALE_CPUPROFILE=F
// writes a CPU profile of the largest state's trie run to F, its imports
// labelled phase=import (go tool pprof -tagfocus phase=import).
func BenchmarkStateScale(b *testing.B) {
	maxN := maxScaleAccounts()
	const blocks = 5 // of the flat snapshot, whose every block costs the same
	sizes := slices.DeleteFunc([]int{1_000, 100_000, 1_000_000}, func(n int) bool { return n > maxN })
	for i, n := range sizes {
		fx := newScaleFixture(b, n)
		fx.largest = i == len(sizes)-1
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
		b.Run(fmt.Sprintf("accounts=%d/floor", n), func(b *testing.B) {
			for range b.N {
				fx.floor(b, blocks)
			}
		})
	}
}

// maxScaleAccounts is the largest state BenchmarkStateScale builds.
func maxScaleAccounts() int {
	if s := os.Getenv("QUERN_SCALE_MAX"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	return 1_000_000
}

type scaleFixture struct {
	n       int
	largest bool // the largest state of the run (QUERN_SCALE_CPUPROFILE profiles its imports)
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

// moves returns block i's 1000 moves of one wei, sender s to a random
// account: the same blocks for the trie, the flat snapshot and the floor.
func (fx *scaleFixture) moves(i int) [][2]common.Address {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	moves := make([][2]common.Address, scaleSenders)
	for s := range moves {
		moves[s] = [2]common.Address{fx.senders[s], fx.all[rng.IntN(len(fx.all))]}
	}
	return moves
}

// transfers returns block i's 1000 transfers (sender s at nonce i).
func (fx *scaleFixture) transfers(b *testing.B, i int) []*types.Tx {
	txs := make([]*types.Tx, scaleSenders)
	for s, m := range fx.moves(i) {
		txs[s] = transfer(b, fx.keys[s], uint64(i), m[1], uint256.NewInt(1))
	}
	return txs
}

// build returns the fixture's blocks, each built and imported by a chain of
// its own (the miner's) from the same genesis and encoded as a peer sends
// them, so that building a block warms nothing in the chain that imports it.
func (fx *scaleFixture) build(b *testing.B, blocks int, nowMs uint64) [][]byte {
	c, err := chain.OpenWithOptionsSync(b.TempDir(), fx.genesis(), testEngine{}, chain.Options{StateRetention: chain.MinStateRetention}, false)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(nowMs)) })
	encs := make([][]byte, blocks)
	for i := range blocks {
		blk, err := c.BuildBlock(c.CurrentBlock(), miner1, c.CurrentBlock().Header.Time+2000, fx.transfers(b, i), nil)
		if err != nil || len(blk.Txs) != scaleSenders {
			b.Fatalf("build: %v (%d txs)", err, len(blk.Txs))
		}
		if err := c.InsertBlock(blk); err != nil {
			b.Fatal(err)
		}
		encs[i] = mustEncode(b, blk)
	}
	return encs
}

func (fx *scaleFixture) trie(b *testing.B, blocks int) {
	b.StopTimer()
	nowMs := genesisTimeMs + 24*3600*1000
	encs := fx.build(b, blocks, uint64(nowMs))
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
	chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(nowMs)) })
	// Even blocks arrive cold (no signature seen before: every sender is
	// recovered), odd ones as their txs met the node's pool first (the
	// senders recovered then are known: types.Tx.Sender's process cache).
	// The pool reads no state here: what the blocks touch is in the node
	// cache only if the genesis left it there.
	var cold, pooled, pruning, withPrune []time.Duration
	if path := os.Getenv("QUERN_SCALE_CPUPROFILE"); path != "" && fx.largest {
		// Profile the imports of the largest state only: pprof -tagfocus
		// phase=import leaves out the building of the blocks between them.
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	for i := range blocks {
		// A block as it arrives from a peer: decoded, no sender cached in it.
		var fresh types.Block
		if err := rlp.DecodeBytes(encs[i], &fresh); err != nil {
			b.Fatal(err)
		}
		types.ForgetRecoveredSenders()
		if i%2 == 1 { // the txs as they entered the pool, each decoded on its own
			var pooled types.Block
			if err := rlp.DecodeBytes(encs[i], &pooled); err != nil {
				b.Fatal(err)
			}
			for _, tx := range pooled.Txs {
				if _, err := tx.Sender(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StartTimer()
		var d, dw time.Duration
		pprof.Do(context.Background(), pprof.Labels("phase", "import"), func(context.Context) {
			t0 := time.Now()
			if err := c.InsertBlock(&fresh); err != nil {
				b.Fatal(err)
			}
			d = time.Since(t0)
			// The pruner runs beside the imports; waiting for it here charges
			// each block its own pruning, as a node importing back to back pays.
			c.WaitPruning()
			dw = time.Since(t0)
		})
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
	var elapsed time.Duration
	for i := range blocks {
		moves := fx.moves(i)
		b.StartTimer()
		t0 := time.Now()
		next := make(map[common.Address]*chain.Account, len(state)) // State.Copy
		for a, acc := range state {
			next[a] = &chain.Account{Balance: new(uint256.Int).Set(acc.Balance), Nonce: acc.Nonce}
		}
		for _, m := range moves {
			from, to := next[m[0]], next[m[1]]
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

// memNodes is a trie node database in memory for the floor: one byte arena
// and an index into it, neither holding a pointer, so that the collector
// has nothing of it to walk (the chain keeps its nodes off the heap too)
// and a read costs a map lookup and the library's own decoding.
type memNodes struct {
	at    map[common.Hash][2]uint32 // offset and length in arena
	arena []byte
}

func newMemNodes() *memNodes { return &memNodes{at: make(map[common.Hash][2]uint32)} }

func (m *memNodes) put(h common.Hash, blob []byte) {
	if _, ok := m.at[h]; !ok {
		m.at[h] = [2]uint32{uint32(len(m.arena)), uint32(len(blob))}
		m.arena = append(m.arena, blob...)
	}
}

func (m *memNodes) NodeReader(common.Hash) (database.NodeReader, error) { return m, nil }

func (m *memNodes) Node(_ common.Hash, _ []byte, h common.Hash) ([]byte, error) {
	if at, ok := m.at[h]; ok {
		return m.arena[at[0] : at[0]+at[1] : at[0]+at[1]], nil
	}
	return nil, nil
}

// floorAccount is an account's leaf value, as the chain encodes it.
type floorAccount struct {
	Balance *uint256.Int
	Nonce   uint64
}

// floor measures the least a block costs on go-ethereum's trie and badger
// (see BenchmarkStateScale): the library's work on the block's accounts,
// then a transaction of its new nodes. The work is done twice per block
// from the same root, once serially and once on the library's parallel
// paths, in alternating order, and the faster counts (both must give the
// same root). ms/block is the sum; ms/block-trie and ms/block-records each
// part.
func (fx *scaleFixture) floor(b *testing.B, blocks int) {
	b.StopTimer()
	nodes := newMemNodes()
	tr := trie.NewEmpty(nodes)
	for a, v := range fx.genesis().Alloc {
		if err := tr.Update(chain.AccountKey(a), mustEncode(b, &floorAccount{Balance: v})); err != nil {
			b.Fatal(err)
		}
	}
	root, set := tr.Commit(false)
	for _, n := range set.Nodes {
		nodes.put(n.Hash, n.Blob)
	}
	db, err := chain.OpenStoreDB(b.TempDir()) // the chain's own badger options
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// live stays open across the blocks and is only ever hashed: the
	// library's cost with nothing collected, stored or read again.
	live, err := trie.New(trie.TrieID(root), nodes)
	if err != nil {
		b.Fatal(err)
	}
	var libTime, recTime, liveTime time.Duration
	for i := range blocks {
		moves := fx.moves(i)
		b.StartTimer()
		var (
			roots [2]common.Hash
			sets  [2]*trienode.NodeSet
			took  [2]time.Duration
		)
		for k := range 2 {
			parallel := (i+k)%2 == 0
			t0 := time.Now()
			roots[k], sets[k] = floorTrieWork(b, nodes, root, moves, parallel)
			took[k] = time.Since(t0)
		}
		if roots[0] != roots[1] {
			b.Fatalf("block %d: serial and parallel trie work disagree: %s, %s", i, roots[0], roots[1])
		}
		root, set = roots[0], sets[0]
		t1 := time.Now()
		err = db.Update(func(txn *badger.Txn) error {
			for _, n := range set.Nodes {
				if n.IsDeleted() {
					continue
				}
				rec := append(binary.AppendUvarint(make([]byte, 0, 1+len(n.Blob)), 1), n.Blob...)
				if err := txn.Set(append([]byte{'T'}, n.Hash[:]...), rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		recTime += time.Since(t1)
		libTime += min(took[0], took[1])
		t3 := time.Now()
		if h := floorLiveWork(b, live, moves); h != root {
			b.Fatalf("block %d: the live trie hashes to %s, the committed one to %s", i, h, root)
		}
		liveTime += time.Since(t3)
		b.StopTimer()
		for _, n := range set.Nodes {
			if !n.IsDeleted() {
				nodes.put(n.Hash, n.Blob)
			}
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(blocks) }
	b.ReportMetric(ms(libTime+recTime), "ms/block")
	b.ReportMetric(ms(libTime), "ms/block-trie")
	b.ReportMetric(ms(recTime), "ms/block-records")
	b.ReportMetric(ms(liveTime), "ms/block-hash-only")
	b.StartTimer()
}

// floorMoves reads each move's two accounts from tr, takes one wei from the
// first (and bumps its nonce) to the second, and returns the accounts it
// changed.
func floorMoves(b *testing.B, tr *trie.Trie, moves [][2]common.Address) map[common.Address]*floorAccount {
	touched := make(map[common.Address]*floorAccount, 2*len(moves))
	read := func(a common.Address) *floorAccount {
		if acc, ok := touched[a]; ok {
			return acc
		}
		v, err := tr.Get(chain.AccountKey(a))
		if err != nil {
			b.Fatal(err)
		}
		acc := new(floorAccount)
		if err := rlp.DecodeBytes(v, acc); err != nil {
			b.Fatal(err)
		}
		touched[a] = acc
		return acc
	}
	for _, m := range moves {
		from, to := read(m[0]), read(m[1])
		from.Balance = new(uint256.Int).Sub(from.Balance, uint256.NewInt(1))
		from.Nonce++
		to.Balance = new(uint256.Int).Add(to.Balance, uint256.NewInt(1))
	}
	return touched
}

// floorLiveWork applies a block's moves to a trie that stays open (each
// path resolved once, then kept in memory) and hashes it, without
// committing: what the block's trie work costs when no node is collected
// or re-read. It returns the root.
func floorLiveWork(b *testing.B, tr *trie.Trie, moves [][2]common.Address) common.Hash {
	touched := floorMoves(b, tr, moves)
	for a, acc := range touched {
		if err := tr.Update(chain.AccountKey(a), mustEncode(b, acc)); err != nil {
			b.Fatal(err)
		}
	}
	return tr.Hash()
}

// floorTrieWork is one block's trie work for the floor: read each move's
// two accounts, take one wei from the first (and bump its nonce) to the
// second, write the accounts back and commit. parallel uses the library's
// parallel paths (Prefetch from a resolved root, UpdateBatch); otherwise
// Get and Update one by one in key order, as the chain does.
func floorTrieWork(b *testing.B, nodes *memNodes, root common.Hash, moves [][2]common.Address, parallel bool) (common.Hash, *trienode.NodeSet) {
	tr, err := trie.New(trie.TrieID(root), nodes)
	if err != nil {
		b.Fatal(err)
	}
	if parallel {
		keys := make([][]byte, 0, 2*len(moves))
		for _, m := range moves {
			keys = append(keys, chain.AccountKey(m[0]), chain.AccountKey(m[1]))
		}
		if _, err := tr.Get(keys[0]); err != nil { // Prefetch goes parallel below a resolved root
			b.Fatal(err)
		}
		if err := tr.Prefetch(keys[1:]); err != nil {
			b.Fatal(err)
		}
	}
	touched := floorMoves(b, tr, moves)
	addrs := slices.SortedFunc(maps.Keys(touched), func(x, y common.Address) int { return bytes.Compare(x[:], y[:]) })
	if parallel {
		keys, vals := make([][]byte, len(addrs)), make([][]byte, len(addrs))
		for i, a := range addrs {
			keys[i], vals[i] = chain.AccountKey(a), mustEncode(b, touched[a])
		}
		if err := tr.UpdateBatch(keys, vals); err != nil {
			b.Fatal(err)
		}
	} else {
		for _, a := range addrs {
			if err := tr.Update(chain.AccountKey(a), mustEncode(b, touched[a])); err != nil {
				b.Fatal(err)
			}
		}
	}
	return tr.Commit(false)
}
