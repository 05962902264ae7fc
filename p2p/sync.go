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
)

// handleSync serves one range request: up to min(Count, 64) canonical blocks
// from FromNumber, fewer if the byte cap is reached or our chain ends.
func (s *Service) handleSync(st network.Stream) {
	if !s.enter() {
		st.Reset()
		return
	}
	defer s.wg.Done()
	defer st.Close()
	stop := context.AfterFunc(s.ctx, func() { st.Reset() })
	defer stop()

	st.SetReadDeadline(time.Now().Add(syncReadTimeout))
	raw, err := readFrame(bufio.NewReader(st), maxSmallFrame)
	if err != nil {
		st.Reset()
		return
	}
	req, err := decodeSyncRequest(raw)
	if err != nil {
		s.log.Debug("Bad sync request", "peer", st.Conn().RemotePeer(), "err", err)
		st.Reset()
		return
	}
	st.SetWriteDeadline(time.Now().Add(syncFetchTimeout))
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

// syncLoop runs one sync at a time, always from the heaviest peer we know.
func (s *Service) syncLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.syncReq:
		}
		for s.ctx.Err() == nil {
			p, st := s.peers.best(s.currentTD())
			if st == nil {
				break
			}
			if s.trySnap(p, st) {
				continue
			}
			imported, err := s.syncFrom(s.ctx, p, st)
			if s.ctx.Err() != nil {
				return
			}
			s.judgeSync(p, imported, err)
		}
	}
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
	if strikes < maxSyncStrikes || !s.peers.claimsMore(p, s.currentTD()) {
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
	// exponentially. One-block probes keep the search cheap.
	from := min(head.Number(), target.Number) + 1
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
		if from <= 1 {
			// Even block 1 does not build on our genesis, or it has none.
			s.rep.ban(p, banDuration)
			s.host.Network().ClosePeer(p)
			if len(blocks) == 0 {
				return 0, fmt.Errorf("%w (it serves no block 1, yet its status claims head %d)", errNoAncestor, target.Number)
			}
			return 0, fmt.Errorf("%w (its block 1 is not a child of our genesis)", errNoAncestor)
		}
		from -= min(step, from-1)
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
