package p2p

import (
	"bufio"
	"context"
	"time"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func (s *Service) localStatus() *statusMsg {
	head := s.chain.CurrentBlock()
	st := &statusMsg{Genesis: s.chain.Genesis().Hash(), Number: head.Number(), Head: head.Hash(), TD: s.currentTD()}
	// Read after the head: a snap sync stores its pivot before it moves
	// the head, so a head past the pivot never goes out with oldest 0.
	if s.part != nil {
		st.OldestFull = s.part.OldestFullBlock()
	}
	return st
}

// currentTD is the chain's total difficulty, never nil.
func (s *Service) currentTD() *uint256.Int {
	if td := s.chain.CurrentTD(); td != nil {
		return td.Clone()
	}
	return new(uint256.Int)
}

// handleStatus answers a peer's status with ours: read theirs, write ours.
func (s *Service) handleStatus(st network.Stream) {
	if !s.enter() {
		st.Reset()
		return
	}
	defer s.wg.Done()
	defer st.Close()
	st.SetDeadline(time.Now().Add(statusTimeout))
	raw, err := readFrame(bufio.NewReader(st), maxSmallFrame)
	if err != nil {
		st.Reset()
		return
	}
	theirs, err := decodeStatus(raw)
	if err != nil {
		s.log.Debug("Bad status", "peer", st.Conn().RemotePeer(), "err", err)
		st.Reset()
		return
	}
	ours, err := rlp.EncodeToBytes(s.localStatus())
	if err != nil || writeFrame(st, ours) != nil {
		st.Reset()
		return
	}
	s.onStatus(st.Conn().RemotePeer(), theirs)
}

// requestStatus sends our status to p and records the answer.
func (s *Service) requestStatus(ctx context.Context, p peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	st, err := s.host.NewStream(ctx, p, s.statusProto)
	if err != nil {
		return err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	st.SetDeadline(time.Now().Add(statusTimeout))
	ours, err := rlp.EncodeToBytes(s.localStatus())
	if err != nil {
		return err
	}
	if err := writeFrame(st, ours); err != nil {
		st.Reset()
		return err
	}
	st.CloseWrite()
	raw, err := readFrame(bufio.NewReader(st), maxSmallFrame)
	if err != nil {
		st.Reset()
		return err
	}
	theirs, err := decodeStatus(raw)
	if err != nil {
		st.Reset()
		return err
	}
	s.onStatus(p, theirs)
	return nil
}

// onStatus records a peer's head, drops peers of another chain, and wakes
// the syncer when the peer is heavier than us.
func (s *Service) onStatus(p peer.ID, st *statusMsg) {
	if g := s.chain.Genesis().Hash(); st.Genesis != g {
		s.log.Info("Dropping peer on another chain", "peer", p, "genesis", st.Genesis, "ours", g)
		s.rep.ban(p, banDuration)
		s.peers.remove(p)
		s.host.Network().ClosePeer(p)
		return
	}
	if s.host.Network().Connectedness(p) != network.Connected {
		return
	}
	s.peers.setStatus(p, st)
	if st.TD.Cmp(s.currentTD()) > 0 {
		s.requestSync()
	}
}

// askStatus refreshes p's status in the background, at most once a second;
// gossip calls it when p sent a block whose parent we lack.
func (s *Service) askStatus(p peer.ID) {
	if !s.peers.shouldAsk(p, statusRequestMinGap) {
		return
	}
	s.spawn(func() {
		if err := s.requestStatus(s.ctx, p); err != nil {
			s.log.Debug("Status request", "peer", p, "err", err)
		}
	})
}

func (s *Service) onConnected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	if c.Stat().Direction != network.DirOutbound {
		return // the dialer opens the status exchange; we learn theirs in handleStatus
	}
	s.spawn(func() {
		if err := s.requestStatus(s.ctx, p); err != nil {
			s.log.Debug("Status handshake", "peer", p, "err", err)
		}
	})
}

func (s *Service) onDisconnected(n network.Network, c network.Conn) {
	p := c.RemotePeer()
	if n.Connectedness(p) != network.Connected {
		s.peers.remove(p)
	}
}

// statusLoop polls every peer's status: it is how we notice a heavier
// chain that gossip did not bring us.
func (s *Service) statusLoop() {
	t := time.NewTicker(s.cfg.statusInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range s.host.Network().Peers() {
			s.spawn(func() {
				if err := s.requestStatus(s.ctx, p); err != nil {
					s.log.Debug("Status poll", "peer", p, "err", err)
				}
			})
		}
	}
}

func (s *Service) requestSync() {
	select {
	case s.syncReq <- struct{}{}:
	default:
	}
}

// mdnsNotifee connects to peers found on the LAN.
type mdnsNotifee struct{ s *Service }

func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	s := n.s
	if ai.ID == s.id {
		return
	}
	s.spawn(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		if err := s.host.Connect(ctx, ai); err != nil {
			s.log.Debug("mDNS peer dial", "peer", ai.ID, "err", err)
		}
	})
}

// keepBootnode dials a bootnode and redials it whenever the connection is
// lost, backing off exponentially while it is unreachable.
func (s *Service) keepBootnode(ai peer.AddrInfo) {
	s.host.ConnManager().Protect(ai.ID, "bootnode")
	backoff := s.cfg.bootnodeBackoff
	wait := time.Duration(0)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		if s.host.Network().Connectedness(ai.ID) == network.Connected {
			backoff, wait = s.cfg.bootnodeBackoff, s.cfg.bootnodeBackoff
			continue
		}
		// Our own backoff paces the dials, so skip the swarm's.
		ctx, cancel := context.WithTimeout(network.WithForceDirectDial(s.ctx, "bootnode"), 10*time.Second)
		err := s.host.Connect(ctx, ai)
		cancel()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.log.Debug("Bootnode unreachable", "peer", ai.ID, "retry", backoff, "err", err)
			wait, backoff = backoff, min(2*backoff, maxBootnodeBackoff)
			continue
		}
		s.log.Info("Connected to bootnode", "peer", ai.ID)
		backoff, wait = s.cfg.bootnodeBackoff, s.cfg.bootnodeBackoff
	}
}
