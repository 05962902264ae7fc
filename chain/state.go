package chain

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
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
// this order; it is part of the state root.
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

// State is the account and job state after a block. States handed out by the
// chain are frozen: nothing changes them, so they are safe to share between
// goroutines. Copy returns a private copy.
type State struct {
	accounts map[common.Address]*Account
	jobs     map[common.Hash]*Job
	rewards  map[common.Address]*uint256.Int // cumulative coinbase earnings

	frozen bool
	root   common.Hash // valid when frozen
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		accounts: make(map[common.Address]*Account),
		jobs:     make(map[common.Hash]*Job),
		rewards:  make(map[common.Address]*uint256.Int),
	}
}

// Account returns a copy of a's account; the zero account if absent.
func (s *State) Account(a common.Address) Account {
	if acc, ok := s.accounts[a]; ok {
		return Account{Balance: clone(acc.Balance), Nonce: acc.Nonce}
	}
	return Account{Balance: new(uint256.Int)}
}

// Job returns a copy of job id's record.
func (s *State) Job(id common.Hash) (*Job, bool) {
	j, ok := s.jobs[id]
	if !ok {
		return nil, false
	}
	return j.copy(), true
}

// PendingJobs returns copies of the pending jobs, highest fee first, then by id.
// A job with Expiry below the next block's number is still listed until
// that block expires it.
func (s *State) PendingJobs() []*Job {
	var out []*Job
	for _, j := range s.jobs {
		if j.Status == JobPending {
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

// MinerReward returns the wei a has earned as coinbase (subsidy plus fees).
func (s *State) MinerReward(a common.Address) *uint256.Int {
	if r, ok := s.rewards[a]; ok {
		return clone(r)
	}
	return new(uint256.Int)
}

// Copy returns a deep, mutable copy.
func (s *State) Copy() *State {
	c := NewState()
	for a, acc := range s.accounts {
		c.accounts[a] = &Account{Balance: clone(acc.Balance), Nonce: acc.Nonce}
	}
	for id, j := range s.jobs {
		c.jobs[id] = j.copy()
	}
	for a, r := range s.rewards {
		c.rewards[a] = clone(r)
	}
	return c
}

// Root is the state root: Keccak256(EncodeState(s)).
func (s *State) Root() common.Hash {
	if s.frozen {
		return s.root
	}
	return types.Keccak(EncodeState(s))
}

// freeze fixes s (no more mutation) and caches its root.
func (s *State) freeze() {
	s.root = types.Keccak(EncodeState(s))
	s.frozen = true
}

// mutators: only the state transition and genesis use them, on unfrozen copies.

func (s *State) acct(a common.Address) *Account {
	if s.frozen {
		panic("chain: mutating a frozen state")
	}
	acc, ok := s.accounts[a]
	if !ok {
		acc = &Account{Balance: new(uint256.Int)}
		s.accounts[a] = acc
	}
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

func (s *State) putJob(j *Job) {
	if s.frozen {
		panic("chain: mutating a frozen state")
	}
	s.jobs[j.ID] = j
}

func (s *State) addReward(a common.Address, v *uint256.Int) {
	if s.frozen {
		panic("chain: mutating a frozen state")
	}
	s.rewards[a] = new(uint256.Int).Add(s.MinerReward(a), v)
}

// The canonical state snapshot, which is both what is stored per block and
// what the state root hashes:
//
//	root = Keccak256(rlp([accounts, jobs, rewards]))
//	accounts = [[address, balance, nonce], ...]  sorted by address, omitting
//	           accounts with zero balance and zero nonce
//	jobs     = [[id, owner, fee, work, rows, cols, expiry, submitted, status,
//	            resultHash, doneBlock, miner, burned, minerFee,
//	            kind, stepsDone, checkpoint, paid], ...]  sorted by id
//	rewards  = [[address, amount], ...]  sorted by address, omitting zero amounts
//
// Integers are RLP's minimal big-endian; balances and amounts are uint256.
type stateSnapshot struct {
	Accounts []accountEntry
	Jobs     []*Job
	Rewards  []rewardEntry
}

type accountEntry struct {
	Addr    common.Address
	Balance *uint256.Int
	Nonce   uint64
}

type rewardEntry struct {
	Addr   common.Address
	Amount *uint256.Int
}

// EncodeState returns the canonical snapshot encoding of s.
func EncodeState(s *State) []byte {
	var snap stateSnapshot
	for a, acc := range s.accounts {
		if acc.Balance.IsZero() && acc.Nonce == 0 {
			continue
		}
		snap.Accounts = append(snap.Accounts, accountEntry{a, acc.Balance, acc.Nonce})
	}
	slices.SortFunc(snap.Accounts, func(x, y accountEntry) int { return bytes.Compare(x.Addr[:], y.Addr[:]) })
	for _, j := range s.jobs {
		snap.Jobs = append(snap.Jobs, j)
	}
	slices.SortFunc(snap.Jobs, func(x, y *Job) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	for a, r := range s.rewards {
		if !r.IsZero() {
			snap.Rewards = append(snap.Rewards, rewardEntry{a, r})
		}
	}
	slices.SortFunc(snap.Rewards, func(x, y rewardEntry) int { return bytes.Compare(x.Addr[:], y.Addr[:]) })
	return mustRLP(&snap)
}

// DecodeState decodes a snapshot written by EncodeState; the result is frozen.
func DecodeState(b []byte) (*State, error) {
	var snap stateSnapshot
	if err := rlp.DecodeBytes(b, &snap); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	s := NewState()
	for i, e := range snap.Accounts {
		if i > 0 && bytes.Compare(snap.Accounts[i-1].Addr[:], e.Addr[:]) >= 0 {
			return nil, errors.New("decode state: accounts not sorted")
		}
		s.accounts[e.Addr] = &Account{Balance: orZero(e.Balance), Nonce: e.Nonce}
	}
	for i, j := range snap.Jobs {
		if i > 0 && bytes.Compare(snap.Jobs[i-1].ID[:], j.ID[:]) >= 0 {
			return nil, errors.New("decode state: jobs not sorted")
		}
		j.Fee, j.Burned, j.MinerFee, j.Paid = orZero(j.Fee), orZero(j.Burned), orZero(j.MinerFee), orZero(j.Paid)
		s.jobs[j.ID] = j
	}
	for i, e := range snap.Rewards {
		if i > 0 && bytes.Compare(snap.Rewards[i-1].Addr[:], e.Addr[:]) >= 0 {
			return nil, errors.New("decode state: rewards not sorted")
		}
		s.rewards[e.Addr] = orZero(e.Amount)
	}
	s.freeze()
	return s, nil
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
