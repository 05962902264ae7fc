package chain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	ethtypes "github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb/database"
	"github.com/holiman/uint256"
)

// Account is an address's balance (wei) and next nonce.
type Account struct {
	Balance *uint256.Int
	Nonce   uint64
}

// Job statuses.
const (
	JobPending uint8 = 0 // fee escrowed, waiting for a result until Expiry
	JobDone    uint8 = 1 // result landed in DoneBlock
	JobExpired uint8 = 2 // not done by Expiry: fee refunded to Owner
)

// Job kinds: the program kind of the job tx (vm.KindMatMul, vm.KindTrain).
const (
	JobMatMul uint8 = 1
	JobTrain  uint8 = 2
)

// Job is a job's record in the state. Its RLP encoding is the field list in
// this order; it is the value of the job's leaf in the state trie.
type Job struct {
	ID         common.Hash    // hash of the job transaction
	Owner      common.Address // sender of the job transaction
	Fee        *uint256.Int   // escrowed fee
	Work       uint64         // W in MACs, from the vm's static count
	Rows, Cols uint32         // shape of the result
	Expiry     uint64         // last block number at which its result may land
	Submitted  uint64         // number of the block that holds the job tx
	Status     uint8
	ResultHash common.Hash    // JobResult.Hash of the accepted result
	DoneBlock  uint64         // number of the block holding the result
	Miner      common.Address // coinbase of that block
	Burned     *uint256.Int   // burned so far: the program's bytes at submission, base fees since
	MinerFee   *uint256.Int   // paid to Miner by the last result or segment (matmul: Fee − Burned)
	Kind       uint8          // JobMatMul or JobTrain
	StepsDone  uint32         // training: steps on chain (a multiple of k, or N when done)
	Checkpoint common.Hash    // training: root of the state after StepsDone steps (stored by root)
	Paid       *uint256.Int   // miner fees paid so far, every segment's together
}

// Left is the escrow neither burned nor paid yet: what a training job's
// remaining segments can earn, and what expiry refunds.
func (j *Job) Left() *uint256.Int {
	l := new(uint256.Int).Sub(orZero(j.Fee), orZero(j.Burned))
	return l.Sub(l, orZero(j.Paid))
}

func (j *Job) copy() *Job {
	c := *j
	c.Fee, c.Burned, c.MinerFee, c.Paid = clone(j.Fee), clone(j.Burned), clone(j.MinerFee), clone(j.Paid)
	return &c
}

// The state is one Merkle Patricia trie (go-ethereum's trie, hash-keyed
// nodes; docs/protocol.md §8). Its keys, all under a one-byte namespace:
//
//	nsAccount ‖ Keccak256(address) → rlp([balance, nonce])      (absent: zero balance and nonce)
//	nsJob     ‖ Keccak256(jobID)   → rlp(Job)
//	nsReward  ‖ Keccak256(address) → rlp(amount)                (absent: zero)
//	nsPending ‖ expiry (8-byte BE) ‖ jobID → 0x01                (one per pending job)
//
// Accounts, jobs and rewards are keyed by hash, as Ethereum's secure trie
// is, so no one shapes the trie by choosing keys. The pending index is keyed
// by expiry so a block expires its jobs, and a miner lists the pending ones,
// by reading a key range: O(pending), not O(every job ever).
const (
	nsAccount byte = 0x00
	nsJob     byte = 0x01
	nsReward  byte = 0x02
	nsPending byte = 0x03
)

// AccountKey, JobKey and RewardKey are the trie keys of an account, a job
// record and a miner's reward (what a proof proves).
func AccountKey(a common.Address) []byte { return hashedKey(nsAccount, a[:]) }
func JobKey(id common.Hash) []byte       { return hashedKey(nsJob, id[:]) }
func RewardKey(a common.Address) []byte  { return hashedKey(nsReward, a[:]) }

func hashedKey(ns byte, raw []byte) []byte {
	k := make([]byte, 1, 1+common.HashLength)
	k[0] = ns
	return append(k, crypto.Keccak256(raw)...)
}

func pendingKey(expiry uint64, id common.Hash) []byte {
	k := binary.BigEndian.AppendUint64([]byte{nsPending}, expiry)
	return append(k, id[:]...)
}

var pendingMark = []byte{1}

// accountRLP is an account's leaf value.
type accountRLP struct {
	Balance *uint256.Int
	Nonce   uint64
}

// State is the account, job and reward state after a block: a trie root
// read through the chain's node store, plus, for a mutable state, the
// records it read and changed. States handed out by the chain are frozen:
// nothing changes them, so they are safe to share between goroutines. Copy
// returns a mutable one.
type State struct {
	store  *nodeStore
	root   common.Hash
	frozen bool
	// mem holds the trie nodes this state's commit made while they are not
	// in the store yet (a block not yet written, a genesis state outside a
	// chain). The chain clears it once they are; readers fall back to the store.
	mem atomic.Pointer[map[common.Hash][]byte]
	// journal is what the commit that made this state added to and removed
	// from the trie, for the store's reference counts (nil if loaded).
	journal *stateJournal

	// err is the first read that failed: a node missing from the store, so
	// the state was pruned (ErrPrunedState) or the store is broken. Reads
	// after it return zero values; the chain checks Err before trusting
	// anything computed from the state.
	err atomic.Pointer[error]

	// A mutable state: its trie and the records it loaded or changed.
	tr       *trie.Trie
	accounts map[common.Address]*Account
	jobs     map[common.Hash]*Job
	rewards  map[common.Address]*uint256.Int
	dirty    map[string]struct{} // "a"‖addr, "j"‖id, "r"‖addr of changed records
	oldJobs  map[common.Hash]*Job
	resolved map[string]common.Hash // trie path → hash of the committed node read there
}

// NewState returns an empty, mutable state outside any chain (genesis,
// tests): its nodes live in memory until a chain stores them.
func NewState() *State {
	s := &State{store: nil, root: ethtypes.EmptyRootHash}
	s.initMutable()
	return s
}

func (s *State) initMutable() {
	s.accounts = make(map[common.Address]*Account)
	s.jobs = make(map[common.Hash]*Job)
	s.rewards = make(map[common.Address]*uint256.Int)
	s.dirty = make(map[string]struct{})
	s.oldJobs = make(map[common.Hash]*Job)
	s.resolved = make(map[string]common.Hash)
}

// stateAt returns the frozen state with root root in store.
func stateAt(store *nodeStore, root common.Hash) *State {
	return &State{store: store, root: root, frozen: true}
}

// Err returns the first failed read: nil, or an error wrapping
// ErrPrunedState when a node of the state is no longer stored.
func (s *State) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records the first failed read (frozen states are read from many
// goroutines: the record is atomic).
func (s *State) fail(err error) {
	if err == nil {
		return
	}
	var missing *trie.MissingNodeError
	if errors.As(err, &missing) {
		err = fmt.Errorf("%w: state %s: trie node %s missing", ErrPrunedState, s.root.TerminalString(), missing.NodeHash.TerminalString())
	}
	s.err.CompareAndSwap(nil, &err)
}

// NodeReader implements database.NodeDatabase for the trie library.
func (s *State) NodeReader(common.Hash) (database.NodeReader, error) { return s, nil }

// Node implements database.NodeReader: the state's own new nodes first,
// then the store.
// A mutable state notes each node's hash by its path as it resolves it: the
// commit's journal then names the nodes it replaced without hashing them
// again (newJournal).
func (s *State) Node(_ common.Hash, path []byte, hash common.Hash) ([]byte, error) {
	if s.resolved != nil {
		s.resolved[string(path)] = hash
	}
	if m := s.mem.Load(); m != nil {
		if blob, ok := (*m)[hash]; ok {
			return blob, nil
		}
	}
	if s.store == nil {
		return nil, nil
	}
	return s.store.node(hash, true)
}

// openTrie opens the state's committed trie.
func (s *State) openTrie() (*trie.Trie, error) {
	return trie.New(trie.TrieID(s.root), s)
}

// get reads key from the committed trie (a mutable state's own trie, so its
// resolved nodes are kept for the commit; a fresh one for a frozen state, so
// concurrent readers share nothing but the store).
func (s *State) get(key []byte) []byte {
	if s.Err() != nil {
		return nil
	}
	tr := s.tr
	if tr == nil {
		var err error
		if tr, err = s.openTrie(); err != nil {
			s.fail(err)
			return nil
		}
		if !s.frozen {
			s.tr = tr
		}
	}
	v, err := tr.Get(key)
	if err != nil {
		s.fail(err)
		return nil
	}
	return v
}

func (s *State) loadAccount(a common.Address) *Account {
	if acc, ok := s.accounts[a]; ok {
		return acc
	}
	acc := &Account{Balance: new(uint256.Int)}
	if v := s.get(AccountKey(a)); v != nil {
		var e accountRLP
		if err := rlp.DecodeBytes(v, &e); err != nil {
			s.fail(fmt.Errorf("account %s: %w", a, err))
		} else {
			acc.Balance, acc.Nonce = orZero(e.Balance), e.Nonce
		}
	}
	if !s.frozen {
		s.accounts[a] = acc
	}
	return acc
}

func (s *State) loadJob(id common.Hash) *Job {
	if j, ok := s.jobs[id]; ok {
		return j
	}
	var j *Job
	if v := s.get(JobKey(id)); v != nil {
		j = new(Job)
		if err := rlp.DecodeBytes(v, j); err != nil {
			s.fail(fmt.Errorf("job %s: %w", id, err))
			j = nil
		} else {
			j.Fee, j.Burned, j.MinerFee, j.Paid = orZero(j.Fee), orZero(j.Burned), orZero(j.MinerFee), orZero(j.Paid)
		}
	}
	if !s.frozen {
		s.jobs[id] = j
		if j != nil {
			if _, ok := s.oldJobs[id]; !ok {
				s.oldJobs[id] = j.copy()
			}
		}
	}
	return j
}

func (s *State) loadReward(a common.Address) *uint256.Int {
	if r, ok := s.rewards[a]; ok {
		return r
	}
	r := new(uint256.Int)
	if v := s.get(RewardKey(a)); v != nil {
		if err := rlp.DecodeBytes(v, r); err != nil {
			s.fail(fmt.Errorf("reward %s: %w", a, err))
		}
	}
	if !s.frozen {
		s.rewards[a] = r
	}
	return r
}

// Account returns a copy of a's account; the zero account if absent.
func (s *State) Account(a common.Address) Account {
	acc := s.loadAccount(a)
	return Account{Balance: clone(acc.Balance), Nonce: acc.Nonce}
}

// Job returns a copy of job id's record.
func (s *State) Job(id common.Hash) (*Job, bool) {
	j := s.loadJob(id)
	if j == nil {
		return nil, false
	}
	return j.copy(), true
}

// MinerReward returns the wei a has earned as coinbase (subsidy plus fees).
func (s *State) MinerReward(a common.Address) *uint256.Int {
	return clone(s.loadReward(a))
}

// pendingIDs calls f with every job in the committed trie's pending index
// whose expiry is below before (0: all), in (expiry, id) order, until f
// returns false.
func (s *State) pendingIDs(before uint64, f func(expiry uint64, id common.Hash) bool) {
	if s.Err() != nil {
		return
	}
	tr, err := s.openTrie()
	if err != nil {
		s.fail(err)
		return
	}
	nit, err := tr.NodeIterator([]byte{nsPending})
	if err != nil {
		s.fail(err)
		return
	}
	it := trie.NewIterator(nit)
	for it.Next() {
		k := it.Key
		if len(k) != 1+8+common.HashLength || k[0] != nsPending {
			break
		}
		expiry := binary.BigEndian.Uint64(k[1:9])
		if before != 0 && expiry >= before {
			break
		}
		if !f(expiry, common.BytesToHash(k[9:])) {
			break
		}
	}
	s.fail(it.Err)
}

// PendingJobs returns copies of the pending jobs, highest fee first, then by
// id. A job with Expiry below the next block's number is still listed until
// that block expires it. It reads the pending index: O(pending jobs).
func (s *State) PendingJobs() []*Job {
	var out []*Job
	seen := make(map[common.Hash]bool)
	s.pendingIDs(0, func(_ uint64, id common.Hash) bool {
		seen[id] = true
		if j := s.loadJob(id); j != nil && j.Status == JobPending {
			out = append(out, j.copy())
		}
		return true
	})
	for id, j := range s.jobs { // a mutable state's jobs not committed yet
		if j != nil && !seen[id] && j.Status == JobPending {
			out = append(out, j.copy())
		}
	}
	slices.SortFunc(out, func(a, b *Job) int {
		if c := b.Fee.Cmp(a.Fee); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out
}

// Copy returns a mutable state that starts from s. s must be frozen.
func (s *State) Copy() *State {
	if !s.frozen {
		panic("chain: copying a mutable state")
	}
	c := &State{store: s.store, root: s.root}
	c.mem.Store(s.mem.Load())
	c.err.Store(s.err.Load())
	c.initMutable()
	return c
}

// Root is the state root. A mutable state hashes its changes (without
// committing them) to answer.
func (s *State) Root() common.Hash {
	if s.frozen {
		return s.root
	}
	tr, err := s.applyChanges()
	if err != nil {
		s.fail(err)
		return common.Hash{}
	}
	return tr.Hash()
}

// mutators: only the state transition and genesis use them, on mutable states.

func (s *State) mutable() {
	if s.frozen {
		panic("chain: mutating a frozen state")
	}
}

func (s *State) acct(a common.Address) *Account {
	s.mutable()
	acc := s.loadAccount(a)
	s.dirty["a"+string(a[:])] = struct{}{}
	return acc
}

func (s *State) credit(a common.Address, v *uint256.Int) {
	acc := s.acct(a)
	acc.Balance = new(uint256.Int).Add(acc.Balance, v)
}

// debit assumes the caller checked the balance.
func (s *State) debit(a common.Address, v *uint256.Int) {
	acc := s.acct(a)
	acc.Balance = new(uint256.Int).Sub(acc.Balance, v)
}

func (s *State) incNonce(a common.Address) { s.acct(a).Nonce++ }

// job returns job id's record for change (nil if unknown).
func (s *State) job(id common.Hash) *Job {
	s.mutable()
	j := s.loadJob(id)
	if j != nil {
		s.dirty["j"+string(id[:])] = struct{}{}
	}
	return j
}

func (s *State) putJob(j *Job) {
	s.mutable()
	s.loadJob(j.ID) // the old record, if any, for the pending index
	s.jobs[j.ID] = j
	s.dirty["j"+string(j.ID[:])] = struct{}{}
}

func (s *State) addReward(a common.Address, v *uint256.Int) {
	s.mutable()
	r := s.loadReward(a)
	s.rewards[a] = new(uint256.Int).Add(r, v)
	s.dirty["r"+string(a[:])] = struct{}{}
}

// applyChanges writes the changed records into the mutable state's trie
// (in sorted key order, so every node hashes the same way everywhere) and
// returns it.
func (s *State) applyChanges() (*trie.Trie, error) {
	if err := s.Err(); err != nil {
		return nil, err
	}
	if s.tr == nil {
		tr, err := s.openTrie()
		if err != nil {
			return nil, err
		}
		s.tr = tr
	}
	keys := slices.Sorted(maps.Keys(s.dirty))
	for _, k := range keys {
		var err error
		switch k[0] {
		case 'a':
			a := common.BytesToAddress([]byte(k[1:]))
			acc := s.accounts[a]
			if acc.Balance.IsZero() && acc.Nonce == 0 {
				err = s.tr.Delete(AccountKey(a))
			} else {
				err = s.tr.Update(AccountKey(a), mustRLP(&accountRLP{acc.Balance, acc.Nonce}))
			}
		case 'j':
			id := common.BytesToHash([]byte(k[1:]))
			j := s.jobs[id]
			if err = s.tr.Update(JobKey(id), mustRLP(j)); err != nil {
				break
			}
			if old := s.oldJobs[id]; old != nil && old.Status == JobPending && (j.Status != JobPending || old.Expiry != j.Expiry) {
				err = s.tr.Delete(pendingKey(old.Expiry, id))
			}
			if err == nil && j.Status == JobPending {
				err = s.tr.Update(pendingKey(j.Expiry, id), pendingMark)
			}
		case 'r':
			a := common.BytesToAddress([]byte(k[1:]))
			if r := s.rewards[a]; r.IsZero() {
				err = s.tr.Delete(RewardKey(a))
			} else {
				err = s.tr.Update(RewardKey(a), mustRLP(r))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	clear(s.dirty)
	for id, j := range s.jobs {
		if j != nil {
			s.oldJobs[id] = j.copy()
		}
	}
	return s.tr, nil
}

// freeze commits the changes: the new root, the new nodes (kept in memory
// until the chain stores them) and the journal of nodes added and replaced.
// A read that failed is kept in Err; the root is then meaningless.
func (s *State) freeze() {
	s.mutable()
	tr, err := s.applyChanges()
	if err != nil {
		s.fail(err)
		s.frozen = true
		return
	}
	root, nodes := tr.Commit(false)
	mem := make(map[common.Hash][]byte)
	if old := s.mem.Load(); old != nil {
		maps.Copy(mem, *old)
	}
	s.journal = newJournal(nodes, s.resolved, mem)
	s.mem.Store(&mem)
	s.root, s.frozen = root, true
	s.tr, s.accounts, s.jobs, s.rewards, s.dirty, s.oldJobs, s.resolved = nil, nil, nil, nil, nil, nil, nil
}

// stored tells a frozen state that its nodes are in the store now.
func (s *State) stored() { s.mem.Store(nil) }

// stateJournal is what one commit did to the trie: the nodes it wrote (one
// entry per trie position, so a node at two positions counts twice) and the
// nodes it replaced or removed. The store counts references from it
// (nodeStore, docs/protocol.md §8).
type stateJournal struct {
	Born []common.Hash
	Dead []common.Hash
}

// newJournal reads a commit's node set, adding its new nodes to mem. The
// hash of a node the commit replaced is the one its path was resolved by
// (resolved); a node read some other way is hashed. The journal's order
// carries no meaning.
func newJournal(set *trienode.NodeSet, resolved map[string]common.Hash, mem map[common.Hash][]byte) *stateJournal {
	j := new(stateJournal)
	if set == nil {
		return j
	}
	for path, n := range set.Nodes {
		var prev common.Hash
		if orig := set.Origins[path]; len(orig) != 0 {
			var ok bool
			if prev, ok = resolved[path]; !ok {
				prev = crypto.Keccak256Hash(orig)
			}
		}
		if !n.IsDeleted() && n.Hash == prev {
			continue // rewritten unchanged
		}
		if prev != (common.Hash{}) {
			j.Dead = append(j.Dead, prev)
		}
		if !n.IsDeleted() {
			j.Born = append(j.Born, n.Hash)
			mem[n.Hash] = n.Blob
		}
	}
	return j
}

func clone(v *uint256.Int) *uint256.Int {
	if v == nil {
		return new(uint256.Int)
	}
	return new(uint256.Int).Set(v)
}

func orZero(v *uint256.Int) *uint256.Int {
	if v == nil {
		return new(uint256.Int)
	}
	return v
}

func mustRLP(v any) []byte {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		panic("chain: rlp encode: " + err.Error())
	}
	return b
}
