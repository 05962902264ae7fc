package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

var (
	errNoAncestor = errors.New("no common ancestor with peer")
	errPeerReorg  = errors.New("peer's chain changed during sync")
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
		if err != nil || len(enc) > MaxBlockSize {
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

// fetchBlocks asks p for the canonical blocks from, from+1, ...
func (s *Service) fetchBlocks(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Block, error) {
	ctx, cancel := context.WithTimeout(ctx, syncFetchTimeout)
	defer cancel()
	st, err := s.host.NewStream(ctx, p, s.syncProto)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	st.SetDeadline(time.Now().Add(syncFetchTimeout))

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
	blocks, err := readSyncResponse(bufio.NewReaderSize(st, 64<<10), req)
	if err != nil {
		st.Reset()
		return nil, err
	}
	return blocks, nil
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
			before := s.chain.CurrentBlock().Hash()
			err := s.syncFrom(s.ctx, p, st)
			if s.ctx.Err() != nil {
				return
			}
			progressed := s.chain.CurrentBlock().Hash() != before
			switch {
			case err != nil && !(errors.Is(err, errPeerReorg) && progressed):
				s.log.Warn("Sync failed", "peer", p, "err", err)
				s.peers.markSyncFailed(p)
			case !progressed:
				// The peer claims more work than it served: try others first.
				s.peers.markSyncFailed(p)
			}
		}
	}
}

// syncFrom finds the last block we share with p and imports p's canonical
// chain from there, batch by batch, until p has nothing more to give.
func (s *Service) syncFrom(ctx context.Context, p peer.ID, target *statusMsg) error {
	s.syncing.Store(true)
	s.syncHighest.Store(target.Number)
	defer func() {
		s.syncing.Store(false)
		s.syncHighest.Store(0) // from now on the peers' statuses tell the highest
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
			return s.blameResponse(p, err)
		}
		if len(blocks) > 0 && s.chain.HasBlock(blocks[0].ParentHash()) {
			batch = blocks
			break
		}
		if from <= 1 {
			// Even block 1 does not build on our genesis.
			s.rep.ban(p, banDuration)
			s.host.Network().ClosePeer(p)
			return fmt.Errorf("%w (its block 1 is not a child of our genesis)", errNoAncestor)
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
			if err := s.importBlock(p, b); err != nil {
				return err
			}
			progress.imported(b)
		}
		last := batch[len(batch)-1]
		next, err := s.fetchBlocks(ctx, p, last.Number()+1, maxSyncBlocks)
		if err != nil {
			return s.blameResponse(p, err)
		}
		if len(next) > 0 && next[0].ParentHash() != last.Hash() {
			return errPeerReorg // it will be heavier still; the next round resumes
		}
		batch = next
	}
	progress.done()
	return nil
}

func (s *Service) importBlock(p peer.ID, b *types.Block) error {
	err := s.chain.InsertBlock(b)
	switch {
	case err == nil, errors.Is(err, chain.ErrKnownBlock):
		return nil
	case chain.IsRuleError(err):
		s.log.Warn("Peer served an invalid block; dropping it", "peer", p, "number", b.Number(), "hash", b.Hash(), "err", err)
		s.rep.penalise(p, syncRulePenalty)
		s.rep.ban(p, banDuration)
		s.host.Network().ClosePeer(p)
		return fmt.Errorf("block %d: %w", b.Number(), err)
	default:
		// Future blocks, local failures: not the peer's fault.
		return fmt.Errorf("block %d: %w", b.Number(), err)
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
