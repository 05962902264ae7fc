package consensus

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/vm"
)

// PoUW is the real engine: it checks seals by recomputing the winning tile
// and results by Freivalds' algorithm.
type PoUW struct {
	be compute.Backend
}

var _ Engine = (*PoUW)(nil)

// New returns the proof-of-useful-work engine computing on be.
func New(be compute.Backend) *PoUW { return &PoUW{be: be} }

// operands resolves the product a seal names: the synthetic puzzle of its
// seed, or the operands of a job pending at the parent whose result the
// block carries (so each job's tickets can win at most once).
func (e *PoUW) operands(p *types.Params, seed common.Hash, s *types.Seal, body *types.Body, jobs WorkSource) (a, b compute.I8, train bool, err error) {
	w := s.Work
	if !w.IsSynthetic() {
		prog, err := jobs.PendingJobProgram(w.JobID)
		if err != nil {
			return a, b, false, fmt.Errorf("%w: job %s: %v", ErrUnknownWork, w.JobID, err)
		}
		if prog.Kind == vm.KindTrain {
			a, b, err = trainTicketOperands(e.be, p, s, prog, body, jobs)
			return a, b, true, err
		}
	}
	a, b, err = operands(p, seed, s, body, jobs)
	return a, b, false, err
}

func operands(p *types.Params, seed common.Hash, s *types.Seal, body *types.Body, jobs WorkSource) (a, b compute.I8, err error) {
	w := s.Work
	if w.Op != 0 || w.Step != 0 {
		return a, b, fmt.Errorf("%w: op %d step %d (matmul work has op 0, step 0)", ErrUnknownWork, w.Op, w.Step)
	}
	if w.IsSynthetic() {
		dim, tile := int(p.SyntheticDim), int(p.TileSize)
		if int(s.TileI) >= tileCount(dim, tile) || int(s.TileJ) >= tileCount(dim, tile) {
			return a, b, fmt.Errorf("%w: tile (%d,%d) of a %d×%d puzzle", ErrBadTile, s.TileI, s.TileJ, dim, dim)
		}
		a, b = syntheticTileOperands(seed, dim, tile, s.TileI, s.TileJ)
		return a, b, nil
	}
	prog, err := jobs.PendingJobProgram(w.JobID)
	if err != nil {
		return a, b, fmt.Errorf("%w: job %s: %v", ErrUnknownWork, w.JobID, err)
	}
	carried := false
	if body != nil {
		for _, r := range body.Results {
			if r.JobID == w.JobID {
				carried = true
				break
			}
		}
	}
	if !carried {
		return a, b, fmt.Errorf("%w: job %s", ErrWorkNotInBlock, w.JobID)
	}
	a, b, err = prog.MatMulOperands()
	if err != nil {
		return a, b, fmt.Errorf("%w: job %s: %v", ErrUnknownWork, w.JobID, err)
	}
	return a, b, nil
}

// VerifySeal is sampled recomputation (PROTOCOL.md §4): it rebuilds seed and
// noise, recomputes only the winning tile (b·b·K MACs out of the D behind
// the block) and checks the digest and the ticket against h.Difficulty.
func (e *PoUW) VerifySeal(p *types.Params, h *types.Header, body *types.Body, jobs WorkSource) error {
	s := &h.Seal
	seed := Seed(h.ParentHash, h.Coinbase, s.Nonce)
	a, b, train, err := e.operands(p, seed, s, body, jobs)
	if err != nil {
		return err
	}
	tile := int(p.TileSize)
	if int(s.TileI) >= tileCount(a.Rows, tile) || int(s.TileJ) >= tileCount(b.Cols, tile) {
		return fmt.Errorf("%w: tile (%d,%d) of a %d×%d product", ErrBadTile, s.TileI, s.TileJ, a.Rows, b.Cols)
	}
	ref := s.Work.Ref()
	nz := Noise(p, seed, s.Work, a.Rows, a.Cols, b.Cols)
	digest := common.Hash(e.be.TileDigest(a, b, nz, Geometry(p, s.Work), int(s.TileI), int(s.TileJ)))
	if digest != s.TileDigest {
		if train {
			// The product replayed from the ticket's checkpoint is not the
			// one the miner sealed: its states do not lead to this ticket.
			return fmt.Errorf("%w: step %d op %d: %w: tile (%d,%d) has digest %s, seal says %s",
				ErrCheckpointMismatch, s.Work.Step, s.Work.Op, ErrBadTileDigest, s.TileI, s.TileJ, digest, s.TileDigest)
		}
		return fmt.Errorf("%w: tile (%d,%d) has digest %s, seal says %s", ErrBadTileDigest, s.TileI, s.TileJ, digest, s.TileDigest)
	}
	w := TileWork(a.Rows, a.Cols, b.Cols, tile, s.TileI, s.TileJ)
	if !Wins(Ticket(seed, ref, s.TileI, s.TileJ, digest), w, h.Difficulty) {
		return fmt.Errorf("%w: tile of %d MACs at difficulty %d", ErrLosingTicket, w, h.Difficulty)
	}
	return nil
}

// VerifyResult checks a matrix-product result with Freivalds' algorithm over
// 2^61−1: O(n²) per round instead of O(n³). The vectors are keyed by the
// sealed header's hash, which commits to the result itself (ResultRoot), so
// a miner cannot pick a wrong product that fits known vectors.
func (e *PoUW) VerifyResult(p *types.Params, h *types.Header, prog *vm.Program, r *types.JobResult) error {
	return verifyResult(p, h, prog, r)
}

func verifyResult(p *types.Params, h *types.Header, prog *vm.Program, r *types.JobResult) error {
	a, b, err := prog.MatMulOperands()
	if err != nil {
		return fmt.Errorf("%w: job %s: %v", ErrResultShape, r.JobID, err)
	}
	if int(r.Rows) != a.Rows || int(r.Cols) != b.Cols {
		return fmt.Errorf("%w: job %s: result %d×%d, product is %d×%d", ErrResultShape, r.JobID, r.Rows, r.Cols, a.Rows, b.Cols)
	}
	c, err := vm.DecodeResult(r.Rows, r.Cols, r.Data)
	if err != nil {
		return fmt.Errorf("%w: job %s: %v", ErrResultShape, r.JobID, err)
	}
	hh := h.Hash()
	if !compute.Freivalds(a, b, c, types.Keccak(hh[:], r.JobID[:]), int(p.FreivaldsRounds)) {
		return fmt.Errorf("%w: job %s", ErrBadResult, r.JobID)
	}
	return nil
}

// Faker is an Engine for tests that accepts every seal (no work check) but
// still checks results with Freivalds and training segments with their
// sampled replay on the portable backend (tests use tiny networks).
type Faker struct{}

var _ Engine = Faker{}

// NewFaker returns the test engine.
func NewFaker() Faker { return Faker{} }

func (Faker) VerifySeal(*types.Params, *types.Header, *types.Body, WorkSource) error { return nil }

func (Faker) VerifyResult(p *types.Params, h *types.Header, prog *vm.Program, r *types.JobResult) error {
	return verifyResult(p, h, prog, r)
}

func (Faker) VerifyTrainSegment(p *types.Params, h *types.Header, spec *vm.TrainSpec, jobID common.Hash, start *vm.TrainState, seg *types.TrainSegment) error {
	return verifyTrainSegment(compute.Portable(), p, h, spec, jobID, start, seg)
}
