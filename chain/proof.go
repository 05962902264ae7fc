package chain

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"
)

// StateProof proves an account, its miner reward and some job records
// against a block's state root, in the shape of EIP-1186 (eth_getProof):
// each proof is the trie nodes from the root down to the key, RLP-encoded.
// An absent key is proved too (its proof ends where the key would be): the
// zero account, a zero reward, a job that does not exist.
type StateProof struct {
	Block     common.Hash
	Number    uint64
	StateRoot common.Hash

	Address      common.Address
	Balance      *uint256.Int
	Nonce        uint64
	AccountProof [][]byte
	Reward       *uint256.Int
	RewardProof  [][]byte
	Jobs         []JobProof
}

// JobProof proves one job record (Job nil: no such job).
type JobProof struct {
	ID    common.Hash
	Job   *Job
	Proof [][]byte
}

// proofList collects the nodes trie.Prove writes, root first.
type proofList [][]byte

func (l *proofList) Put(_, value []byte) error {
	*l = append(*l, common.CopyBytes(value))
	return nil
}

func (l *proofList) Delete([]byte) error { return errors.New("proof: delete") }

// Proof builds the proof of addr and jobs in the state after block h; the
// state must be kept (StateAtBlock's errors, ErrPrunedState included).
func (c *Chain) Proof(h common.Hash, addr common.Address, jobs []common.Hash) (*StateProof, error) {
	st, err := c.StateAtBlock(h)
	if err != nil {
		return nil, err
	}
	hd := c.GetHeader(h)
	p := &StateProof{Block: h, Number: hd.Number, StateRoot: hd.StateRoot, Address: addr}
	acc := st.Account(addr)
	p.Balance, p.Nonce, p.Reward = acc.Balance, acc.Nonce, st.MinerReward(addr)
	prove := func(key []byte) ([][]byte, error) {
		tr, err := st.openTrie()
		if err != nil {
			return nil, err
		}
		var l proofList
		if err := tr.Prove(key, &l); err != nil {
			return nil, err
		}
		return l, nil
	}
	if p.AccountProof, err = prove(AccountKey(addr)); err != nil {
		return nil, fmt.Errorf("prove account %s: %w", addr, err)
	}
	if p.RewardProof, err = prove(RewardKey(addr)); err != nil {
		return nil, fmt.Errorf("prove reward of %s: %w", addr, err)
	}
	for _, id := range jobs {
		jp := JobProof{ID: id}
		jp.Job, _ = st.Job(id)
		if jp.Proof, err = prove(JobKey(id)); err != nil {
			return nil, fmt.Errorf("prove job %s: %w", id, err)
		}
		p.Jobs = append(p.Jobs, jp)
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// ErrBadProof: a proof does not verify against the state root.
var ErrBadProof = errors.New("proof does not verify")

// VerifyProof checks every value p claims against root (which the caller
// trusts: a header it verified, not p.StateRoot unless it checked that).
func VerifyProof(root common.Hash, p *StateProof) error {
	check := func(what string, key []byte, proof [][]byte, want []byte) error {
		db := memorydb.New()
		for _, node := range proof {
			if err := db.Put(crypto.Keccak256(node), node); err != nil {
				return err
			}
		}
		got, err := trie.VerifyProof(root, key, db)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadProof, what, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%w: %s: the proof gives another value than claimed", ErrBadProof, what)
		}
		return nil
	}
	var acc []byte // the zero account is absent from the trie
	if b, n := orZero(p.Balance), p.Nonce; !b.IsZero() || n != 0 {
		acc = mustRLP(&accountRLP{b, n})
	}
	if err := check("account "+p.Address.Hex(), AccountKey(p.Address), p.AccountProof, acc); err != nil {
		return err
	}
	var reward []byte
	if r := orZero(p.Reward); !r.IsZero() {
		reward = mustRLP(r)
	}
	if err := check("reward of "+p.Address.Hex(), RewardKey(p.Address), p.RewardProof, reward); err != nil {
		return err
	}
	for _, jp := range p.Jobs {
		var want []byte
		if jp.Job != nil {
			if jp.Job.ID != jp.ID {
				return fmt.Errorf("%w: job %s: the record claims id %s", ErrBadProof, jp.ID, jp.Job.ID)
			}
			want = mustRLP(jp.Job)
		}
		if err := check("job "+jp.ID.Hex(), JobKey(jp.ID), jp.Proof, want); err != nil {
			return err
		}
	}
	return nil
}

// DecodeJobRecord decodes a job record as the trie stores it (a proof's
// value), for clients that carry records as bytes.
func DecodeJobRecord(b []byte) (*Job, error) {
	j := new(Job)
	if err := rlp.DecodeBytes(b, j); err != nil {
		return nil, err
	}
	j.Fee, j.Burned, j.MinerFee, j.Paid = orZero(j.Fee), orZero(j.Burned), orZero(j.MinerFee), orZero(j.Paid)
	return j, nil
}

// EncodeJobRecord is DecodeJobRecord's inverse.
func EncodeJobRecord(j *Job) []byte { return mustRLP(j) }
