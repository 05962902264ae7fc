package consensus

import (
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/vm"
)

// Seal and result rule violations. The chain wraps them in its RuleError so
// callers can tell each rejection apart with errors.Is.
var (
	ErrBadTileDigest  = errors.New("tile digest does not match the recomputed tile")
	ErrLosingTicket   = errors.New("ticket does not beat the difficulty target")
	ErrBadTile        = errors.New("seal names a tile outside the product")
	ErrUnknownWork    = errors.New("seal names work that is not pending at the parent")
	ErrWorkNotInBlock = errors.New("a job ticket needs the job's result in the same block")
	ErrBadResult      = errors.New("job result fails Freivalds' check")
	ErrResultShape    = errors.New("job result has the wrong shape")
)

// WorkSource resolves the job a seal or a result names, in the state the
// block builds on (its parent's state).
type WorkSource interface {
	// PendingJobProgram returns the program of a job that is pending (not
	// done, not expired) in the parent state, or an error.
	PendingJobProgram(id common.Hash) (*vm.Program, error)
	// PendingTrainCheckpoint returns the encoded state (vm.TrainState) at
	// the checkpoint on chain of a pending training job: the state after
	// its stepsDone steps, where the block's segment of it starts.
	PendingTrainCheckpoint(id common.Hash) ([]byte, error)
}

// Engine is the proof-of-useful-work rule set the chain consults. The chain
// does everything else (difficulty, time, state) through the pure functions
// of this package, so a test engine only swaps the expensive checks.
type Engine interface {
	// VerifySeal checks h's proof of work: rebuilds seed and noise,
	// recomputes only the winning tile and compares digest and ticket.
	// body is h's block body (job tickets need their result in it).
	VerifySeal(p *types.Params, h *types.Header, body *types.Body, jobs WorkSource) error
	// VerifyResult checks a matmul result against its program with
	// Freivalds' algorithm, vectors keyed by the sealed header's hash.
	VerifyResult(p *types.Params, h *types.Header, prog *vm.Program, r *types.JobResult) error
	// VerifyTrainSegment checks a training job's segment: its shape, its
	// end state, and the sampled replay of its intervals from start (the
	// job's checkpoint on chain) and the samples it carries, chosen by h's
	// seal (docs/protocol.md §12).
	VerifyTrainSegment(p *types.Params, h *types.Header, spec *vm.TrainSpec, jobID common.Hash, start *vm.TrainState, seg *types.TrainSegment) error
}
