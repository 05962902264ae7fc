package types

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

// Transaction kinds.
const (
	TxTransfer uint8 = 0 // move Value to To, pay Fee to the miner
	TxJob      uint8 = 1 // escrow Fee for the job Program until Expiry
	// TxEth (= 2, ethtx.go): a signed Ethereum transfer, raw in Program.
)

// Tx is a signed transaction. For a transfer, Fee is the miner's tip (at
// least the chain's fee floor). For a job, Fee is the escrow: the base part
// (work × baseFeePerMAC) is burned when the result lands, the rest goes to
// the including miner, and all of it is refunded if the job expires undone.
type Tx struct {
	ChainID uint64
	Nonce   uint64
	Kind    uint8
	To      common.Address
	Value   *uint256.Int
	Fee     *uint256.Int
	Expiry  uint64 // job: last block number at which its result may land
	Program []byte // job: encoded vm program with inline inputs
	Sig     []byte // 65-byte [R ‖ S ‖ V] secp256k1 signature over SigningHash

	// sender caches Sender's answer beside the signing hash and signature it
	// was recovered from, so a tx changed after the call is recovered afresh.
	// rlp skips unexported fields; the atomic makes a Tx uncopyable (go vet).
	sender atomic.Pointer[senderCache]
	// eth caches a TxEth's decoded Ethereum transaction (ethtx.go).
	eth atomic.Pointer[ethCache]
}

// senderCache is one recovered sender and what it was recovered from.
type senderCache struct {
	signingHash common.Hash
	sig         [crypto.SignatureLength]byte
	from        common.Address
}

// unsignedTx is the RLP list that is signed: every field but the signature.
type unsignedTx struct {
	ChainID uint64
	Nonce   uint64
	Kind    uint8
	To      common.Address
	Value   *uint256.Int
	Fee     *uint256.Int
	Expiry  uint64
	Program []byte
}

var (
	ErrInvalidSig = errors.New("invalid transaction signature")
	ErrTxKind     = errors.New("unknown transaction kind")
)

// SigningHash is Keccak256(rlp(tx without Sig)); the chain id inside it stops
// replay across chains.
func (tx *Tx) SigningHash() common.Hash {
	return rlpHash(&unsignedTx{tx.ChainID, tx.Nonce, tx.Kind, tx.To, orZero(tx.Value), orZero(tx.Fee), tx.Expiry, tx.Program})
}

// Hash is Keccak256(rlp(tx)); a job's id is the hash of its transaction.
// A TxEth's hash is its Ethereum hash, Keccak256(raw).
func (tx *Tx) Hash() common.Hash {
	if tx.Kind == TxEth {
		return crypto.Keccak256Hash(tx.Program)
	}
	return rlpHash(tx)
}

// Sign fills tx.Sig with key's signature over SigningHash.
func (tx *Tx) Sign(key *ecdsa.PrivateKey) error {
	h := tx.SigningHash()
	sig, err := crypto.Sign(h[:], key)
	if err != nil {
		return fmt.Errorf("sign tx: %w", err)
	}
	tx.Sig = sig
	return nil
}

// Sender recovers the address that signed tx. The answer is cached: a later
// call costs the signing hash (which keys the cache) but no key recovery, the
// bulk of the work for a transfer.
func (tx *Tx) Sender() (common.Address, error) {
	if tx.Kind == TxEth {
		return tx.ethSender()
	}
	if len(tx.Sig) != crypto.SignatureLength {
		return common.Address{}, ErrInvalidSig
	}
	h := tx.SigningHash()
	if c := tx.sender.Load(); c != nil && c.signingHash == h && bytes.Equal(c.sig[:], tx.Sig) {
		return c.from, nil
	}
	key := senderKey{signingHash: h}
	copy(key.sig[:], tx.Sig)
	if from, ok := recovered.Get(key); ok {
		tx.sender.Store(&senderCache{signingHash: h, sig: key.sig, from: from})
		return from, nil
	}
	r, s, v := new(uint256.Int).SetBytes(tx.Sig[:32]), new(uint256.Int).SetBytes(tx.Sig[32:64]), tx.Sig[64]
	if !crypto.ValidateSignatureValues(v, r.ToBig(), s.ToBig(), true) {
		return common.Address{}, ErrInvalidSig
	}
	pub, err := crypto.SigToPub(h[:], tx.Sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrInvalidSig, err)
	}
	c := &senderCache{signingHash: h, sig: key.sig, from: crypto.PubkeyToAddress(*pub)}
	tx.sender.Store(c)
	recovered.Add(key, c.from)
	return c.from, nil
}

// recovered remembers, process-wide, the senders recovered lately by what
// they were recovered from: a tx checked when it entered the pool and met
// again in a block, decoded afresh from the wire, is recovered once (as
// geth's sender cacher). The key is the signing hash and the signature, so
// an entry answers only for the very signature it was recovered from.
var recovered = lru.NewCache[senderKey, common.Address](recoveredSenders)

// recoveredSenders bounds recovered: some 64 blocks of 1,000 transfers, or
// the whole txpool, at about 150 bytes each.
const recoveredSenders = 1 << 16

type senderKey struct {
	signingHash common.Hash
	sig         [crypto.SignatureLength]byte
}

// ForgetRecoveredSenders empties the process-wide sender cache, so that
// what follows recovers every signature: for benchmarks of a cold import.
func ForgetRecoveredSenders() { recovered.Purge() }

// Cost is the most the sender's balance must cover: Value + Fee.
func (tx *Tx) Cost() *uint256.Int {
	return new(uint256.Int).Add(orZero(tx.Value), orZero(tx.Fee))
}

func orZero(v *uint256.Int) *uint256.Int {
	if v == nil {
		return new(uint256.Int)
	}
	return v
}
