package chain

import (
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	ethtypes "github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// headerReader resolves ancestors for the time and difficulty rules.
type headerReader interface {
	GetHeader(h common.Hash) *types.Header
}

// verifyHeader checks h's number, time and difficulty against its parent.
// nowMs is the local clock; a header too far ahead is ErrFutureBlock (not
// the sender's fault: it may be valid a little later).
func verifyHeader(p *types.Params, hr headerReader, parent, h *types.Header, nowMs uint64) error {
	if h.Number != parent.Number+1 {
		return ruleErr(ErrBadNumber, nil, "number %d, parent is %d", h.Number, parent.Number)
	}
	if med := medianTime(p, hr, parent); h.Time <= med {
		return ruleErr(ErrBadTime, nil, "time %d not above the median %d of the last %d blocks", h.Time, med, p.MedianTimeSpan)
	}
	if h.Time > nowMs+p.MaxFutureMs {
		return fmt.Errorf("%w: time %d is %d ms ahead of the local clock", ErrFutureBlock, h.Time, h.Time-nowMs)
	}
	var grand *types.Header
	if parent.Number > 0 {
		if grand = hr.GetHeader(parent.ParentHash); grand == nil {
			return fmt.Errorf("%w: grandparent %s", ErrUnknownParent, parent.ParentHash)
		}
	}
	if want := consensus.CalcDifficulty(p, parent, grand); h.Difficulty != want {
		return ruleErr(ErrBadDifficulty, nil, "difficulty %d, want %d", h.Difficulty, want)
	}
	return nil
}

// medianTime is the median time of the last MedianTimeSpan blocks ending at
// parent (fewer near genesis); a child's time must be above it.
func medianTime(p *types.Params, hr headerReader, parent *types.Header) uint64 {
	times := make([]uint64, 0, p.MedianTimeSpan)
	for h := parent; h != nil && uint32(len(times)) < p.MedianTimeSpan; {
		times = append(times, h.Time)
		if h.Number == 0 {
			break
		}
		h = hr.GetHeader(h.ParentHash)
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// verifyBody checks the caps and that the header commits to the body. The
// byte cap comes first: it is what gossip and sync can carry, and the roots
// below hash every byte.
func verifyBody(p *types.Params, b *types.Block) error {
	if size := b.EncodedSize(); size > p.MaxBlockBytes {
		return ruleErr(ErrBlockTooLarge, nil, "block is %d bytes, over the %d-byte cap", size, p.MaxBlockBytes)
	}
	if n := len(b.Txs); uint64(n) > uint64(p.MaxBlockTxs) {
		return ruleErr(ErrTooManyItems, nil, "%d txs, at most %d", n, p.MaxBlockTxs)
	}
	if n := len(b.Results); uint64(n) > uint64(p.MaxBlockResults) {
		return ruleErr(ErrTooManyItems, nil, "%d results, at most %d", n, p.MaxBlockResults)
	}
	if root := types.TxRoot(b.Txs); root != b.Header.TxRoot {
		return ruleErr(ErrBadTxRoot, nil, "body gives %s, header says %s", root, b.Header.TxRoot)
	}
	if root := types.ResultRoot(b.Results); root != b.Header.ResultRoot {
		return ruleErr(ErrBadResultRoot, nil, "body gives %s, header says %s", root, b.Header.ResultRoot)
	}
	return nil
}

// workSource answers the engine's seal check from the parent's state: a job
// may carry tickets only while it is pending for the block being checked.
type workSource struct {
	p      *types.Params
	st     *State
	progs  ProgramSource
	number uint64 // the block under check
}

var _ consensus.WorkSource = (*workSource)(nil)

func (ws *workSource) pending(id common.Hash) (*Job, error) {
	j := ws.st.loadJob(id)
	if j == nil || j.Status != JobPending || j.Expiry < ws.number {
		return nil, fmt.Errorf("%w: job %s", consensus.ErrUnknownWork, id)
	}
	return j, nil
}

func (ws *workSource) PendingTrainCheckpoint(id common.Hash) ([]byte, error) {
	j, err := ws.pending(id)
	if err != nil {
		return nil, err
	}
	if j.Kind != JobTrain {
		return nil, fmt.Errorf("%w: job %s is not a training job", consensus.ErrUnknownWork, id)
	}
	state, ok := ws.progs.JobCheckpoint(j.Checkpoint)
	if !ok {
		return nil, fmt.Errorf("job %s: checkpoint %s missing from the store", id, j.Checkpoint)
	}
	return state, nil
}

func (ws *workSource) PendingJobProgram(id common.Hash) (*vm.Program, error) {
	if _, err := ws.pending(id); err != nil {
		return nil, err
	}
	code, ok := ws.progs.JobProgram(id)
	if !ok {
		return nil, fmt.Errorf("job %s: program missing from the store", id)
	}
	prog, err := vm.Decode(code, JobLimits(ws.p))
	if err != nil {
		return nil, fmt.Errorf("job %s: stored program: %w", id, err)
	}
	return prog, nil
}

// CheckEthTx runs the stateless rules of a TxEth (docs/protocol.md §13) and
// returns the fee it pays (types.EthFee): a legacy EIP-155 or an EIP-1559
// transaction signed for this chain, a plain transfer (a recipient, no data,
// no access list), gas limit at least 21000, tip not above the fee cap, an
// effective gas price at least the base fee (so the fee is at least
// minTxFee), and envelope fields that are the raw tx's.
func CheckEthTx(p *types.Params, tx *types.Tx) (*uint256.Int, error) {
	etx, err := tx.EthTx()
	if err != nil {
		return nil, ruleErr(ErrBadEthTx, err, "raw bytes")
	}
	switch etx.Type() {
	case ethtypes.LegacyTxType, ethtypes.DynamicFeeTxType:
	default:
		return nil, ruleErr(ErrBadEthTx, nil, "type %d: quern takes legacy (EIP-155) and EIP-1559 (type 2) transfers", etx.Type())
	}
	if !etx.Protected() {
		return nil, ruleErr(ErrBadEthTx, nil, "not replay-protected: sign with chain id %d (EIP-155)", p.ChainID)
	}
	if cid := etx.ChainId(); !cid.IsUint64() || cid.Uint64() != p.ChainID {
		return nil, ruleErr(ErrBadChainID, nil, "ethereum tx for chain id %s, this chain is %d", cid, p.ChainID)
	}
	if etx.To() == nil {
		return nil, ruleErr(ErrBadEthTx, nil, "contract creation: quern runs no contracts, only plain transfers (set to)")
	}
	if len(etx.Data()) != 0 {
		return nil, ruleErr(ErrBadEthTx, nil, "%d bytes of data: quern runs no contracts, only plain transfers (empty data)", len(etx.Data()))
	}
	if len(etx.AccessList()) != 0 {
		return nil, ruleErr(ErrBadEthTx, nil, "an access list: a plain transfer carries none")
	}
	if etx.Gas() < types.EthTransferGas {
		return nil, ruleErr(ErrBadEthTx, nil, "gas limit %d below the %d a transfer uses", etx.Gas(), types.EthTransferGas)
	}
	if etx.GasTipCap().Cmp(etx.GasFeeCap()) > 0 {
		return nil, ruleErr(ErrBadEthTx, nil, "maxPriorityFeePerGas %s above maxFeePerGas %s", etx.GasTipCap(), etx.GasFeeCap())
	}
	base := types.EthBaseFee(p)
	if price := types.EthGasPrice(p, etx); price.Lt(base) {
		return nil, ruleErr(ErrFeeTooLow, nil, "gas price %s below the base fee %s wei per gas (eth_gasPrice)", price, base)
	}
	value, overflow := uint256.FromBig(etx.Value())
	if tx.ChainID != etx.ChainId().Uint64() || tx.Nonce != etx.Nonce() || tx.To != *etx.To() || overflow ||
		!orZero(tx.Value).Eq(value) || tx.Expiry != 0 || len(tx.Sig) != 0 {
		return nil, ruleErr(ErrBadEthTx, nil, "envelope fields disagree with the raw tx")
	}
	fee := types.EthFee(p, etx)
	if fee.Lt(p.MinTxFee) { // unreachable with the base fee above; the floor is the rule
		return nil, ruleErr(ErrFeeTooLow, nil, "fee %s below the floor %s", fee, p.MinTxFee)
	}
	return fee, nil
}
