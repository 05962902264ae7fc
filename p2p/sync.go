package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

var (
	errNoAncestor  = errors.New("no common ancestor with peer")
	errPeerReorg   = errors.New("peer's chain changed during sync")
	errSyncStalled = errors.New("sync stalled: no new block in time")
	errLocalImport = errors.New("local import failure") // not the peer's fault
	// errNotServed: the peer does not serve the blocks we need whole (it
	// started from a snap sync, or pruned their result data); not a lie.
	errNotServed = errors.New("peer does not serve the blocks we need")
)

// unservedLogInterval spaces the warning that no peer serves our next block.
const unservedLogInterval = time.Minute

// handleSync serves one range request: up to min(Count, 64) canonical blocks
// from FromNumber, fewer if the byte cap is reached, our chain ends, or we
// reach a block we do not hold whole (no body below a snap pivot, or result
// data pruned): the peer would reject it, and blame us.
func (s *Service) handleSync(st network.Stream) {
	if !s.enter() {
		st.Reset()
		return
	}
	defer s.wg.Done()
	defer st.Close()
	stop := context.AfterFunc(s.ctx, func() { st.Reset() })
	defer stop()

	req, ok := readRequest(s, st, maxSmallFrame, "sync", decodeSyncRequest)
	if !ok {
		return
	}
	w := bufio.NewWriterSize(st, 64<<10)
	var (
		prev  *types.Block
		total int
	)
	for i := range min(req.Count, maxSyncBlocks) {
		n := req.FromNumber + i
		if n < req.FromNumber || s.ctx.Err() != nil {
			break // overflow, or stopping
		}
		b := s.chain.GetBlockByNumber(n)
		// A reorg while we serve may swap the canonical chain: stop at the seam
		// rather than send blocks that do not link.
		if b == nil || (prev != nil && b.ParentHash() != prev.Hash()) {
			break
		}
		if s.part != nil && s.part.ResultsPruned(b.Hash()) {
			break
		}
		enc, err := rlp.EncodeToBytes(b)
		if err != nil || len(enc) > s.caps.block {
			break
		}
		if prev != nil && total+len(enc) > maxSyncResponseBytes {
			break
		}
		if err := writeFrame(w, enc); err != nil {
			st.Reset()
			return
		}
		total += len(enc)
		prev = b
	}
	if err := w.Flush(); err != nil {
		st.Reset()
	}
}

// fetchBlocks asks p for the canonical blocks from, from+1, ... The answer
// must start within syncFirstByte and end within syncFetchTimeout.
func (s *Service) fetchBlocks(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Block, error) {
	deadline := time.Now().Add(syncFetchTimeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	st, err := s.host.NewStream(ctx, p, s.syncProto)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	st.SetDeadline(deadline)

	req := syncRequest{FromNumber: from, Count: count}
	enc, err := rlp.EncodeToBytes(&req)
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
	blocks, err := readSyncResponse(bufio.NewReaderSize(first, 64<<10), req, s.caps.block)
	if err != nil {
		st.Reset()
		return nil, err
	}
	return blocks, nil
}

// firstByteReader calls onFirst once, when the first bytes arrive.
type firstByteReader struct {
	r       io.Reader
	onFirst func()
}

func (f *firstByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && f.onFirst != nil {
		f.onFirst()
		f.onFirst = nil
	}
	return n, err
}

// readRequest reads and decodes the one request frame of a served stream
// (at most maxBytes; what names the protocol in the log), then starts the
// answer's deadline. false: the request was bad and the stream is reset.
func readRequest[R any](s *Service, st network.Stream, maxBytes int, what string, decode func([]byte) (R, error)) (R, bool) {
	st.SetReadDeadline(time.Now().Add(syncReadTimeout))
	raw, err := readFrame(bufio.NewReader(st), maxBytes)
	if err != nil {
		st.Reset()
		var zero R
		return zero, false
	}
	req, err := decode(raw)
	if err != nil {
		s.log.Debug("Bad "+what+" request", "peer", st.Conn().RemotePeer(), "err", err)
		st.Reset()
		return req, false
	}
	st.SetWriteDeadline(time.Now().Add(syncFetchTimeout))
	return req, true
}

// syncLoop runs one sync at a time: a snap sync from the heaviest peer we
// know when one is wanted, else a range sync from the heaviest that serves
// the blocks we need whole. When none does, it snap syncs if it may, else it
// says so and waits for the next status.
func (s *Service) syncLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.syncReq:
		}
		for s.ctx.Err() == nil {
			td := s.currentTD()
			p, st := s.peers.best(td)
			if st == nil {
				break
			}
			if s.trySnap(p, st, false) {
				continue
			}
			head := s.chain.CurrentBlock().Number()
			rp, rst := s.peers.bestWhere(td, func(st *statusMsg) bool { return st.serves(syncStart(head, st)) })
			if rst == nil {
				if s.trySnap(p, st, true) {
					continue
				}
				s.logUnserved(head+1, p, st)
				break
			}
			imported, err := s.syncFrom(s.ctx, rp, rst)
			if s.ctx.Err() != nil {
				return
			}
			s.judgeSync(rp, imported, err)
		}
	}
}

// syncStart is the first block a range sync towards target asks for.
func syncStart(head uint64, target *statusMsg) uint64 { return min(head, target.Number) + 1 }

// logUnserved warns, once a minute per block, that no peer heavier than us
// serves block from whole, and what to do about it.
func (s *Service) logUnserved(from uint64, best peer.ID, st *statusMsg) {
	if from == s.unservedFrom && time.Since(s.unservedAt) < unservedLogInterval {
		return
	}
	s.unservedFrom, s.unservedAt = from, time.Now()
	hint := "start with --sync.mode snap or connect an archive node"
	if s.cfg.SnapSync {
		hint = "snap sync is not possible from them (see above); connect an archive node"
	}
	s.log.Warn(fmt.Sprintf("No peer serves blocks from %d: every peer started from a snap sync or pruned its result data; %s", from, hint),
		"best", best, "bestHead", st.Number, "bestServesFrom", st.OldestFull)
}

// judgeSync weighs a finished session with p. A session that imported no
// block we lacked from a peer whose status claims more work is a strike: it
// holds p back exponentially, and maxSyncStrikes in a row ban p, whose
// status claims work it cannot serve (lying, or broken).
func (s *Service) judgeSync(p peer.ID, imported int, err error) {
	switch {
	case imported > 0 && (err == nil || errors.Is(err, errPeerReorg)):
		s.peers.clearSyncStrikes(p) // a reorg: it is heavier still, go on at once
		return
	case imported == 0 && errors.Is(err, errNotServed):
		s.log.Info("Sync peer does not serve the blocks we need; trying others", "peer", p, "err", err)
		s.peers.holdSync(p, s.cfg.syncFailCooldown)
		return
	case imported > 0 || errors.Is(err, errLocalImport):
		s.log.Warn("Sync failed", "peer", p, "imported", imported, "err", err)
		s.peers.clearSyncStrikes(p)
		s.peers.holdSync(p, s.cfg.syncFailCooldown)
		return
	}
	strikes := s.peers.strikeSync(p, s.cfg.syncFailCooldown)
	if err == nil {
		err = errors.New("it served no block we lacked")
	}
	if strikes < maxSyncStrikes || !s.peers.claimsMore(p, s.currentTD(), s.chain.CurrentBlock().Number()) {
		s.log.Warn("Sync failed", "peer", p, "strikes", strikes, "err", err)
		return
	}
	s.log.Warn("Peer claims more work than it serves; banning it", "peer", p, "strikes", strikes, "err", err)
	s.rep.penalise(p, syncBadRespPenalty)
	s.rep.ban(p, banDuration)
	s.peers.clearSyncStrikes(p)
	s.host.Network().ClosePeer(p)
}

// syncFrom finds the last block we share with p and imports p's canonical
// chain from there, batch by batch, until p has nothing more to give. It
// returns how many blocks we lacked it imported. A watchdog abandons the
// session (request in flight included) once syncStall passes without one.
func (s *Service) syncFrom(ctx context.Context, p peer.ID, target *statusMsg) (imported int, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(s.cfg.syncStall, func() { cancel(errSyncStalled) })
	defer stall.Stop()
	s.syncProgressAt.Store(0) // nothing imported yet: SyncStatus does not say syncing
	s.syncing.Store(true)
	s.syncHighest.Store(target.Number)
	defer func() {
		s.syncing.Store(false)
		s.syncHighest.Store(0) // from now on the peers' statuses tell the highest
		if err != nil && errors.Is(context.Cause(ctx), errSyncStalled) {
			s.syncAbandoned.Add(1)
			err = fmt.Errorf("%w (%v without one from %s): %w", errSyncStalled, s.cfg.syncStall, p, err)
		}
	}()
	head := s.chain.CurrentBlock()
	s.log.Info("Sync started", "peer", p, "from", head.Number(), "target", target.Number, "targetHash", target.Head)

	// Find the common ancestor: try right above our head, then step back
	// exponentially, never below the first block p serves whole. One-block
	// probes keep the search cheap.
	floor := max(target.OldestFull, 1)
	from := syncStart(head.Number(), target)
	if from < floor {
		return 0, fmt.Errorf("%w: it serves blocks from %d, we need %d", errNotServed, floor, from)
	}
	count, step := uint64(maxSyncBlocks), uint64(1)
	var batch []*types.Block
	for {
		blocks, err := s.fetchBlocks(ctx, p, from, count)
		if err != nil {
			return 0, s.blameResponse(p, err)
		}
		if len(blocks) > 0 && s.chain.HasBlock(blocks[0].ParentHash()) {
			batch = blocks
			break
		}
		if from <= floor && floor > 1 {
			return 0, fmt.Errorf("%w: its chain from block %d does not build on ours", errNotServed, floor)
		}
		if from <= 1 {
			if len(blocks) == 0 && s.servesNoLonger(ctx, p, 1) {
				return 0, fmt.Errorf("%w: block 1 (its status changed)", errNotServed)
			}
			// Even block 1 does not build on our genesis, or it has none.
			s.rep.ban(p, banDuration)
			s.host.Network().ClosePeer(p)
			if len(blocks) == 0 {
				return 0, fmt.Errorf("%w (it serves no block 1, yet its status claims head %d)", errNoAncestor, target.Number)
			}
			return 0, fmt.Errorf("%w (its block 1 is not a child of our genesis)", errNoAncestor)
		}
		from -= min(step, from-floor)
		step *= 2
		count = 1
	}
	if from <= head.Number() {
		s.log.Info("Sync found common ancestor below our head", "peer", p, "ancestor", from-1, "head", head.Number())
	}

	progress := newSyncProgress(s, p, target.Number)
	for len(batch) > 0 {
		for _, b := range batch {
			isNew, err := s.importBlock(p, b)
			if err != nil {
				return imported, err
			}
			if isNew {
				imported++
				s.syncProgressAt.Store(time.Now().UnixNano())
				stall.Reset(s.cfg.syncStall)
			}
			progress.imported(b)
		}
		last := batch[len(batch)-1]
		next, err := s.fetchBlocks(ctx, p, last.Number()+1, maxSyncBlocks)
		if err != nil {
			return imported, s.blameResponse(p, err)
		}
		if len(next) > 0 && next[0].ParentHash() != last.Hash() {
			return imported, errPeerReorg // it will be heavier still; the next round resumes
		}
		batch = next
	}
	progress.done()
	return imported, nil
}

// servesNoLonger asks p for its status again and reports whether it now
// says it does not serve block n whole (it snap synced, or pruned since).
func (s *Service) servesNoLonger(ctx context.Context, p peer.ID, n uint64) bool {
	if s.requestStatus(ctx, p) != nil {
		return false
	}
	st := s.peers.status(p)
	return st != nil && !st.serves(n)
}

// importBlock inserts a block p served and reports whether we lacked it.
func (s *Service) importBlock(p peer.ID, b *types.Block) (bool, error) {
	err := s.chain.InsertBlock(b)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, chain.ErrKnownBlock):
		return false, nil
	case chain.IsRuleError(err):
		s.log.Warn("Peer served an invalid block; dropping it", "peer", p, "number", b.Number(), "hash", b.Hash(), "err", err)
		s.rep.penalise(p, syncRulePenalty)
		s.rep.ban(p, banDuration)
		s.host.Network().ClosePeer(p)
		return false, fmt.Errorf("block %d: %w", b.Number(), err)
	default:
		// Future blocks, local failures: not the peer's fault.
		return false, fmt.Errorf("block %d: %w: %w", b.Number(), errLocalImport, err)
	}
}

// blameResponse lowers the score of a peer whose response broke the
// protocol; transport errors are nobody's fault.
func (s *Service) blameResponse(p peer.ID, err error) error {
	if errors.Is(err, errBadResponse) {
		s.rep.penalise(p, syncBadRespPenalty)
	}
	return fmt.Errorf("fetch from %s: %w", p, err)
}

// syncProgress logs height, rate and ETA at a steady rhythm, in the manner
// of btcd's blocklogger.
type syncProgress struct {
	s        *Service
	peer     peer.ID
	target   uint64
	start    time.Time
	last     time.Time
	received int
	total    int
}

func newSyncProgress(s *Service, p peer.ID, target uint64) *syncProgress {
	now := time.Now()
	return &syncProgress{s: s, peer: p, target: target, start: now, last: now}
}

func (sp *syncProgress) imported(b *types.Block) {
	sp.received++
	sp.total++
	if b.Number() > sp.target {
		sp.target = b.Number()
		sp.s.syncHighest.Store(sp.target)
	}
	now := time.Now()
	elapsed := now.Sub(sp.last)
	if elapsed < syncLogInterval {
		return
	}
	rate := float64(sp.received) / elapsed.Seconds()
	var eta time.Duration
	if rate > 0 {
		eta = time.Duration(float64(sp.target-b.Number()) / rate * float64(time.Second))
	}
	sp.s.log.Info("Syncing", "height", b.Number(), "target", sp.target,
		"blocks/s", fmt.Sprintf("%.1f", rate), "eta", eta.Round(time.Second), "peer", sp.peer)
	sp.received, sp.last = 0, now
}

func (sp *syncProgress) done() {
	head := sp.s.chain.CurrentBlock()
	sp.s.log.Info("Sync finished", "peer", sp.peer, "imported", sp.total,
		"head", head.Number(), "hash", head.Hash(), "elapsed", time.Since(sp.start).Round(time.Millisecond))
}
