package types

import (
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

// Transaction kinds.
const (
	TxTransfer uint8 = 0 // move Value to To, pay Fee to the miner
	TxJob      uint8 = 1 // escrow Fee for the job Program until Expiry
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
func (tx *Tx) Hash() common.Hash { return rlpHash(tx) }

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

// Sender recovers the address that signed tx.
func (tx *Tx) Sender() (common.Address, error) {
	if len(tx.Sig) != crypto.SignatureLength {
		return common.Address{}, ErrInvalidSig
	}
	r, s, v := new(uint256.Int).SetBytes(tx.Sig[:32]), new(uint256.Int).SetBytes(tx.Sig[32:64]), tx.Sig[64]
	if !crypto.ValidateSignatureValues(v, r.ToBig(), s.ToBig(), true) {
		return common.Address{}, ErrInvalidSig
	}
	h := tx.SigningHash()
	pub, err := crypto.SigToPub(h[:], tx.Sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrInvalidSig, err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}

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
