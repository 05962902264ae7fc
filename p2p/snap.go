package p2p

// Snap sync (docs/protocol.md §10). A node far behind fetches the state at
// a pivot block instead of replaying every block: this file moves and
// bounds the bytes, chain/snap.go verifies each piece against the pivot's
// state root before it is stored.
//
// Wire format, /quern/<network>/snap/1: one request per stream. The client
// writes one frame (≤ 32 KiB), the RLP list
//
//	[kind, from, count, hashes]
//
// and closes its write side; the server answers with one frame per item
// and closes the stream. An empty answer means it has none of them.
//
//	kind 0 headers:     from, count; no hashes. Up to min(count, 1024) RLP
//	                    canonical headers numbered from, from+1, ..., each the
//	                    child of the one before; fewer if the chain ends.
//	kind 1 nodes:       1–512 hashes, from = count = 0. The state trie nodes
//	                    with these hashes (Keccak256 of the node), each an RLP
//	                    byte string, in request order, unknown ones skipped.
//	kind 2 jobtxs:      1–64 job ids (a job's id is its tx hash). The RLP job
//	                    txs, in request order, unknown ones skipped.
//	kind 3 checkpoints: 1–16 roots. The training checkpoint states with these
//	                    roots, each an RLP byte string, in request order,
//	                    unknown ones skipped.
//	kind 4 trainstart:  from = a block number, count = 0, one hash: a job id.
//	                    At most one RLP byte string: the training state the
//	                    job's segment in canonical block from starts from (its
//	                    checkpoint at the block's parent); none if unknown.
//	                    Asked only for the seal check of a sampled header.
//
// Caps: a header ≤ 1 KiB, a node ≤ 1 MiB, a job tx ≤ maxTxBytes, a
// checkpoint ≤ maxBlockBytes (from the genesis params, §6a); an answer stops
// once it passes 2 MiB (at least one item, sent whole). An answer that breaks
// a cap, its numbering or linkage, or carries a node or tx it was not asked
// for (hash not in the request, or out of order) is a bad response.
//
// The driver (snapFrom) runs instead of the range sync when Config.SnapSync is
// set, our head is genesis or more than snapMinGap blocks behind the best
// peer, and that peer serves snap/1: pivot = its head − snapPivotDepth;
// headers from our head to the pivot (InsertSnapHeaders); the pivot block
// over sync/1; then the trie nodes, job txs and checkpoints the SnapState
// still misses, until Finish makes the pivot our head and the range sync
// takes over. Headers are checked in runs; a sampled header with job work
// (chain.SnapSealsWanted) has its block fetched over sync/1 from a peer that
// serves it whole (the snap peer first), its job tx (kind 2) from that peer
// or any other, and for some training tickets its start state (kind 4), and
// its seal is recomputed (chain.VerifySnapSeal) before the run is stored; if
// no peer can serve them the session fails (errSnapUnverified) and nobody is
// banned. A piece the chain refuses, or one we did not ask for, proves the
// peer lies: it is banned. maxSnapFailures failed sessions in a row turn
// snap off for this run: the node falls back to full sync.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// SnapChain is what snap sync needs from the chain, serving and fetching;
// *chain.Chain has it. A Chain without it neither serves nor runs snap sync.
type SnapChain interface {
	HeaderByNumber(n uint64) *types.Header // canonical
	StateNode(h common.Hash) ([]byte, bool)
	GetTransaction(h common.Hash) (*types.Tx, *chain.TxLookup, bool)
	JobCheckpoint(root common.Hash) ([]byte, bool)
	InsertSnapHeaders(hs []*types.Header, seals ...*chain.SnapSealPieces) error
	VerifySnapSeal(h *types.Header, pc *chain.SnapSealPieces) error
	SnapNeedsTrainStart(h *types.Header, b *types.Block, tx *types.Tx) bool
	SnapTrainStart(n uint64, jobID common.Hash) ([]byte, bool)
	NewSnapState(pivot *types.Block) (*chain.SnapState, error)
}

var _ SnapChain = (*chain.Chain)(nil)

// Request kinds of snap/1.
const (
	snapHeaders     uint8 = 0
	snapNodes       uint8 = 1
	snapJobTxs      uint8 = 2
	snapCheckpoints uint8 = 3
	snapTrainStart  uint8 = 4
)

const (
	maxSnapHeaders       = 1024 // per answer
	maxSnapNodes         = 512
	maxSnapJobTxs        = 64
	maxSnapCheckpoints   = 16
	maxSnapRequestBytes  = 32 << 10 // 512 hashes of 33 bytes and the rest
	maxSnapHeaderBytes   = 1 << 10  // a header is ~300 bytes, every field fixed-size
	maxSnapNodeBytes     = 1 << 20
	maxSnapResponseBytes = 2 << 20 // soft cap; one item is always sent whole

	// snapMinGap is how far behind the best peer a node that has left
	// genesis must be before it snap syncs again rather than replays.
	snapMinGap = 128
	// snapPivotDepth keeps the pivot this far below the peer's head: deep
	// enough not to be reorganised away, well inside the 256 blocks of
	// states a node keeps (chain.stateRetention).
	snapPivotDepth = 64
	snapFlushNodes = 8192 // nodes per Flush: what an interrupted sync keeps
	// maxSnapFailures failed sessions in a row (any peers) fall back to
	// full sync.
	maxSnapFailures = 3
	// maxSnapRepivots bounds how often one session moves its pivot up when
	// the peer no longer has the pivot's state (pruned as its head moved).
	maxSnapRepivots  = 4
	snapIdentifyWait = 5 * time.Second // for a new peer's protocol list
)

var (
	errSnapFork    = errors.New("our head is not on the peer's chain")
	errSnapNoData  = errors.New("peer served nothing we asked for")
	errSnapRefused = errors.New("peer served a piece the chain refused")
	// errSnapUnverified: no peer served what a sampled job-work seal's
	// check needs; the run is not stored and nobody is to blame.
	errSnapUnverified = errors.New("no peer serves the pieces a sampled seal's check needs")
)

// snapRequest is the one request of snap/1; which fields count depends on Kind.
type snapRequest struct {
	Kind   uint8
	From   uint64
	Count  uint64
	Hashes []common.Hash
}

// maxItems is the most items an answer to r may carry.
func (r *snapRequest) maxItems() int {
	if r.Kind == snapHeaders {
		return int(min(r.Count, maxSnapHeaders))
	}
	return len(r.Hashes)
}

// snapHashCap is how many hashes a request of kind k may carry; 0: none.
func snapHashCap(k uint8) int {
	switch k {
	case snapNodes:
		return maxSnapNodes
	case snapJobTxs:
		return maxSnapJobTxs
	case snapCheckpoints:
		return maxSnapCheckpoints
	case snapTrainStart:
		return 1
	}
	return 0
}

func (r *snapRequest) check() error {
	switch {
	case r.Kind > snapTrainStart:
		return fmt.Errorf("unknown kind %d", r.Kind)
	case r.Kind == snapHeaders && len(r.Hashes) != 0:
		return errors.New("a headers request carries no hashes")
	case r.Kind == snapTrainStart && r.Count != 0:
		return errors.New("a trainstart request carries no count")
	case r.Kind != snapHeaders && r.Kind != snapTrainStart && (r.From != 0 || r.Count != 0):
		return errors.New("a request by hash carries no from or count")
	case r.Kind != snapHeaders && len(r.Hashes) == 0:
		return errors.New("no hashes")
	case len(r.Hashes) > snapHashCap(r.Kind):
		return fmt.Errorf("%d hashes, over the %d cap of kind %d", len(r.Hashes), snapHashCap(r.Kind), r.Kind)
	}
	return nil
}

func decodeSnapRequest(b []byte) (*snapRequest, error) {
	var r snapRequest
	if err := rlp.DecodeBytes(b, &r); err != nil {
		return nil, fmt.Errorf("snap request: %w", err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("snap request: %w", err)
	}
	return &r, nil
}

// snapItemCap is the byte cap of one item of kind k, as encoded in its
// frame; for the byte-string kinds, snapBlobCap is the cap of the bytes.
func snapItemCap(k uint8, caps wireCaps) int {
	const blobPrefix = 9 // an RLP byte string's longest length prefix
	switch k {
	case snapHeaders:
		return maxSnapHeaderBytes
	case snapJobTxs:
		return caps.tx
	default:
		return snapBlobCap(k, caps) + blobPrefix
	}
}

func snapBlobCap(k uint8, caps wireCaps) int {
	if k == snapNodes {
		return maxSnapNodeBytes
	}
	return caps.block // a checkpoint state came in a block
}

// handleSnap serves one snap/1 request.
func (s *Service) handleSnap(st network.Stream) {
	if !s.enter() {
		st.Reset()
		return
	}
	defer s.wg.Done()
	defer st.Close()
	stop := context.AfterFunc(s.ctx, func() { st.Reset() })
	defer stop()

	req, ok := readRequest(s, st, maxSnapRequestBytes, "snap", decodeSnapRequest)
	if !ok {
		return
	}
	w := bufio.NewWriterSize(st, 64<<10)
	if err := s.serveSnap(w, req); err != nil {
		st.Reset()
		return
	}
	if err := w.Flush(); err != nil {
		st.Reset()
	}
}

// serveSnap writes the frames answering req to w.
func (s *Service) serveSnap(w io.Writer, req *snapRequest) error {
	var (
		total, sent int
		itemCap     = snapItemCap(req.Kind, s.caps)
	)
	// emit writes one item; false: the answer is full (or broken).
	emit := func(enc []byte, err error) (bool, error) {
		if err != nil || len(enc) > itemCap {
			return true, nil // skip what we cannot send
		}
		if sent > 0 && total+len(enc) > maxSnapResponseBytes {
			return false, nil
		}
		if err := writeFrame(w, enc); err != nil {
			return false, err
		}
		total += len(enc)
		sent++
		return true, nil
	}
	if req.Kind == snapHeaders {
		var prev *types.Header
		for i := range uint64(req.maxItems()) {
			n := req.From + i
			if n < req.From || s.ctx.Err() != nil {
				return nil
			}
			h := s.snap.HeaderByNumber(n)
			if h == nil || (prev != nil && h.ParentHash != prev.Hash()) {
				return nil // our chain ends, or a reorg's seam
			}
			if more, err := emit(rlp.EncodeToBytes(h)); !more || err != nil {
				return err
			}
			prev = h
		}
		return nil
	}
	for _, h := range req.Hashes {
		if s.ctx.Err() != nil {
			return nil
		}
		var enc []byte
		switch req.Kind {
		case snapNodes:
			blob, ok := s.snap.StateNode(h)
			if !ok || len(blob) > maxSnapNodeBytes {
				continue
			}
			enc, _ = rlp.EncodeToBytes(blob)
		case snapJobTxs:
			tx, _, ok := s.snap.GetTransaction(h)
			if !ok || tx.Kind != types.TxJob {
				continue
			}
			enc, _ = rlp.EncodeToBytes(tx)
		case snapCheckpoints:
			state, ok := s.snap.JobCheckpoint(h)
			if !ok || len(state) > s.caps.block {
				continue
			}
			enc, _ = rlp.EncodeToBytes(state)
		case snapTrainStart:
			state, ok := s.snap.SnapTrainStart(req.From, h)
			if !ok || len(state) > s.caps.block {
				continue
			}
			enc, _ = rlp.EncodeToBytes(state)
		}
		if more, err := emit(enc, nil); !more || err != nil {
			return err
		}
	}
	return nil
}

// readSnapResponse reads the frames answering req until the server closes
// the stream, checking the count and byte caps; the items are not decoded.
func readSnapResponse(r *bufio.Reader, req *snapRequest, caps wireCaps) ([][]byte, error) {
	var (
		frames  [][]byte
		total   int
		itemCap = snapItemCap(req.Kind, caps)
		want    = req.maxItems()
	)
	for {
		raw, err := readFrame(r, itemCap)
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadResponse, err)
		}
		if len(frames) >= want {
			return nil, fmt.Errorf("%w: more than %d items", errBadResponse, want)
		}
		if total += len(raw); total > maxSnapResponseBytes+itemCap {
			return nil, fmt.Errorf("%w: over %d bytes", errBadResponse, total)
		}
		frames = append(frames, raw)
	}
}

// decodeSnapHeaders decodes an answer to a headers request: numbered from
// req.From, each the child of the one before.
func decodeSnapHeaders(frames [][]byte, req *snapRequest) ([]*types.Header, error) {
	hs := make([]*types.Header, 0, len(frames))
	for i, raw := range frames {
		h := new(types.Header)
		if err := rlp.DecodeBytes(raw, h); err != nil {
			return nil, fmt.Errorf("%w: header: %v", errBadResponse, err)
		}
		if n := req.From + uint64(i); h.Number != n {
			return nil, fmt.Errorf("%w: got header %d, want %d", errBadResponse, h.Number, n)
		}
		if i > 0 && h.ParentHash != hs[i-1].Hash() {
			return nil, fmt.Errorf("%w: header %d does not extend the previous one", errBadResponse, h.Number)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// decodeSnapBlobs decodes an answer of byte strings. With keyed set, each
// must hash (Keccak256) to one of req.Hashes, in request order.
func decodeSnapBlobs(frames [][]byte, req *snapRequest, keyed bool, maxBlob int) ([][]byte, error) {
	blobs := make([][]byte, 0, len(frames))
	next := 0
	for _, raw := range frames {
		var b []byte
		if err := rlp.DecodeBytes(raw, &b); err != nil {
			return nil, fmt.Errorf("%w: item: %v", errBadResponse, err)
		}
		if len(b) > maxBlob {
			return nil, fmt.Errorf("%w: item of %d bytes over the %d cap", errBadResponse, len(b), maxBlob)
		}
		if keyed {
			i, err := matchHash(req.Hashes, next, crypto.Keccak256Hash(b))
			if err != nil {
				return nil, err
			}
			next = i + 1
		}
		blobs = append(blobs, b)
	}
	return blobs, nil
}

// decodeSnapTxs decodes an answer to a jobtxs request: job txs whose
// hashes are among req.Hashes, in request order.
func decodeSnapTxs(frames [][]byte, req *snapRequest, maxTx int) ([]*types.Tx, error) {
	txs := make([]*types.Tx, 0, len(frames))
	next := 0
	for _, raw := range frames {
		tx, err := decodeTx(raw, maxTx)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadResponse, err)
		}
		if tx.Kind != types.TxJob {
			return nil, fmt.Errorf("%w: tx %s is not a job", errBadResponse, tx.Hash())
		}
		i, err := matchHash(req.Hashes, next, tx.Hash())
		if err != nil {
			return nil, err
		}
		next = i + 1
		txs = append(txs, tx)
	}
	return txs, nil
}

// matchHash finds h in want[from:]: answers keep the request's order.
func matchHash(want []common.Hash, from int, h common.Hash) (int, error) {
	if i := slices.Index(want[from:], h); i >= 0 {
		return from + i, nil
	}
	return 0, fmt.Errorf("%w: %w: %s was not asked for (or is out of order)", errBadResponse, errSnapRefused, h)
}

// fetchSnap sends req to p and returns the raw answer frames, checked
// against the caps. Deadlines as fetchBlocks.
func (s *Service) fetchSnap(ctx context.Context, p peer.ID, req *snapRequest) ([][]byte, error) {
	deadline := time.Now().Add(syncFetchTimeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	st, err := s.host.NewStream(ctx, p, s.snapProto)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	st.SetDeadline(deadline)

	enc, err := rlp.EncodeToBytes(req)
	if err != nil {
		return nil, err
	}
	if err := writeFrame(st, enc); err != nil {
		st.Reset()
		return nil, err
	}
	st.CloseWrite()
	st.SetReadDeadline(time.Now().Add(s.cfg.syncFirstByte))
	first := &firstByteReader{r: st, onFirst: func() { st.SetReadDeadline(deadline) }}
	frames, err := readSnapResponse(bufio.NewReaderSize(first, 64<<10), req, s.caps)
	if err != nil {
		st.Reset()
		return nil, err
	}
	return frames, nil
}

func (s *Service) fetchSnapHeaders(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Header, error) {
	req := &snapRequest{Kind: snapHeaders, From: from, Count: count}
	frames, err := s.fetchSnap(ctx, p, req)
	if err != nil {
		return nil, err
	}
	return decodeSnapHeaders(frames, req)
}

func (s *Service) fetchSnapBlobs(ctx context.Context, p peer.ID, kind uint8, hashes []common.Hash) ([][]byte, error) {
	req := &snapRequest{Kind: kind, Hashes: hashes}
	frames, err := s.fetchSnap(ctx, p, req)
	if err != nil {
		return nil, err
	}
	return decodeSnapBlobs(frames, req, kind == snapNodes, snapBlobCap(kind, s.caps))
}

func (s *Service) fetchSnapJobTxs(ctx context.Context, p peer.ID, ids []common.Hash) ([]*types.Tx, error) {
	req := &snapRequest{Kind: snapJobTxs, Hashes: ids}
	frames, err := s.fetchSnap(ctx, p, req)
	if err != nil {
		return nil, err
	}
	return decodeSnapTxs(frames, req, s.caps.tx)
}

// snapPivot reports whether a sync towards target should be a snap sync,
// and at which pivot: target's head − snapPivotDepth, or the first block it
// serves whole if that is higher (the pivot block comes over sync/1).
// unserved: no peer serves the range sync our next block, so snap even when
// we are not snapMinGap behind, or after snap failures turned it off (a full
// sync has no peer to fall back to; a few lying sessions must not leave us
// with none).
func (s *Service) snapPivot(target *statusMsg, unserved bool) (uint64, bool) {
	if !s.cfg.SnapSync || s.snap == nil || (s.snapOff.Load() && !unserved) || target.Number <= snapPivotDepth {
		return 0, false
	}
	head := s.chain.CurrentBlock().Number()
	pivot := max(target.Number-snapPivotDepth, target.OldestFull)
	if pivot <= head || pivot > target.Number || (!unserved && head != 0 && target.Number-head <= snapMinGap) {
		return 0, false
	}
	return pivot, true
}

// snapCapable reports whether p serves snap/1, once identify has told us
// its protocols.
func (s *Service) snapCapable(ctx context.Context, p peer.ID) bool {
	if ids, ok := s.host.(interface{ IDService() identify.IDService }); ok {
		if conns := s.host.Network().ConnsToPeer(p); len(conns) > 0 {
			t := time.NewTimer(snapIdentifyWait)
			select {
			case <-ids.IDService().IdentifyWait(conns[0]):
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
	protos, err := s.host.Peerstore().SupportsProtocols(p, s.snapProto)
	return err == nil && len(protos) > 0
}

// trySnap runs a snap session with p when one is wanted and reports
// whether it did; the caller runs the range sync when it did not.
func (s *Service) trySnap(p peer.ID, target *statusMsg, unserved bool) bool {
	pivot, ok := s.snapPivot(target, unserved)
	if !ok {
		return false
	}
	if !s.snapCapable(s.ctx, p) {
		s.log.Info("Best peer does not serve snap sync; syncing in full from it", "peer", p)
		return false
	}
	progress, err := s.snapFrom(s.ctx, p, target, pivot)
	if s.ctx.Err() != nil {
		return true
	}
	if errors.Is(err, errSnapFork) {
		s.log.Info("Snap sync: our head is not on the peer's chain; syncing in full from it", "peer", p, "err", err)
		return false
	}
	s.judgeSnap(p, progress, err)
	return true
}

// judgeSnap weighs a finished snap session as judgeSync weighs a range
// sync, and turns snap off after maxSnapFailures failures in a row.
func (s *Service) judgeSnap(p peer.ID, progress int, err error) {
	if err == nil {
		s.snapFailures = 0
		s.peers.clearSyncStrikes(p)
		return
	}
	s.snapFailures++
	switch {
	case errors.Is(err, errSnapRefused): // a liar is banned already
	case errors.Is(err, errSnapUnverified):
		// Nobody to blame: the old blocks are not served whole. Counted as
		// a failure, so that full sync takes over after maxSnapFailures.
		s.log.Info("Snap sync: no peer serves the blocks its seal samples need", "peer", p, "err", err)
		s.peers.holdSync(p, s.cfg.syncFailCooldown)
	default:
		s.judgeSync(p, progress, err)
	}
	if s.snapFailures >= maxSnapFailures {
		s.snapOff.Store(true)
		s.log.Warn("Snap sync failed too often; falling back to full sync from genesis", "failures", s.snapFailures, "err", err)
	}
}

// banLiar drops a peer that served a piece we did not ask for or that the
// chain refused: it proves the peer lies, as an invalid block does.
func (s *Service) banLiar(p peer.ID, what string, err error) error {
	s.log.Warn("Peer served invalid snap data; dropping it", "peer", p, "what", what, "err", err)
	s.rep.penalise(p, syncRulePenalty)
	s.rep.ban(p, banDuration)
	s.peers.clearSyncStrikes(p)
	s.peers.remove(p) // not picked again before the disconnect is noticed
	s.host.Network().ClosePeer(p)
	if errors.Is(err, errSnapRefused) {
		return fmt.Errorf("%s from %s: %w", what, p, err)
	}
	return fmt.Errorf("%s from %s: %w: %w", what, p, errSnapRefused, err)
}

// snapBlame sorts a failed fetch: a piece we did not ask for bans p;
// other bad responses lower its score.
func (s *Service) snapBlame(p peer.ID, what string, err error) error {
	if errors.Is(err, errSnapRefused) {
		return s.banLiar(p, what, err)
	}
	return s.blameResponse(p, err)
}

// snapFrom snap syncs from p to a pivot below target's head and makes the
// pivot our head. progress counts the pieces it stored (headers, nodes, job
// txs, checkpoints); a watchdog abandons the session once syncStall passes
// without one.
func (s *Service) snapFrom(ctx context.Context, p peer.ID, target *statusMsg, pivot uint64) (progress int, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(s.cfg.syncStall, func() { cancel(errSyncStalled) })
	defer stall.Stop()
	s.syncProgressAt.Store(0)
	s.syncing.Store(true)
	s.syncHighest.Store(target.Number)
	defer func() {
		s.syncing.Store(false)
		s.syncHighest.Store(0)
		if err != nil && errors.Is(context.Cause(ctx), errSyncStalled) {
			s.syncAbandoned.Add(1)
			err = fmt.Errorf("%w (%v without a new piece from %s): %w", errSyncStalled, s.cfg.syncStall, p, err)
		}
	}()
	advance := func(n int) {
		if n > 0 {
			progress += n
			s.syncProgressAt.Store(time.Now().UnixNano())
			stall.Reset(s.cfg.syncStall)
		}
	}
	head := s.chain.CurrentBlock()
	s.log.Info("Snap sync started", "peer", p, "from", head.Number(), "pivot", pivot, "target", target.Number)
	sp := newSnapProgress(s, p, pivot)

	top, err := s.snapHeaders(ctx, p, head.Header, pivot, advance, sp)
	if err != nil {
		return progress, err
	}
	st, err := s.snapStart(ctx, p, top)
	if err != nil {
		return progress, err
	}
	defer func() {
		if err != nil {
			st.Flush() // what it took is verified: the next attempt keeps it
		}
	}()

	// Trie nodes, then (once every node is in) job programs and checkpoints.
	repivots, flushed := 0, 0
	for {
		want := st.MissingNodes(maxSnapNodes)
		if len(want) == 0 {
			break
		}
		blobs, err := s.fetchSnapBlobs(ctx, p, snapNodes, want)
		if err != nil {
			return progress, s.snapBlame(p, "trie nodes", err)
		}
		if len(blobs) == 0 {
			// It no longer has the pivot's state (pruned as its head
			// moved on), or never had it: move the pivot up.
			if repivots >= maxSnapRepivots {
				return progress, fmt.Errorf("trie nodes at pivot %d from %s: %w", top.Number, p, errSnapNoData)
			}
			repivots++
			if err := st.Flush(); err != nil {
				return progress, fmt.Errorf("%w: flush: %w", errLocalImport, err)
			}
			nt, nst, err := s.snapRepivot(ctx, p, top, advance, sp)
			if err != nil {
				return progress, err
			}
			top, st = nt, nst
			continue
		}
		for _, b := range blobs {
			if err := st.AddNode(b); err != nil {
				return progress, s.banLiar(p, "trie node", err)
			}
		}
		advance(len(blobs))
		if flushed += len(blobs); flushed >= snapFlushNodes {
			if err := st.Flush(); err != nil {
				return progress, fmt.Errorf("%w: flush: %w", errLocalImport, err)
			}
			flushed = 0
		}
		sp.nodes(st)
	}
	// The chain reads the pending jobs from the stored trie.
	if err := st.Flush(); err != nil {
		return progress, fmt.Errorf("%w: flush: %w", errLocalImport, err)
	}
	for {
		ids := st.MissingJobs()
		if len(ids) == 0 {
			break
		}
		txs, err := s.fetchSnapJobTxs(ctx, p, ids[:min(len(ids), maxSnapJobTxs)])
		if err != nil {
			return progress, s.snapBlame(p, "job txs", err)
		}
		if len(txs) == 0 {
			return progress, fmt.Errorf("job txs from %s: %w", p, errSnapNoData)
		}
		for _, tx := range txs {
			if err := st.AddJobTx(tx); err != nil {
				return progress, s.banLiar(p, "job tx", err)
			}
		}
		advance(len(txs))
	}
	for {
		roots := st.MissingCheckpoints()
		if len(roots) == 0 {
			break
		}
		states, err := s.fetchSnapBlobs(ctx, p, snapCheckpoints, roots[:min(len(roots), maxSnapCheckpoints)])
		if err != nil {
			return progress, s.snapBlame(p, "checkpoints", err)
		}
		if len(states) == 0 {
			return progress, fmt.Errorf("checkpoints from %s: %w", p, errSnapNoData)
		}
		for _, state := range states {
			if err := st.AddCheckpoint(state); err != nil {
				return progress, s.banLiar(p, "checkpoint", err)
			}
		}
		advance(len(states))
	}
	if err := st.Flush(); err != nil {
		return progress, fmt.Errorf("%w: flush: %w", errLocalImport, err)
	}
	if !st.Done() {
		return progress, fmt.Errorf("%w: snap state at pivot %d not done with nothing missing", errLocalImport, top.Number)
	}
	if err := st.Finish(); err != nil {
		return progress, fmt.Errorf("%w: finish at pivot %d: %w", errLocalImport, top.Number, err)
	}
	s.snapPivotDone.Store(top.Number)
	sp.done(top, st)
	return progress, nil
}

// snapHeaders fetches and stores the headers above from up to pivot and
// returns the one at pivot. Every batch starts with the last header we
// have, so each links to what is stored.
func (s *Service) snapHeaders(ctx context.Context, p peer.ID, from *types.Header, pivot uint64, advance func(int), sp *snapProgress) (*types.Header, error) {
	last := from
	for last.Number < pivot {
		hs, err := s.fetchSnapHeaders(ctx, p, last.Number, min(pivot-last.Number+1, maxSnapHeaders))
		if err != nil {
			return nil, s.blameResponse(p, err)
		}
		switch {
		case len(hs) == 0 && last == from:
			return nil, fmt.Errorf("headers from %s: %w (it serves no header %d)", p, errSnapNoData, last.Number)
		case len(hs) == 0 || hs[0].Hash() != last.Hash():
			if last == from {
				return nil, fmt.Errorf("%w (header %d: ours %s)", errSnapFork, last.Number, last.Hash())
			}
			return nil, fmt.Errorf("headers from %s: %w", p, errPeerReorg)
		case len(hs) == 1:
			return nil, fmt.Errorf("headers from %s: %w (its chain ends at %d, below the pivot %d)", p, errSnapNoData, last.Number, pivot)
		}
		err = s.snap.InsertSnapHeaders(hs[1:])
		var want *chain.SnapSealsWanted
		if errors.As(err, &want) {
			seals, serr := s.snapSealPieces(ctx, p, want.Headers, advance)
			if serr != nil {
				return nil, serr
			}
			err = s.snap.InsertSnapHeaders(hs[1:], seals...)
		}
		if err != nil {
			if chain.IsRuleError(err) {
				return nil, s.banLiar(p, "headers", err)
			}
			return nil, fmt.Errorf("headers %d–%d: %w: %w", hs[1].Number, hs[len(hs)-1].Number, errLocalImport, err)
		}
		advance(len(hs) - 1)
		last = hs[len(hs)-1]
		sp.headers(last.Number)
	}
	return last, nil
}

// snapStart fetches the pivot block over sync/1 and starts a SnapState on it.
func (s *Service) snapStart(ctx context.Context, p peer.ID, pivot *types.Header) (*chain.SnapState, error) {
	blocks, err := s.fetchBlocks(ctx, p, pivot.Number, 1)
	if err != nil {
		return nil, s.blameResponse(p, err)
	}
	if len(blocks) != 1 || blocks[0].Hash() != pivot.Hash() {
		return nil, fmt.Errorf("pivot block %d from %s: %w", pivot.Number, p, errPeerReorg)
	}
	st, err := s.snap.NewSnapState(blocks[0])
	if err != nil {
		if chain.IsRuleError(err) {
			return nil, s.banLiar(p, "pivot block", err)
		}
		return nil, fmt.Errorf("%w: snap state at pivot %d: %w", errLocalImport, pivot.Number, err)
	}
	return st, nil
}

// snapRepivot asks p for its status again and moves the pivot up to its
// head − snapPivotDepth: headers, pivot block and a new SnapState (which
// keeps the nodes already stored).
func (s *Service) snapRepivot(ctx context.Context, p peer.ID, top *types.Header, advance func(int), sp *snapProgress) (*types.Header, *chain.SnapState, error) {
	if err := s.requestStatus(ctx, p); err != nil {
		return nil, nil, fmt.Errorf("status from %s: %w", p, err)
	}
	st := s.peers.status(p)
	if st == nil || st.Number < top.Number+snapPivotDepth+1 {
		return nil, nil, fmt.Errorf("trie nodes at pivot %d from %s: %w (and its head did not move on)", top.Number, p, errSnapNoData)
	}
	pivot := max(st.Number-snapPivotDepth, st.OldestFull)
	s.log.Info("Snap sync moves its pivot up", "peer", p, "from", top.Number, "to", pivot)
	sp.pivot = pivot
	nt, err := s.snapHeaders(ctx, p, top, pivot, advance, sp)
	if err != nil {
		return nil, nil, err
	}
	nst, err := s.snapStart(ctx, p, nt)
	if err != nil {
		return nil, nil, err
	}
	return nt, nst, nil
}

// status is p's last status, or nil.
func (ps *peerSet) status(p peer.ID) *statusMsg {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if pi := ps.m[p]; pi != nil {
		return pi.status
	}
	return nil
}

// snapProgress logs a snap session at a steady rhythm: headers, then trie
// nodes done and pending with their rate.
type snapProgress struct {
	s        *Service
	peer     peer.ID
	pivot    uint64
	start    time.Time
	last     time.Time
	lastDone int
}

func newSnapProgress(s *Service, p peer.ID, pivot uint64) *snapProgress {
	now := time.Now()
	return &snapProgress{s: s, peer: p, pivot: pivot, start: now, last: now}
}

func (sp *snapProgress) headers(n uint64) {
	if time.Since(sp.last) < syncLogInterval {
		return
	}
	sp.s.log.Info("Snap syncing headers", "header", n, "pivot", sp.pivot, "peer", sp.peer)
	sp.last = time.Now()
}

func (sp *snapProgress) nodes(st *chain.SnapState) {
	done, pending := st.Progress()
	now := time.Now()
	elapsed := now.Sub(sp.last)
	if elapsed < syncLogInterval {
		return
	}
	rate := float64(done-sp.lastDone) / elapsed.Seconds()
	sp.s.log.Info("Snap syncing state", "nodes", done, "pending", pending,
		"nodes/s", fmt.Sprintf("%.0f", rate), "pivot", sp.pivot, "peer", sp.peer)
	sp.last, sp.lastDone = now, done
}

func (sp *snapProgress) done(pivot *types.Header, st *chain.SnapState) {
	nodes, _ := st.Progress()
	sp.s.log.Info("Snap sync finished", "peer", sp.peer, "pivot", pivot.Number, "hash", pivot.Hash(),
		"stateRoot", pivot.StateRoot, "nodes", nodes, "elapsed", time.Since(sp.start).Round(time.Millisecond))
}

// servingWhole lists the peers whose status says they serve canonical block
// n whole, first among them if it does.
func (ps *peerSet) servingWhole(n uint64, first peer.ID) []peer.ID {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []peer.ID
	for id, pi := range ps.m {
		if st := pi.status; st != nil && st.Number >= n && st.serves(n) {
			if id == first {
				out = append([]peer.ID{id}, out...)
			} else {
				out = append(out, id)
			}
		}
	}
	return out
}

// connected lists the peers with a status, first among them first.
func (ps *peerSet) connected(first peer.ID) []peer.ID {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := []peer.ID{first}
	for id, pi := range ps.m {
		if id != first && pi.status != nil {
			out = append(out, id)
		}
	}
	return out
}

// snapSealPieces fetches and checks what the seals of the sampled job-work
// headers hs (from p) need.
func (s *Service) snapSealPieces(ctx context.Context, p peer.ID, hs []*types.Header, advance func(int)) ([]*chain.SnapSealPieces, error) {
	out := make([]*chain.SnapSealPieces, 0, len(hs))
	for _, h := range hs {
		pc, err := s.snapSealFor(ctx, p, h)
		if err != nil {
			return nil, err
		}
		// Each verified seal is progress (it cost its sealer real work), so
		// a run of many job-work headers on a slow link is not taken for a
		// stall while their blocks come in one by one.
		advance(1)
		out = append(out, pc)
	}
	return out, nil
}

// snapSealFor checks the seal of h, a header p sent, with its block from a
// peer q that serves it whole, its job tx from q or any peer, and when
// needed its start state from q. A body or job tx that fails its binding
// bans its sender; a seal that fails on bound pieces bans q (it claims to
// have imported the block) and p (it sent the header): the session fails.
// A seal that fails on a start state q supplied bans q only, and the next
// peer is tried. With no peer left: errSnapUnverified, nobody banned.
func (s *Service) snapSealFor(ctx context.Context, p peer.ID, h *types.Header) (*chain.SnapSealPieces, error) {
	id := h.Seal.Work.JobID
	for _, q := range s.peers.servingWhole(h.Number, p) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.rep.isBanned(q) {
			continue
		}
		blocks, err := s.fetchBlocks(ctx, q, h.Number, 1)
		if err != nil {
			s.blameResponse(q, err)
			continue
		}
		if len(blocks) != 1 || blocks[0].Hash() != h.Hash() {
			continue // another chain, or a reorg: not a lie
		}
		tx, err := s.snapJobTx(ctx, p, q, id)
		if err != nil {
			return nil, err
		}
		if tx == nil {
			break // nobody has it: another q would not either
		}
		pc := &chain.SnapSealPieces{Block: blocks[0], JobTx: tx}
		if s.snap.SnapNeedsTrainStart(h, pc.Block, tx) {
			states, err := s.fetchSnapTrainStart(ctx, q, h.Number, id)
			if err != nil {
				// A server older than kind 4 resets the stream: as none.
				if err := s.snapBlame(q, "train start", err); q == p && errors.Is(err, errSnapRefused) {
					return nil, err
				}
				continue
			}
			if len(states) == 0 {
				continue
			}
			pc.TrainStart = states[0]
		}
		err = s.snap.VerifySnapSeal(h, pc)
		switch {
		case err == nil:
			return pc, nil
		case errors.Is(err, chain.ErrSnapNotThisBlock):
			continue
		case !chain.IsRuleError(err):
			return nil, fmt.Errorf("%w: seal check of header %d: %w", errLocalImport, h.Number, err)
		}
		code := chain.RuleCodeOf(err)
		bodyLie := code != chain.ErrBadSeal && code != chain.ErrBadJob
		startLie := errors.Is(err, chain.ErrSnapTrainStart)
		banErr := s.banLiar(q, fmt.Sprintf("block %d for a sampled seal", h.Number), err)
		if q == p {
			return nil, banErr
		}
		if bodyLie || startLie {
			continue
		}
		return nil, s.banLiar(p, "headers", err)
	}
	return nil, fmt.Errorf("header %d (job %s) from %s: %w", h.Number, id.TerminalString(), p, errSnapUnverified)
}

// snapJobTx fetches job tx id from q, then from the other peers; nil if
// none has it. A tx that does not hash to id bans its sender.
func (s *Service) snapJobTx(ctx context.Context, p, q peer.ID, id common.Hash) (*types.Tx, error) {
	for _, r := range s.peers.connected(q) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.rep.isBanned(r) {
			continue
		}
		txs, err := s.fetchSnapJobTxs(ctx, r, []common.Hash{id})
		if err != nil {
			if err := s.snapBlame(r, "job tx", err); r == p && errors.Is(err, errSnapRefused) {
				return nil, err
			}
			continue
		}
		if len(txs) == 1 {
			return txs[0], nil
		}
	}
	return nil, nil
}

func (s *Service) fetchSnapTrainStart(ctx context.Context, p peer.ID, n uint64, id common.Hash) ([][]byte, error) {
	req := &snapRequest{Kind: snapTrainStart, From: n, Hashes: []common.Hash{id}}
	frames, err := s.fetchSnap(ctx, p, req)
	if err != nil {
		return nil, err
	}
	return decodeSnapBlobs(frames, req, false, snapBlobCap(snapTrainStart, s.caps))
}
