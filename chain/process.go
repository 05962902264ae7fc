package chain

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// ProgramSource returns the encoded vm program of a job by its id, and a
// training checkpoint state by its root. Both are stored apart from the
// state (they may be megabytes); a job's record in the state only names them.
type ProgramSource interface {
	JobProgram(id common.Hash) ([]byte, bool)
	JobCheckpoint(root common.Hash) ([]byte, bool)
}

// JobLimits are the vm's static limits on a job program under p: the one
// place a vm.Limits is built (chain, miner, RPC and CLI all use it).
func JobLimits(p *types.Params) vm.Limits {
	return vm.Limits{
		MaxInputBytes:  p.MaxJobInputBytes,
		MaxResultBytes: p.MaxJobResultBytes,
		MaxWork:        p.MaxJobWork,
		MaxMemoryBytes: p.MaxJobMemoryBytes,
		MaxK:           compute.MaxK,
		Geometry:       compute.Geometry{Tile: int(p.TileSize), Chunk: int(p.ChunkSize)},

		MaxTrainSteps:      p.MaxTrainSteps,
		MaxTrainBatch:      p.MaxTrainBatch,
		MaxTrainWidth:      p.MaxTrainWidth,
		MaxTrainLayers:     p.MaxTrainLayers,
		CheckpointInterval: p.TrainCheckpointInterval,
	}
}

// jobBaseFee is the base fee of job j, whose program is progLen bytes, in a
// block of difficulty d.
func jobBaseFee(p *types.Params, d uint64, j *Job, progLen int) *uint256.Int {
	return consensus.JobBaseFee(p, d, j.Work, consensus.JobBytes(progLen, j.Rows, j.Cols))
}

// ApplyBlock runs b's state transition on a copy of parent and returns the
// new (frozen) state. It does not check the header's state root. Order:
//
//  1. every pending job with Expiry < number expires; its fee is refunded;
//  2. results, in body order: pending job, once per block, right shape,
//     engine.VerifyResult; the base fee is burned, the rest goes to coinbase;
//  3. transactions, in body order (signature, chain id, nonce, kind, fees,
//     balance; a job tx escrows its fee and records a pending job; an
//     Ethereum transfer pays types.EthFee, CheckEthTx);
//  4. coinbase gets subsidy + transfer fees + job miner fees, and the same
//     total is added to its recorded miner reward.
//
// A training job's segment is checked with engine.VerifyTrainSegment from
// the job's checkpoint on chain instead of VerifyResult (docs/protocol.md §12).
func ApplyBlock(p *types.Params, engine consensus.Engine, progs ProgramSource, parent *State, b *types.Block) (*State, error) {
	st, _, err := applyBlock(p, engine, progs, parent, b)
	return st, err
}

// applyBlock is ApplyBlock that also returns the training checkpoint states
// the block creates, by root (new jobs' initial states, segments' end
// states): the store keeps them with the block.
func applyBlock(p *types.Params, engine consensus.Engine, progs ProgramSource, parent *State, b *types.Block) (*State, map[common.Hash][]byte, error) {
	st, ckpts, err := applyBody(p, engine, progs, parent, b)
	if err != nil && st != nil && st.Err() != nil {
		// A rule that failed on a value the state could not read says
		// nothing about the block: the read's error is the answer.
		return nil, nil, st.Err()
	}
	return st, ckpts, err
}

// applyBody is applyBlock's work; on a rule error it also returns the
// (partial) state, whose Err tells a failed read from a bad block.
func applyBody(p *types.Params, engine consensus.Engine, progs ProgramSource, parent *State, b *types.Block) (*State, map[common.Hash][]byte, error) {
	if n := len(b.Txs); uint64(n) > uint64(p.MaxBlockTxs) {
		return nil, nil, ruleErr(ErrTooManyItems, nil, "%d txs, at most %d", n, p.MaxBlockTxs)
	}
	if n := len(b.Results); uint64(n) > uint64(p.MaxBlockResults) {
		return nil, nil, ruleErr(ErrTooManyItems, nil, "%d results, at most %d", n, p.MaxBlockResults)
	}
	bp := newBlockProcessor(p, progs, parent, b.Header)
	bp.expireJobs()
	fail := func(err error) (*State, map[common.Hash][]byte, error) { return bp.st, nil, err }
	for i, r := range b.Results {
		cr, err := bp.checkResult(r)
		if err != nil {
			return fail(fmt.Errorf("result %d: %w", i, err))
		}
		if spec := cr.prog.Train(); spec != nil {
			start, err := bp.checkpoint(r.JobID, spec)
			if err != nil {
				return fail(fmt.Errorf("result %d: %w", i, err))
			}
			if err := engine.VerifyTrainSegment(p, b.Header, spec, r.JobID, start, r.Train); err != nil {
				return fail(fmt.Errorf("result %d: %w", i, ruleErr(ErrBadResult, err, "training job %s", r.JobID)))
			}
		} else if err := engine.VerifyResult(p, b.Header, cr.prog, r); err != nil {
			return fail(fmt.Errorf("result %d: %w", i, ruleErr(ErrBadResult, err, "job %s", r.JobID)))
		}
		bp.applyResult(r, cr)
	}
	for i, tx := range b.Txs {
		if err := bp.applyTx(tx); err != nil {
			return fail(fmt.Errorf("tx %d (%s): %w", i, tx.Hash().TerminalString(), err))
		}
	}
	return bp.finalize(), bp.checkpoints, nil
}

// BuildBlock assembles an unsealed child of parent for a miner: it applies
// the candidate results and txs in order, skipping any that would make the
// block invalid (results are NOT checked with VerifyResult, nor training
// segments replayed: they are the miner's own, and the sealed hash that keys
// Freivalds' vectors and the seal that picks the replayed intervals are
// unknown yet; a segment's shape and end state are checked), up to the caps, and any that would take its encoding, sealed, past
// MaxBlockBytes: a miner never builds a block gossip and sync cannot carry.
// The header has every field but the Seal, including the state root, which
// the seal does not affect. It returns the new state.
func BuildBlock(p *types.Params, progs ProgramSource, parent *types.Header, parentState *State,
	coinbase common.Address, timeMs, difficulty uint64, txs []*types.Tx, results []*types.JobResult,
) (*types.Block, *State) {
	h := &types.Header{
		ParentHash: parent.Hash(),
		Number:     parent.Number + 1,
		Time:       timeMs,
		Coinbase:   coinbase,
		Difficulty: difficulty,
	}
	bp := newBlockProcessor(p, progs, parentState, h)
	bp.expireJobs()
	b := &types.Block{Header: h}
	size := newBlockSize(h)
	for _, r := range results {
		if uint64(len(b.Results)) >= uint64(p.MaxBlockResults) {
			break
		}
		n := r.EncodedSize()
		if size.with(0, n) > p.MaxBlockBytes {
			continue
		}
		cr, err := bp.checkResult(r)
		if err != nil {
			continue
		}
		bp.applyResult(r, cr)
		b.Results = append(b.Results, r)
		size.results += n
	}
	for _, tx := range txs {
		if uint64(len(b.Txs)) >= uint64(p.MaxBlockTxs) {
			break
		}
		n := types.TxEncodedSize(tx)
		if size.with(n, 0) > p.MaxBlockBytes {
			continue
		}
		if err := bp.applyTx(tx); err != nil {
			continue
		}
		b.Txs = append(b.Txs, tx)
		size.txs += n
	}
	st := bp.finalize()
	h.TxRoot, h.ResultRoot, h.StateRoot = types.TxRoot(b.Txs), types.ResultRoot(b.Results), st.Root()
	return b, st
}

// blockSize tracks the encoded size of a block being built: its header
// with the largest seal the miner may add, and its txs' and results' sizes.
type blockSize struct{ header, txs, results uint64 }

func newBlockSize(h *types.Header) blockSize {
	sealed := h.Copy()
	sealed.Seal = types.Seal{
		Nonce: math.MaxUint64, TileI: math.MaxUint32, TileJ: math.MaxUint32,
		Work: types.Work{JobID: common.Hash{1}, Op: math.MaxUint32, Step: math.MaxUint32}, TileDigest: common.Hash{1},
	}
	enc, _ := rlp.EncodeToBytes(sealed)
	return blockSize{header: uint64(len(enc))}
}

// with is the block's size with tx and result bytes more (see Block.EncodedSize).
func (s blockSize) with(tx, result uint64) uint64 {
	return rlp.ListSize(s.header + rlp.ListSize(s.txs+tx) + rlp.ListSize(s.results+result))
}

// blockProcessor carries one block's state transition. Every check of a tx
// or result happens before any mutation, so a rejected item leaves the state
// untouched (BuildBlock relies on it).
type blockProcessor struct {
	p     *types.Params
	progs ProgramSource
	h     *types.Header
	st    *State
	fees  *uint256.Int // transfer fees + job miner fees owed to coinbase
	seen  map[common.Hash]bool
	// checkpoints are the training states the block creates, by root.
	checkpoints map[common.Hash][]byte
}

func newBlockProcessor(p *types.Params, progs ProgramSource, parent *State, h *types.Header) *blockProcessor {
	return &blockProcessor{p: p, progs: progs, h: h, st: parent.Copy(), fees: new(uint256.Int),
		seen: make(map[common.Hash]bool), checkpoints: make(map[common.Hash][]byte)}
}

// expireJobs expires every pending job with Expiry below the block's
// number, reading the pending index up to it (O(expired jobs)).
func (bp *blockProcessor) expireJobs() {
	var ids []common.Hash
	bp.st.pendingIDs(bp.h.Number, func(_ uint64, id common.Hash) bool {
		ids = append(ids, id)
		return true
	})
	for _, id := range ids {
		j := bp.st.job(id)
		if j == nil || j.Status != JobPending {
			bp.st.fail(fmt.Errorf("pending index names job %s, which is not pending", id))
			return
		}
		// The program's block space was burned at submission; the rest
		// of the escrow goes back.
		// A training job keeps what its segments burned and paid.
		j.Status = JobExpired
		bp.st.credit(j.Owner, j.Left())
	}
}

// checkedResult is a result that passed every rule but the engine's.
type checkedResult struct {
	prog    *vm.Program
	progLen int
}

// checkResult runs every rule on r but the engine's (Freivalds for a
// product, the sampled replay for a training segment) and returns the job's
// decoded program for it.
func (bp *blockProcessor) checkResult(r *types.JobResult) (checkedResult, error) {
	if bp.seen[r.JobID] {
		return checkedResult{}, ruleErr(ErrDuplicateResult, nil, "job %s", r.JobID)
	}
	j := bp.st.loadJob(r.JobID)
	if j == nil || j.Status != JobPending {
		return checkedResult{}, ruleErr(ErrJobNotPending, nil, "job %s", r.JobID)
	}
	if j.Kind == JobTrain {
		if r.Train == nil || r.Rows != 0 || r.Cols != 0 || len(r.Data) != 0 {
			return checkedResult{}, ruleErr(ErrBadResult, consensus.ErrResultShape,
				"training job %s: a result must be a segment (no rows, columns or data)", r.JobID)
		}
	} else if r.Train != nil || r.Rows != j.Rows || r.Cols != j.Cols || uint64(len(r.Data)) != 4*uint64(r.Rows)*uint64(r.Cols) {
		return checkedResult{}, ruleErr(ErrBadResult, consensus.ErrResultShape,
			"job %s: result %d×%d with %d bytes (segment %v), want %d×%d int32", r.JobID, r.Rows, r.Cols, len(r.Data), r.Train != nil, j.Rows, j.Cols)
	}
	code, ok := bp.progs.JobProgram(r.JobID)
	if !ok {
		// The program is stored with the block that submitted the job: a
		// missing one is a broken store, not the block's fault.
		return checkedResult{}, fmt.Errorf("job %s: program missing from the store", r.JobID)
	}
	prog, err := vm.Decode(code, JobLimits(bp.p))
	if err != nil {
		return checkedResult{}, fmt.Errorf("job %s: stored program: %w", r.JobID, err)
	}
	if spec := prog.Train(); spec != nil {
		if _, err := consensus.CheckTrainSegment(bp.p, spec, j.StepsDone, r.Train); err != nil {
			return checkedResult{}, ruleErr(ErrBadResult, err, "training job %s", r.JobID)
		}
		if err := consensus.CheckTrainSegmentWork(bp.p, spec, bp.h.Difficulty, r.Train); err != nil {
			return checkedResult{}, ruleErr(ErrBadResult, err, "training job %s", r.JobID)
		}
	}
	return checkedResult{prog: prog, progLen: len(code)}, nil
}

// checkpoint decodes training job id's state at its checkpoint on chain.
func (bp *blockProcessor) checkpoint(id common.Hash, spec *vm.TrainSpec) (*vm.TrainState, error) {
	j := bp.st.loadJob(id)
	code, ok := bp.progs.JobCheckpoint(j.Checkpoint)
	if !ok {
		return nil, fmt.Errorf("training job %s: checkpoint %s missing from the store", id, j.Checkpoint)
	}
	st, err := vm.DecodeTrainState(code, spec)
	if err != nil {
		return nil, fmt.Errorf("training job %s: stored checkpoint %s: %w", id, j.Checkpoint, err)
	}
	return st, nil
}

func (bp *blockProcessor) applyResult(r *types.JobResult, cr checkedResult) {
	bp.seen[r.JobID] = true
	j := bp.st.job(r.JobID)
	if spec := cr.prog.Train(); spec != nil {
		bp.applySegment(r, j, spec)
		return
	}
	base := jobBaseFee(bp.p, bp.h.Difficulty, j, cr.progLen)
	if base.Gt(j.Fee) {
		base = clone(j.Fee)
	}
	j.Status = JobDone
	j.ResultHash = r.Hash()
	j.DoneBlock = bp.h.Number
	j.Miner = bp.h.Coinbase
	j.Burned = base
	j.MinerFee = new(uint256.Int).Sub(j.Fee, base)
	j.Paid = clone(j.MinerFee)
	bp.fees.Add(bp.fees, j.MinerFee)
}

// applySegment advances training job j by r's segment and pays for it
// (consensus.TrainSegmentPay); at the job's last step it is done, and its
// result is this segment (ResultHash: the JobResult's hash; the final state
// is its end state, stored by the last root).
func (bp *blockProcessor) applySegment(r *types.JobResult, j *Job, spec *vm.TrainSpec) {
	seg := r.Train
	burn, fee := consensus.TrainSegmentPay(bp.p, bp.h.Difficulty, j.Work, spec.Steps, seg.FromStep, seg.ToStep, seg.EncodedSize(), j.Left())
	j.Burned = new(uint256.Int).Add(j.Burned, burn)
	j.Paid = new(uint256.Int).Add(orZero(j.Paid), fee)
	j.MinerFee = fee
	j.Miner = bp.h.Coinbase
	j.StepsDone = seg.ToStep
	j.Checkpoint = seg.Roots[len(seg.Roots)-1]
	bp.checkpoints[j.Checkpoint] = seg.EndState
	if seg.ToStep == spec.Steps {
		j.Status = JobDone
		j.ResultHash = r.Hash()
		j.DoneBlock = bp.h.Number
	}
	bp.fees.Add(bp.fees, fee)
}

// transfer moves value from → to and the fee to the block's fees, after
// checking that from can pay both.
func (bp *blockProcessor) transfer(acc Account, from, to common.Address, value, fee *uint256.Int) error {
	cost, overflow := new(uint256.Int).AddOverflow(value, fee)
	if overflow || acc.Balance.Lt(cost) {
		return ruleErr(ErrInsufficientBalance, nil, "sender %s has %s, needs %s + %s", from, acc.Balance, value, fee)
	}
	bp.st.debit(from, cost)
	bp.st.credit(to, value)
	bp.fees.Add(bp.fees, fee)
	return nil
}

func (bp *blockProcessor) applyTx(tx *types.Tx) error {
	from, err := tx.Sender()
	if err != nil {
		return ruleErr(ErrBadSignature, err, "tx %s", tx.Hash())
	}
	if tx.ChainID != bp.p.ChainID {
		return ruleErr(ErrBadChainID, nil, "chain id %d, want %d", tx.ChainID, bp.p.ChainID)
	}
	acc := bp.st.Account(from)
	if tx.Nonce != acc.Nonce {
		return ruleErr(ErrBadNonce, nil, "sender %s nonce %d, want %d", from, tx.Nonce, acc.Nonce)
	}
	value, fee := orZero(tx.Value), orZero(tx.Fee)
	switch tx.Kind {
	case types.TxTransfer:
		if fee.Lt(bp.p.MinTxFee) {
			return ruleErr(ErrFeeTooLow, nil, "fee %s below the floor %s", fee, bp.p.MinTxFee)
		}
		if err := bp.transfer(acc, from, tx.To, value, fee); err != nil {
			return err
		}
	case types.TxEth:
		// An Ethereum transfer (§13): its fee is 21000 × its effective gas
		// price, charged whatever its gas limit, and goes to the miner.
		fee, err := CheckEthTx(bp.p, tx)
		if err != nil {
			return err
		}
		if err := bp.transfer(acc, from, tx.To, value, fee); err != nil {
			return err
		}
	case types.TxJob:
		job, err := checkJobTx(bp.p, bp.h.Number, bp.h.Difficulty, tx)
		if err != nil {
			return err
		}
		if acc.Balance.Lt(fee) {
			return ruleErr(ErrInsufficientBalance, nil, "sender %s has %s, job escrow needs %s", from, acc.Balance, fee)
		}
		job.Owner = from
		if job.Kind == JobTrain {
			prog, _ := vm.Decode(tx.Program, JobLimits(bp.p)) // checkJobTx decoded it
			init := vm.InitState(prog.Train(), job.ID)
			enc, err := init.Encode()
			if err != nil {
				return fmt.Errorf("job %s: encode initial state: %w", job.ID, err)
			}
			job.Checkpoint = init.Root()
			bp.checkpoints[job.Checkpoint] = enc
		}
		bp.st.debit(from, fee)
		bp.st.putJob(job)
	default:
		return ruleErr(ErrBadTxKind, types.ErrTxKind, "kind %d", tx.Kind)
	}
	bp.st.incNonce(from)
	return nil
}

// checkJobTx runs the job-specific rules of a job tx that would land in block
// number with difficulty d and returns its pending record (Owner unset).
func checkJobTx(p *types.Params, number, d uint64, tx *types.Tx) (*Job, error) {
	prog, err := vm.Decode(tx.Program, JobLimits(p))
	if err != nil {
		return nil, ruleErr(ErrBadJob, err, "program")
	}
	job := &Job{Kind: JobMatMul}
	switch prog.Kind {
	case vm.KindMatMul:
		if len(prog.Inputs) != 2 {
			return nil, ruleErr(ErrBadJob, nil, "a matrix-product program takes 2 inputs, got %d", len(prog.Inputs))
		}
		job.Rows, job.Cols = prog.Inputs[0].Rows, prog.Inputs[1].Cols
	case vm.KindTrain:
		job.Kind = JobTrain
		if seg := MaxTrainSegmentBytes(p, prog.Train()); seg > p.MaxJobResultBytes {
			return nil, ruleErr(ErrBadJob, vm.ErrTooLarge, "a segment of this training job (its end state, %d sampled start states and its roots) could take %d bytes, more than the %d a block may carry for one result; train a smaller network",
				p.TrainSamples+1, seg, p.MaxJobResultBytes)
		}
	default:
		return nil, ruleErr(ErrBadJob, nil, "program kind %d: this version accepts matrix-product (%d) and training (%d) jobs", prog.Kind, vm.KindMatMul, vm.KindTrain)
	}
	if tx.Expiry <= number {
		return nil, ruleErr(ErrBadJob, nil, "expiry %d not after block %d", tx.Expiry, number)
	}
	if life := tx.Expiry - number; life > p.MaxJobLifetime {
		return nil, ruleErr(ErrBadJob, nil, "expiry %d is %d blocks after block %d, more than the %d-block job lifetime; set an expiry of at most %d",
			tx.Expiry, life, number, p.MaxJobLifetime, number+p.MaxJobLifetime)
	}
	if !orZero(tx.Value).IsZero() {
		return nil, ruleErr(ErrBadJob, nil, "a job tx carries no value (got %s)", tx.Value)
	}
	fee, work := orZero(tx.Fee), prog.Work()
	// A training job's segments pay their own bytes as they land (§12).
	bytes := consensus.JobBytes(len(tx.Program), job.Rows, job.Cols)
	if base := consensus.JobBaseFee(p, d, work, bytes); fee.Lt(base) {
		return nil, ruleErr(ErrFeeTooLow, nil, "job fee %s below the base fee %s for %d MACs and %d bytes of program and result; pay at least the base fee", fee, base, work, bytes)
	}
	job.ID = tx.Hash()
	job.Fee = clone(fee)
	job.Work = work
	job.Expiry = tx.Expiry
	job.Submitted = number
	job.Status = JobPending
	// The program took its block space now, whatever becomes of the job:
	// that part of the byte fee is burned at once and never refunded, or a
	// job left to expire would carry 16 MiB for free.
	job.Burned = consensus.JobSubmissionBurn(p, len(tx.Program))
	job.MinerFee, job.Paid = new(uint256.Int), new(uint256.Int)
	return job, nil
}

// MaxTrainSegmentBytes bounds the encoding of one segment of a training job: its
// end state and at most trainSamples + 1 samples (the sampled intervals and
// the ticket's), each a state of 4 bytes per parameter plus at most 1 KiB of
// framing, and one 33-byte root per checkpoint of the whole job. The job tx
// is refused if that could not fit a block as one result.
func MaxTrainSegmentBytes(p *types.Params, spec *vm.TrainSpec) uint64 {
	k := p.TrainCheckpointInterval
	roots := vm.Checkpoints(spec.Steps, k)
	state := spec.TrainResultBytes(k) - 32*roots + 1024 // 4 bytes per parameter, framing
	hi, states := bits.Mul64(uint64(p.TrainSamples)+2, state)
	if hi != 0 {
		return math.MaxUint64
	}
	n, c := bits.Add64(states, 33*roots+1024, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return n
}

func (bp *blockProcessor) finalize() *State {
	total := consensus.Subsidy(bp.p)
	total.Add(total, bp.fees)
	bp.st.credit(bp.h.Coinbase, total)
	bp.st.addReward(bp.h.Coinbase, total)
	bp.st.freeze()
	return bp.st
}
