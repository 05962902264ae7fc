package types

import (
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	ethtypes "github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
)

// TxEth is a standard signed Ethereum transfer (legacy EIP-155 or EIP-1559)
// carried as is: Program holds the raw transaction bytes (what
// types.Transaction.MarshalBinary gives), and the tx hash is the Ethereum
// hash, Keccak256(raw), so the block's tx root commits to exactly what the
// user signed and Ethereum tools find the tx by the hash they computed
// (docs/protocol.md §13).
//
// Its envelope encodes as [0, 0, 2, 0x00…00, 0, 0, 0, raw, ""]: every field
// but Kind and Program is zero on the wire, and decoding refuses anything
// else, so the body holds no byte the tx hash does not commit to. After
// decoding (or NewEthTx) ChainID, Nonce, To and Value are the Ethereum tx's,
// and Fee is the most it can pay (21000 × its fee cap or gas price); what it
// pays is EthFee under the chain's parameters.
const TxEth uint8 = 2

// EthTransferGas is the gas of a plain Ethereum transfer (params.TxGas):
// what every quern transaction is said to use.
const EthTransferGas = 21000

// MaxEthTxBytes bounds an Ethereum transfer's raw encoding (a plain
// transfer is about 110 bytes).
const MaxEthTxBytes = 1024

// ErrEthTx is wrapped by every error decoding an Ethereum transaction.
var ErrEthTx = errors.New("invalid ethereum transaction")

// ethCache is a parsed Ethereum transaction beside the hash of the raw bytes
// it was parsed from.
type ethCache struct {
	hash common.Hash
	tx   *ethtypes.Transaction
}

// NewEthTx wraps raw, a signed Ethereum transaction in its canonical binary
// encoding, as a TxEth quern transaction. It decodes with go-ethereum's own
// types.Transaction; the rules a transfer must follow (type, chain id, no
// data, gas, fees) are the chain's (chain.CheckEthTx).
func NewEthTx(raw []byte) (*Tx, error) {
	tx := &Tx{Kind: TxEth, Program: append([]byte(nil), raw...)}
	if err := tx.fillEth(); err != nil {
		return nil, err
	}
	return tx, nil
}

// fillEth sets the derived fields of a TxEth from Program.
func (tx *Tx) fillEth() error {
	etx, err := tx.EthTx()
	if err != nil {
		return err
	}
	cid := etx.ChainId()
	if !cid.IsUint64() {
		return fmt.Errorf("%w: chain id %s", ErrEthTx, cid)
	}
	value, overflow := uint256.FromBig(etx.Value())
	if overflow {
		return fmt.Errorf("%w: value above 2^256", ErrEthTx)
	}
	feeCap, overflow := uint256.FromBig(etx.GasFeeCap())
	if overflow {
		return fmt.Errorf("%w: fee cap above 2^256", ErrEthTx)
	}
	fee, overflow := new(uint256.Int).MulOverflow(feeCap, uint256.NewInt(EthTransferGas))
	if overflow {
		return fmt.Errorf("%w: fee cap × %d above 2^256", ErrEthTx, EthTransferGas)
	}
	tx.ChainID, tx.Nonce, tx.Value, tx.Fee = cid.Uint64(), etx.Nonce(), value, fee
	tx.To = common.Address{}
	if to := etx.To(); to != nil {
		tx.To = *to
	}
	tx.Expiry, tx.Sig = 0, nil
	return nil
}

// EthTx decodes a TxEth's raw Ethereum transaction (cached).
func (tx *Tx) EthTx() (*ethtypes.Transaction, error) {
	if tx.Kind != TxEth {
		return nil, fmt.Errorf("%w: kind %d is not an ethereum transaction", ErrEthTx, tx.Kind)
	}
	h := crypto.Keccak256Hash(tx.Program)
	if c := tx.eth.Load(); c != nil && c.hash == h {
		return c.tx, nil
	}
	if len(tx.Program) > MaxEthTxBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrEthTx, len(tx.Program), MaxEthTxBytes)
	}
	etx := new(ethtypes.Transaction)
	if err := etx.UnmarshalBinary(tx.Program); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEthTx, err)
	}
	tx.eth.Store(&ethCache{hash: h, tx: etx})
	return etx, nil
}

// ethSender recovers a TxEth's sender with go-ethereum's signer for the
// chain id it was signed for (the chain checks that id against its own).
func (tx *Tx) ethSender() (common.Address, error) {
	etx, err := tx.EthTx()
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrInvalidSig, err)
	}
	if !etx.Protected() {
		return common.Address{}, fmt.Errorf("%w: not replay-protected (a pre-EIP-155 signature)", ErrInvalidSig)
	}
	from, err := ethtypes.Sender(ethtypes.LatestSignerForChainID(etx.ChainId()), etx)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrInvalidSig, err)
	}
	return from, nil
}

// EthBaseFee is the chain's constant base fee per gas: ⌈minTxFee / 21000⌉,
// so that a 21000-gas transfer at this price pays at least the transfer fee
// floor. eth_gasPrice and every block's baseFeePerGas advertise it.
func EthBaseFee(p *Params) *uint256.Int {
	g := uint256.NewInt(EthTransferGas)
	q, r := new(uint256.Int), new(uint256.Int)
	q.DivMod(orZero(p.MinTxFee), g, r)
	if !r.IsZero() {
		q.AddUint64(q, 1)
	}
	return q
}

// EthGasPrice is the effective gas price of an Ethereum transaction under
// p: its gas price (legacy), or min(maxFeePerGas, base fee +
// maxPriorityFeePerGas) (EIP-1559). It does not check the price against the
// base fee.
func EthGasPrice(p *Params, etx *ethtypes.Transaction) *uint256.Int {
	capv := bigU256(etx.GasFeeCap())
	if etx.Type() == ethtypes.LegacyTxType {
		return capv
	}
	price := new(uint256.Int).Add(EthBaseFee(p), bigU256(etx.GasTipCap()))
	if capv.Lt(price) {
		return capv
	}
	return price
}

// EthFee is what an Ethereum transfer pays under p: 21000 × its effective
// gas price (EthGasPrice), whatever its gas limit. It goes to the miner.
func EthFee(p *Params, etx *ethtypes.Transaction) *uint256.Int {
	return new(uint256.Int).Mul(EthGasPrice(p, etx), uint256.NewInt(EthTransferGas))
}

// bigU256 converts b, saturating at 2^256 − 1.
func bigU256(b *big.Int) *uint256.Int {
	v, overflow := uint256.FromBig(b)
	if overflow {
		return new(uint256.Int).SetAllOne()
	}
	return v
}

// txFields is Tx's RLP list, without Tx's codec (no recursion).
type txFields struct {
	ChainID uint64
	Nonce   uint64
	Kind    uint8
	To      common.Address
	Value   *uint256.Int
	Fee     *uint256.Int
	Expiry  uint64
	Program []byte
	Sig     []byte
}

// EncodeRLP encodes [chainId, nonce, kind, to, value, fee, expiry, program,
// sig]; a TxEth's derived fields encode as zero (see TxEth).
func (tx *Tx) EncodeRLP(w io.Writer) error {
	if tx.Kind == TxEth {
		return rlp.Encode(w, &txFields{Kind: TxEth, Value: new(uint256.Int), Fee: new(uint256.Int), Program: tx.Program})
	}
	return rlp.Encode(w, &txFields{tx.ChainID, tx.Nonce, tx.Kind, tx.To, tx.Value, tx.Fee, tx.Expiry, tx.Program, tx.Sig})
}

// DecodeRLP is EncodeRLP's inverse. A TxEth whose envelope fields are not
// all zero, or whose raw bytes are not an Ethereum transaction, does not
// decode.
func (tx *Tx) DecodeRLP(s *rlp.Stream) error {
	var f txFields
	if err := s.Decode(&f); err != nil {
		return err
	}
	tx.ChainID, tx.Nonce, tx.Kind, tx.To, tx.Value, tx.Fee, tx.Expiry, tx.Program, tx.Sig =
		f.ChainID, f.Nonce, f.Kind, f.To, f.Value, f.Fee, f.Expiry, f.Program, f.Sig
	if f.Kind != TxEth {
		return nil
	}
	if f.ChainID != 0 || f.Nonce != 0 || f.To != (common.Address{}) || !orZero(f.Value).IsZero() ||
		!orZero(f.Fee).IsZero() || f.Expiry != 0 || len(f.Sig) != 0 {
		return fmt.Errorf("%w: an ethereum tx's envelope carries only its raw bytes (every other field zero)", ErrEthTx)
	}
	return tx.fillEth()
}
