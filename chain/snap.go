package chain

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// Snap sync: a new node fetches the state at a recent pivot block instead of
// replaying every block from genesis (docs/protocol.md §8b). The p2p layer
// moves the bytes; everything here verifies them before they are stored:
// headers by the header rules and their links, trie nodes by their hash from
// the pivot's state root down (go-ethereum's trie.Sync schedules them), job
// transactions by their hash (a job's id) and checkpoints by their root.
// A sample of the seals below the pivot is recomputed (1 in snapSealSample
// and the last of each run), synthetic and job work alike: a job-work seal
// with its block, job tx and (sometimes) training start state fetched from
// peers and bound to the header (VerifySnapSeal, docs/security.md). The
// blocks after the pivot are imported in full.

// StateNode returns the state trie node with hash h (the Keccak256 of the
// returned bytes), for a peer's snap sync. Nodes of pruned states are gone.
func (c *Chain) StateNode(h common.Hash) ([]byte, bool) {
	blob, err := c.store.node(h, false)
	return blob, err == nil && blob != nil
}

// HeaderByNumber returns the canonical header at n (up to the head), or nil.
// Below a snap sync's pivot there are headers but no bodies.
func (c *Chain) HeaderByNumber(n uint64) *types.Header {
	if n > c.CurrentBlock().Number() {
		return nil
	}
	h, ok := c.CanonicalHash(n)
	if !ok {
		return nil
	}
	return c.GetHeader(h)
}

// SnapPivot returns the block a snap sync started this node from (0: it
// synced from genesis). Blocks below it have headers only.
func (c *Chain) SnapPivot() uint64 { return c.snapPivot() }

// OldestFullBlock is the lowest block number this node serves whole (a body
// that matches its header, so a peer can import it): 0 normally, the snap
// pivot after a snap sync, and head − resultRetention once result data is
// pruned (blocks below it may have lost theirs). A peer syncing in full
// from below it must find another peer.
func (c *Chain) OldestFullBlock() uint64 {
	oldest := c.snapPivot()
	if keep := c.params.ResultRetention; keep > 0 && !c.archive {
		if head := c.CurrentBlock().Number(); head > keep {
			oldest = max(oldest, head-keep)
		}
	}
	return oldest
}

// snapSealSample is one in how many headers of a snap run have their seal
// checked (the last of each run always is). Which ones is keyed by
// snapSampleKey, drawn from crypto/rand when the process starts: a peer
// cannot predict it, and the choice of a header is the same on every call
// in this process, so a run whose job-work seals need pieces fetched can be
// offered again with them.
const snapSealSample = 16

var snapSampleKey = func() (k [32]byte) {
	if _, err := crand.Read(k[:]); err != nil {
		panic(fmt.Sprintf("snap sync: sample key: %v", err))
	}
	return k
}()

// snapSampled reports whether h, the last of its run when last is set, has
// its seal checked.
func snapSampled(h *types.Header, last bool) bool {
	if last {
		return true
	}
	hash := h.Hash()
	k := crypto.Keccak256(snapSampleKey[:], hash[:])
	return binary.BigEndian.Uint64(k)%snapSealSample == 0
}

// overlayHeaders reads headers of a batch before they are stored.
type overlayHeaders struct {
	c     *Chain
	batch map[common.Hash]*types.Header
}

func (o overlayHeaders) GetHeader(h common.Hash) *types.Header {
	if hd, ok := o.batch[h]; ok {
		return hd
	}
	return o.c.GetHeader(h)
}

// SnapSealsWanted is InsertSnapHeaders' answer when sampled headers have job
// work: their seals need pieces (SnapSealPieces) from peers. It is not a rule
// error; nothing was stored. Offer the run again with the pieces.
type SnapSealsWanted struct {
	Headers []*types.Header
}

func (e *SnapSealsWanted) Error() string {
	return fmt.Sprintf("snap sync: %d sampled job-work seals need their blocks checked (first: header %d)", len(e.Headers), e.Headers[0].Number)
}

// ErrSnapNotThisBlock: a block served for a sampled header is another block
// (the server is on another chain, or reorganised): not proof of a lie.
var ErrSnapNotThisBlock = errors.New("snap sync: the block served is not the sampled header's")

// ErrSnapTrainStart marks a seal check that used a training start state a
// peer supplied (SnapSealPieces.TrainStart): that state is not bound by the
// header, so a failure may be the supplier's lie rather than the header's.
var ErrSnapTrainStart = errors.New("snap sync: with the start state the peer supplied")

// SnapSealPieces is what the seal check of a sampled job-work header needs
// (docs/protocol.md §8b): its block, whose body the header's tx and result
// roots bind; the job tx its seal names, bound by its hash (the job id); and,
// for a training ticket in the first interval of a segment that does not
// start at step 0, the job's checkpoint at the segment's start, which the
// header does not bind (docs/security.md says why that is enough).
type SnapSealPieces struct {
	Block      *types.Block
	JobTx      *types.Tx
	TrainStart []byte

	verified common.Hash // the header VerifySnapSeal passed it for
}

// snapTicketSegment finds the training segment of job id in body and the
// interval of the segment that holds step; ok is false if there is none.
func snapTicketSegment(p *types.Params, body *types.Body, id common.Hash, step uint32) (seg *types.TrainSegment, interval uint32, ok bool) {
	for _, r := range body.Results {
		if r.JobID == id && r.Train != nil {
			seg = r.Train
			break
		}
	}
	if seg == nil || step < seg.FromStep || p.TrainCheckpointInterval == 0 {
		return nil, 0, false
	}
	return seg, (step - seg.FromStep) / p.TrainCheckpointInterval, true
}

// SnapNeedsTrainStart reports whether the seal of h, whose block is b and
// whose job is tx's, needs a start state from a peer (SnapTrainStart serves
// it): a training ticket in interval 0 of a segment from a step above 0.
func (c *Chain) SnapNeedsTrainStart(h *types.Header, b *types.Block, tx *types.Tx) bool {
	if h.Seal.Work.IsSynthetic() || b == nil || tx == nil {
		return false
	}
	prog, err := vm.Decode(tx.Program, JobLimits(c.params))
	if err != nil || prog.Kind != vm.KindTrain {
		return false
	}
	seg, i, ok := snapTicketSegment(c.params, b.Body(), h.Seal.Work.JobID, h.Seal.Work.Step)
	return ok && i == 0 && seg.FromStep > 0
}

// snapWorkSource answers the engine's seal check from pieces a peer sent: the
// job's program from its tx, and the start state of the ticket's interval 0.
// Whether the job was pending at the parent is not known (no state below
// the pivot); the work argument does not need it (docs/security.md).
type snapWorkSource struct {
	id    common.Hash
	prog  *vm.Program
	start []byte // encoded checkpoint the engine replays interval 0 from
}

func (ws *snapWorkSource) PendingJobProgram(id common.Hash) (*vm.Program, error) {
	if id != ws.id {
		return nil, fmt.Errorf("%w: job %s", consensus.ErrUnknownWork, id)
	}
	return ws.prog, nil
}

func (ws *snapWorkSource) PendingTrainCheckpoint(id common.Hash) ([]byte, error) {
	if id != ws.id || ws.start == nil {
		return nil, fmt.Errorf("%w: training job %s", consensus.ErrUnknownWork, id)
	}
	return ws.start, nil
}

// VerifySnapSeal checks the seal of a sampled job-work header h with the
// pieces peers sent: the block must be h's (else ErrSnapNotThisBlock) with a
// body h commits to (verifyBody), the job tx must hash to the seal's job,
// and the engine's VerifySeal must pass on them. A piece that fails its
// binding, or a seal that fails, is a rule error (the sender lied); a seal
// failure that used a supplied training start state also wraps
// ErrSnapTrainStart. On success the pieces are marked for InsertSnapHeaders.
func (c *Chain) VerifySnapSeal(h *types.Header, pc *SnapSealPieces) error {
	w := h.Seal.Work
	if w.IsSynthetic() {
		if err := c.engine.VerifySeal(c.params, h, nil, nil); err != nil {
			return ruleErr(ErrBadSeal, err, "seal (sampled)")
		}
		return nil
	}
	if pc == nil || pc.Block == nil || pc.Block.Header == nil || pc.Block.Hash() != h.Hash() {
		return fmt.Errorf("%w (header %d)", ErrSnapNotThisBlock, h.Number)
	}
	if err := verifyBody(c.params, pc.Block); err != nil {
		return fmt.Errorf("snap sync: block %d body: %w", h.Number, err)
	}
	tx := pc.JobTx
	if tx == nil || tx.Kind != types.TxJob || tx.Hash() != w.JobID {
		return ruleErr(ErrBadJob, nil, "snap sync: header %d: not the job tx of %s", h.Number, w.JobID.TerminalString())
	}
	prog, err := vm.Decode(tx.Program, JobLimits(c.params))
	if err != nil {
		return ruleErr(ErrBadJob, err, "snap sync: header %d: job %s program", h.Number, w.JobID.TerminalString())
	}
	ws := &snapWorkSource{id: w.JobID, prog: prog}
	supplied := false
	if spec := prog.Train(); prog.Kind == vm.KindTrain && spec != nil {
		body := pc.Block.Body()
		seg, i, ok := snapTicketSegment(c.params, body, w.JobID, w.Step)
		if ok {
			switch {
			case i == 0 && seg.FromStep == 0:
				// The job's first checkpoint is its initial state: bound by its id.
				ws.start, err = vm.InitState(spec, w.JobID).Encode()
			case i == 0:
				st, derr := vm.DecodeTrainState(pc.TrainStart, spec)
				if pc.TrainStart == nil || derr != nil || st.Step != seg.FromStep {
					return ruleErr(ErrBadSeal, errors.Join(ErrSnapTrainStart, derr),
						"snap sync: header %d: start state of job %s at step %d", h.Number, w.JobID.TerminalString(), seg.FromStep)
				}
				ws.start, supplied = pc.TrainStart, true
			default:
				// The ticket's interval starts at a sample in the body; the
				// checkpoint is only checked for its step.
				st := vm.InitState(spec, w.JobID)
				st.Step = seg.FromStep
				ws.start, err = st.Encode()
			}
			if err != nil {
				return fmt.Errorf("snap sync: header %d: encode start state: %w", h.Number, err)
			}
		}
	}
	if err := c.engine.VerifySeal(c.params, h, pc.Block.Body(), ws); err != nil {
		if supplied {
			err = errors.Join(ErrSnapTrainStart, err)
		}
		return fmt.Errorf("header %d %s: %w", h.Number, h.Hash().TerminalString(), ruleErr(ErrBadSeal, err, "seal (sampled, job work)"))
	}
	pc.verified = h.Hash()
	return nil
}

// SnapTrainStart serves a peer's snap sync the state training job id's
// segment in canonical block n starts from (the job's checkpoint at n's
// parent): the initial state at step 0; else from the parent's state if it
// is kept, else the end state of the job's latest segment below n, searched
// back at most maxJobLifetime blocks to the block that submitted the job
// (only blocks that carry results are read).
func (c *Chain) SnapTrainStart(n uint64, id common.Hash) ([]byte, bool) {
	if n < c.OldestFullBlock() {
		return nil, false
	}
	b := c.GetBlockByNumber(n)
	if b == nil {
		return nil, false
	}
	var seg *types.TrainSegment
	for _, r := range b.Results {
		if r.JobID == id && r.Train != nil {
			seg = r.Train
		}
	}
	prog, _, err := c.DecodedJobProgram(id)
	if seg == nil || err != nil || prog.Train() == nil {
		return nil, false
	}
	if seg.FromStep == 0 {
		state, err := vm.InitState(prog.Train(), id).Encode()
		return state, err == nil
	}
	if st, err := c.StateAtBlock(b.ParentHash()); err == nil {
		if j, ok := st.Job(id); ok && j.StepsDone == seg.FromStep {
			if state, ok := c.JobCheckpoint(j.Checkpoint); ok {
				return state, true
			}
		}
	}
	lowest := uint64(0)
	if _, l, ok := c.GetTransaction(id); ok {
		lowest = l.Number
	}
	if n > c.params.MaxJobLifetime+1 {
		lowest = max(lowest, n-c.params.MaxJobLifetime-1)
	}
	empty := types.ResultRoot(nil)
	for m := n - 1; m > lowest && m >= c.OldestFullBlock(); m-- {
		hd := c.HeaderByNumber(m)
		if hd == nil {
			return nil, false
		}
		if hd.ResultRoot == empty {
			continue
		}
		blk := c.GetBlockByNumber(m)
		if blk == nil {
			return nil, false
		}
		for _, r := range blk.Results {
			if r.JobID == id && r.Train != nil && r.Train.ToStep == seg.FromStep && len(r.Train.Roots) > 0 {
				if state, ok := c.JobCheckpoint(r.Train.Roots[len(r.Train.Roots)-1]); ok {
					return state, true
				}
				return r.Train.EndState, len(r.Train.EndState) > 0
			}
		}
	}
	return nil, false
}

// InsertSnapHeaders stores a run of headers, each the child of the one
// before it, the first a child of a stored header, after checking the header
// rules (linkage, number, difficulty, time) and a sample of their seals,
// with their total difficulty. A sampled header with synthetic work has its
// seal recomputed from the header alone; one with job work needs its pieces
// among seals (matched by their block's hash), checked by VerifySnapSeal
// unless it already passed them; if any is missing, nothing is stored and the error is a
// *SnapSealsWanted listing them all. The headers become canonical only when
// a SnapState built on one of them finishes; a full sync that replaces the
// snap sync imports the same blocks over them.
func (c *Chain) InsertSnapHeaders(hs []*types.Header, seals ...*SnapSealPieces) error {
	if len(hs) == 0 {
		return nil
	}
	parent := c.GetHeader(hs[0].ParentHash)
	if parent == nil {
		return fmt.Errorf("%w %s of header %d", ErrUnknownParent, hs[0].ParentHash, hs[0].Number)
	}
	td := c.TD(parent.Hash())
	if td == nil {
		return fmt.Errorf("header %d: parent's total difficulty missing", parent.Number)
	}
	pieces := make(map[common.Hash]*SnapSealPieces, len(seals))
	for _, pc := range seals {
		if pc != nil && pc.Block != nil && pc.Block.Header != nil {
			pieces[pc.Block.Hash()] = pc
		}
	}
	var wanted []*types.Header
	o := overlayHeaders{c, make(map[common.Hash]*types.Header, len(hs))}
	now := uint64(c.now().UnixMilli())
	tds := make([]*uint256.Int, len(hs))
	for i, h := range hs {
		if i > 0 && h.ParentHash != hs[i-1].Hash() {
			return fmt.Errorf("%w: header %d does not link to header %d", ErrUnknownParent, h.Number, hs[i-1].Number)
		}
		if err := verifyHeader(c.params, o, parent, h, now); err != nil {
			return fmt.Errorf("header %d %s: %w", h.Number, h.Hash().TerminalString(), err)
		}
		if snapSampled(h, i == len(hs)-1) {
			if h.Seal.Work.IsSynthetic() {
				// A synthetic puzzle's seal needs nothing but the header.
				if err := c.engine.VerifySeal(c.params, h, nil, nil); err != nil {
					return fmt.Errorf("header %d %s: %w", h.Number, h.Hash().TerminalString(), ruleErr(ErrBadSeal, err, "seal (sampled)"))
				}
			} else if pc := pieces[h.Hash()]; pc == nil {
				wanted = append(wanted, h)
			} else if pc.verified != h.Hash() {
				if err := c.VerifySnapSeal(h, pc); err != nil {
					return err
				}
			}
		}
		td = consensus.AddDifficulty(td, h.Difficulty)
		tds[i] = td
		o.batch[h.Hash()] = h
		parent = h
	}
	if len(wanted) > 0 {
		return &SnapSealsWanted{Headers: wanted}
	}
	err := c.db.Update(func(txn *badger.Txn) error {
		for i, h := range hs {
			if err := firstErr(txn.Set(headerKey(h.Hash()), mustRLP(h)), writeTD(txn, h.Hash(), tds[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store snap headers %d..%d: %w", hs[0].Number, hs[len(hs)-1].Number, err)
	}
	return nil
}

// SnapState fetches the state at a pivot: the trie nodes under the pivot's
// state root, then the programs and checkpoints of its pending jobs. Its
// methods are safe for one goroutine at a time.
type SnapState struct {
	c     *Chain
	pivot *types.Block
	sync  *trie.Sync

	mu        sync.Mutex
	wanted    map[common.Hash][]string // requested trie nodes, by hash: their paths
	nodesDone int
	trieDone  bool

	jobs        map[common.Hash]*Job        // pending jobs whose tx is wanted
	ckpts       map[common.Hash]common.Hash // wanted checkpoint root → training job id
	extrasReady bool
}

// NewSnapState starts a snap sync at pivot, whose header InsertSnapHeaders
// stored. Nodes already stored (an earlier, interrupted attempt, or shared
// with the genesis state) are kept, with everything below them.
func (c *Chain) NewSnapState(pivot *types.Block) (*SnapState, error) {
	if pivot == nil || pivot.Header == nil {
		return nil, errors.New("snap sync: no pivot")
	}
	stored := c.GetHeader(pivot.Hash())
	if stored == nil || c.TD(pivot.Hash()) == nil {
		return nil, fmt.Errorf("snap sync: pivot %d %s: header not stored (InsertSnapHeaders first)", pivot.Number(), pivot.Hash().TerminalString())
	}
	if err := verifyBody(c.params, pivot); err != nil {
		return nil, fmt.Errorf("snap sync: pivot %d body: %w", pivot.Number(), err)
	}
	s := &SnapState{c: c, pivot: pivot, wanted: make(map[common.Hash][]string)}
	s.sync = trie.NewSync(pivot.Header.StateRoot, snapDB{c}, nil, rawdb.HashScheme)
	return s, nil
}

// MissingNodes returns up to max hashes of trie nodes still wanted: those
// asked for before and not delivered first, then new ones.
func (s *SnapState) MissingNodes(max int) []common.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]common.Hash, 0, max)
	for h := range s.wanted {
		if len(out) == max {
			return out
		}
		out = append(out, h)
	}
	paths, hashes, _ := s.sync.Missing(max - len(out))
	for i, h := range hashes {
		if _, ok := s.wanted[h]; !ok {
			out = append(out, h)
		}
		s.wanted[h] = append(s.wanted[h], paths[i])
	}
	if len(s.wanted) == 0 && s.sync.Pending() == 0 {
		s.trieDone = true
	}
	return out
}

// AddNode takes a trie node a peer sent; it must hash to a wanted hash and
// decode as a trie node.
func (s *SnapState) AddNode(blob []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := crypto.Keccak256Hash(blob)
	paths, ok := s.wanted[h]
	if !ok {
		return fmt.Errorf("snap sync: trie node %s was not asked for", h.TerminalString())
	}
	for _, p := range paths {
		if err := s.sync.ProcessNode(trie.NodeSyncResult{Path: p, Data: blob}); err != nil && !errors.Is(err, trie.ErrAlreadyProcessed) {
			return fmt.Errorf("snap sync: trie node %s: %w", h.TerminalString(), err)
		}
	}
	delete(s.wanted, h)
	s.nodesDone++
	return nil
}

// Flush writes the trie nodes completed so far (a node only once everything
// below it is in) in one transaction, so an interrupted sync keeps them.
func (s *SnapState) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &snapBatch{c: s.c}
	if err := s.sync.Commit(b); err != nil {
		return err
	}
	return b.Write()
}

// Progress reports trie nodes stored and still wanted, for logs and metrics.
func (s *SnapState) Progress() (done, pending int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodesDone, len(s.wanted) + s.sync.Pending()
}

// extras finds, once the trie is complete and flushed, the pending jobs
// whose programs and checkpoints are missing (s.mu held).
func (s *SnapState) extras() error {
	if s.extrasReady {
		return nil
	}
	if !s.trieDone || s.sync.Pending() != 0 {
		return errors.New("snap sync: trie not complete")
	}
	st := stateAt(s.c.store, s.pivot.Header.StateRoot)
	s.jobs, s.ckpts = make(map[common.Hash]*Job), make(map[common.Hash]common.Hash)
	for _, j := range st.PendingJobs() {
		if _, ok := s.c.JobProgram(j.ID); !ok {
			s.jobs[j.ID] = j
		}
		if j.Kind == JobTrain {
			if _, ok := s.c.JobCheckpoint(j.Checkpoint); !ok {
				s.ckpts[j.Checkpoint] = j.ID
			}
		}
	}
	if err := st.Err(); err != nil {
		return fmt.Errorf("snap sync: read pivot state: %w", err)
	}
	s.extrasReady = true
	return nil
}

// MissingJobs returns, once every trie node is in and flushed, the ids of
// the pending jobs at the pivot whose job transactions (their programs) are
// not stored; nil before that (Done stays false).
func (s *SnapState) MissingJobs() []common.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.extras() != nil {
		return nil
	}
	return slices.Collect(maps.Keys(s.jobs))
}

// AddJobTx takes a job transaction a peer sent: its hash must be a wanted
// job id, and its program what the job tx carried.
func (s *SnapState) AddJobTx(tx *types.Tx) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.extras(); err != nil {
		return err
	}
	id := tx.Hash()
	if _, ok := s.jobs[id]; !ok || tx.Kind != types.TxJob {
		return fmt.Errorf("snap sync: job tx %s was not asked for", id.TerminalString())
	}
	if _, err := vm.Decode(tx.Program, JobLimits(s.c.params)); err != nil {
		return fmt.Errorf("snap sync: job %s: program: %w", id.TerminalString(), err)
	}
	if err := s.c.db.Update(func(txn *badger.Txn) error { return writeProgram(txn, id, tx.Program) }); err != nil {
		return err
	}
	delete(s.jobs, id)
	return nil
}

// MissingCheckpoints returns the roots of the training checkpoints of the
// pivot's pending training jobs that are not stored (once their programs are).
func (s *SnapState) MissingCheckpoints() []common.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.extras() != nil || len(s.jobs) != 0 {
		return nil
	}
	return slices.Collect(maps.Keys(s.ckpts))
}

// AddCheckpoint takes a training checkpoint state; it must decode under its
// job's program and have a wanted root.
func (s *SnapState) AddCheckpoint(state []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.extras(); err != nil {
		return err
	}
	for root, id := range s.ckpts {
		prog, _, err := s.c.DecodedJobProgram(id)
		if err != nil || prog.Train() == nil {
			continue
		}
		ts, err := vm.DecodeTrainState(state, prog.Train())
		if err != nil || ts.Root() != root {
			continue
		}
		if err := s.c.db.Update(func(txn *badger.Txn) error { return writeCheckpoint(txn, root, state) }); err != nil {
			return err
		}
		delete(s.ckpts, root)
		return nil
	}
	return errors.New("snap sync: a checkpoint that matches no wanted root")
}

// Done reports whether nothing is missing any more.
func (s *SnapState) Done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.trieDone && len(s.wanted) == 0 && s.sync.Pending() == 0 {
		s.trieDone = true
	}
	return s.extras() == nil && len(s.jobs) == 0 && len(s.ckpts) == 0
}

// Finish makes the pivot the head: the canonical index of the headers below
// it (in batches first: harmless above the head if a crash stops it), then
// in one transaction the pivot block (body included), its state record, the
// pivot mark and the head. It fails unless Done, and unless the pivot
// outweighs the head.
func (s *SnapState) Finish() error {
	if !s.Done() {
		return errors.New("snap sync: state incomplete")
	}
	c, pivot := s.c, s.pivot
	c.insertMu.Lock()
	defer c.insertMu.Unlock()
	td := c.TD(pivot.Hash())
	if td == nil || !td.Gt(c.CurrentTD()) {
		return fmt.Errorf("snap sync: pivot %d does not outweigh the head %d", pivot.Number(), c.CurrentBlock().Number())
	}
	// Walk the headers down to the first canonical one.
	var hashes []common.Hash
	for h := pivot.Header; ; {
		if ch, ok := c.CanonicalHash(h.Number); ok && ch == h.Hash() && h.Number <= c.CurrentBlock().Number() {
			break
		}
		hashes = append(hashes, h.Hash())
		if h.Number == 0 {
			return errors.New("snap sync: pivot does not descend from our genesis")
		}
		parent := c.GetHeader(h.ParentHash)
		if parent == nil {
			return fmt.Errorf("snap sync: header %s below the pivot missing", h.ParentHash)
		}
		h = parent
	}
	const batch = 4096
	for i := len(hashes) - 1; i > 0; i -= batch {
		err := c.db.Update(func(txn *badger.Txn) error {
			for j := i; j > max(0, i-batch); j-- {
				if err := writeCanonicalHash(txn, pivot.Number()-uint64(j), hashes[j]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("snap sync: canonical index: %w", err)
		}
	}
	hash := pivot.Hash()
	err := c.db.Update(func(txn *badger.Txn) error {
		for _, tx := range pivot.Txs {
			if tx.Kind == types.TxJob {
				if err := writeProgram(txn, tx.Hash(), tx.Program); err != nil {
					return err
				}
			}
		}
		return firstErr(
			writeBlock(txn, pivot), writeTxLookups(txn, pivot), writeCanonicalHash(txn, pivot.Number(), hash),
			writeStateRecord(txn, pivot.Number(), hash, &stateJournal{}),
			txn.Set(keySnapPivot, binary.BigEndian.AppendUint64(nil, pivot.Number())),
			writeHeadHash(txn, hash),
		)
	})
	if err != nil {
		return fmt.Errorf("snap sync: store pivot %d: %w", pivot.Number(), err)
	}
	st := stateAt(c.store, pivot.Header.StateRoot)
	c.pivot.Store(pivot.Number())
	c.headers.add(hash, pivot.Header)
	c.cacheBlock(pivot)
	c.states.add(hash, st)
	c.mu.Lock()
	c.head, c.headTD, c.headState = pivot, td, st
	c.mu.Unlock()
	c.log.Info("snap sync: pivot state complete", "number", pivot.Number(), "hash", hash, "root", pivot.Header.StateRoot)
	c.notifyHead(pivot)
	return nil
}

// snapDB answers trie.Sync's "is this node stored?" from the store (the
// hash scheme's keys are the bare node hashes).
type snapDB struct{ c *Chain }

func (d snapDB) Has(key []byte) (bool, error) {
	if len(key) != common.HashLength {
		return false, nil
	}
	blob, err := d.c.store.node(common.BytesToHash(key), false)
	return blob != nil, err
}

func (d snapDB) Get(key []byte) ([]byte, error) {
	if len(key) != common.HashLength {
		return nil, errNotFound
	}
	blob, err := d.c.store.node(common.BytesToHash(key), false)
	if blob == nil && err == nil {
		err = errNotFound
	}
	return blob, err
}

// snapBatch is the ethdb.Batch trie.Sync commits into: each new node is
// stored with one reference (the pivot's state holds it at one position).
type snapBatch struct {
	c    *Chain
	keys [][]byte
	vals [][]byte
	size int
}

var _ ethdb.Batch = (*snapBatch)(nil)

func (b *snapBatch) Put(key, value []byte) error {
	if len(key) != common.HashLength {
		return fmt.Errorf("snap sync: unexpected key %x (not a node hash)", key)
	}
	b.keys, b.vals = append(b.keys, slices.Clone(key)), append(b.vals, slices.Clone(value))
	b.size += len(value)
	return nil
}

func (b *snapBatch) Delete([]byte) error {
	return errors.New("snap sync: deletes are not used by the hash scheme")
}
func (b *snapBatch) DeleteRange([]byte, []byte) error {
	return errors.New("snap sync: deletes are not used by the hash scheme")
}
func (b *snapBatch) ValueSize() int { return b.size }
func (b *snapBatch) Reset()         { b.keys, b.vals, b.size = nil, nil, 0 }
func (b *snapBatch) Close()         {}

func (b *snapBatch) Replay(w ethdb.KeyValueWriter) error {
	for i := range b.keys {
		if err := w.Put(b.keys[i], b.vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// Write stores the nodes, in transactions of bounded size.
func (b *snapBatch) Write() error {
	const perTxn = 8192
	for start := 0; start < len(b.keys); start += perTxn {
		keys, vals := b.keys[start:min(start+perTxn, len(b.keys))], b.vals[start:]
		hs := make([]common.Hash, len(keys))
		for i, k := range keys {
			hs[i] = common.BytesToHash(k)
		}
		b.c.birthMu.Lock() // the node filter learns of every node stored (nodefilter.go)
		b.c.filter.add(hs)
		err := b.c.update(func(txn *badger.Txn) error {
			for i, h := range hs {
				if crypto.Keccak256Hash(vals[i]) != h {
					return fmt.Errorf("snap sync: node %s does not hash to its key", h)
				}
				n, _, err := readNode(txn, h)
				if err != nil {
					return err
				}
				if n > 0 {
					continue // already stored (the genesis state shares it)
				}
				if err := txn.Set(trieNodeKey(h), nodeRecord(1, vals[i])); err != nil {
					return err
				}
			}
			return nil
		})
		b.c.birthMu.Unlock()
		if err != nil {
			return err
		}
	}
	b.Reset()
	return nil
}
