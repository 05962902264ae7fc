package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/rlp"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// Score thresholds: a few invalid blocks silence a peer's gossip, more
// graylist it. An invalid message costs invalidWeight × count².
const (
	invalidWeight      = -100
	gossipThreshold    = -500
	publishThreshold   = -1000
	graylistThreshold  = -2500
	syncRulePenalty    = 3000 // app-specific: a peer that synced us an invalid block
	syncBadRespPenalty = 50
)

func (s *Service) startGossip() error {
	gp := pubsub.DefaultGossipSubParams()
	if s.cfg.gossipHeartbeat > 0 {
		gp.HeartbeatInterval = s.cfg.gossipHeartbeat
	}
	topicScore := func(weight float64) *pubsub.TopicScoreParams {
		return &pubsub.TopicScoreParams{
			SkipAtomicValidation:           true,
			TopicWeight:                    weight,
			TimeInMeshWeight:               0.01,
			TimeInMeshQuantum:              time.Second,
			TimeInMeshCap:                  600,
			FirstMessageDeliveriesWeight:   1,
			FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
			FirstMessageDeliveriesCap:      50,
			InvalidMessageDeliveriesWeight: invalidWeight,
			InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
		}
	}
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	scores := &pubsub.PeerScoreParams{
		Topics: map[string]*pubsub.TopicScoreParams{
			s.blocksTopicName: topicScore(1),
			s.txsTopicName:    topicScore(0.5),
		},
		AppSpecificScore:            s.rep.score,
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -10,
		IPColocationFactorThreshold: 8,
		IPColocationFactorWhitelist: []*net.IPNet{loopback},
		DecayInterval:               pubsub.DefaultDecayInterval,
		DecayToZero:                 pubsub.DefaultDecayToZero,
		RetainScore:                 time.Hour,
	}
	thresholds := &pubsub.PeerScoreThresholds{
		GossipThreshold:             gossipThreshold,
		PublishThreshold:            publishThreshold,
		GraylistThreshold:           graylistThreshold,
		AcceptPXThreshold:           100,
		OpportunisticGraftThreshold: 5,
	}
	psCtx, psCancel := context.WithCancel(context.Background())
	s.psCancel = psCancel
	ps, err := pubsub.NewGossipSub(psCtx, s.host,
		pubsub.WithGossipSubParams(gp),
		pubsub.WithPeerScore(scores, thresholds),
		pubsub.WithMaxMessageSize(s.caps.message),
		// Our own blocks go to every peer, not just the mesh (which forms on
		// a heartbeat and may be empty just after we connect).
		pubsub.WithFloodPublish(true),
		// Content ids: the same block published by two nodes is one message.
		pubsub.WithMessageIdFn(func(m *pb.Message) string {
			h := sha256.Sum256(m.Data)
			return string(h[:])
		}),
		pubsub.WithLogger(s.log.With("sub", "pubsub")),
	)
	if err != nil {
		return fmt.Errorf("p2p: gossipsub: %w", err)
	}
	s.ps = ps

	if s.blocks, err = ps.Join(s.blocksTopicName); err != nil {
		return fmt.Errorf("p2p: join %s: %w", s.blocksTopicName, err)
	}
	if s.txs, err = ps.Join(s.txsTopicName); err != nil {
		return fmt.Errorf("p2p: join %s: %w", s.txsTopicName, err)
	}
	if err := ps.RegisterTopicValidator(s.blocksTopicName, pubsub.ValidatorEx(s.validateBlock),
		pubsub.WithValidatorConcurrency(32)); err != nil {
		return fmt.Errorf("p2p: block validator: %w", err)
	}
	if err := ps.RegisterTopicValidator(s.txsTopicName, pubsub.ValidatorEx(s.validateTx)); err != nil {
		return fmt.Errorf("p2p: tx validator: %w", err)
	}
	evh, err := s.txs.EventHandler()
	if err != nil {
		return fmt.Errorf("p2p: events of %s: %w", s.txsTopicName, err)
	}
	s.goLocked(func() {
		defer evh.Cancel()
		for {
			ev, err := evh.NextPeerEvent(s.ctx)
			if err != nil {
				return
			}
			if ev.Type == pubsub.PeerJoin {
				// Its subscription can arrive before pubsub has our own
				// stream to it, and a message published then is dropped
				// for it: give the connection a moment.
				s.txJoinAt.Store(time.Now().UnixNano())
				select {
				case <-time.After(heldPublishDelay):
				case <-s.ctx.Done():
					return
				}
				s.publishHeldTxs()
			}
		}
	})
	for _, t := range []*pubsub.Topic{s.blocks, s.txs} {
		// Validators do the work; subscribing puts us in the mesh, and the
		// delivered messages only need draining. A burst of txs (thousands
		// a second through our RPC) overflows pubsub's default buffer of 32
		// before the drain runs: nothing is lost (forwarding does not wait
		// on us), but pubsub logs every drop, so the buffer is deeper.
		sub, err := t.Subscribe(pubsub.WithBufferSize(subscriptionBuffer))
		if err != nil {
			return fmt.Errorf("p2p: subscribe %s: %w", t.String(), err)
		}
		s.subs = append(s.subs, sub)
		s.goLocked(func() {
			for {
				if _, err := sub.Next(s.ctx); err != nil {
					return
				}
			}
		})
	}
	return nil
}

// subscriptionBuffer is the depth of our own delivery of each topic.
const subscriptionBuffer = 4096

// validateBlock imports a gossiped block; only a block the chain accepted
// is forwarded. Our own publications were imported by the miner already.
func (s *Service) validateBlock(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	b, err := decodeBlock(msg.Data, s.caps.block)
	if err != nil {
		s.log.Debug("Undecodable gossip block", "peer", from, "err", err)
		s.rejectBlocks.Add(1)
		return pubsub.ValidationReject
	}
	err = s.chain.InsertBlock(b)
	if from == s.id {
		if err == nil || errors.Is(err, chain.ErrKnownBlock) {
			return pubsub.ValidationAccept
		}
		s.log.Warn("Not broadcasting own block", "number", b.Number(), "hash", b.Hash(), "err", err)
		return pubsub.ValidationReject
	}
	switch {
	case err == nil:
		s.log.Debug("Imported gossip block", "number", b.Number(), "hash", b.Hash(), "peer", from)
		return pubsub.ValidationAccept
	case errors.Is(err, chain.ErrKnownBlock), errors.Is(err, chain.ErrFutureBlock):
		return pubsub.ValidationIgnore
	case errors.Is(err, chain.ErrPrunedState):
		// A fork deeper than our state window: not the sender's fault, and
		// nothing we can check any more; like a finality depth.
		s.log.Debug("Ignoring gossip block on a deep fork", "number", b.Number(), "hash", b.Hash(), "peer", from, "err", err)
		return pubsub.ValidationIgnore
	case errors.Is(err, chain.ErrUnknownParent):
		// We are behind (or on a fork): ask the sender where it stands.
		s.askStatus(from)
		return pubsub.ValidationIgnore
	case chain.IsRuleError(err):
		s.log.Warn("Rejected invalid gossip block", "number", b.Number(), "hash", b.Hash(), "peer", from, "err", err)
		s.rejectBlocks.Add(1)
		return pubsub.ValidationReject
	default:
		s.log.Error("Importing gossip block", "number", b.Number(), "hash", b.Hash(), "err", err)
		return pubsub.ValidationIgnore
	}
}

// validateTx rejects what no honest node would send (undecodable or badly
// signed) and ignores what the pool merely declines (nonce, fee, dupes, a
// full pool): an ignored tx is not forwarded. A peer whose txs the pool
// declines in bulk is penalised (txFloodMeter).
func (s *Service) validateTx(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	tx, err := decodeTx(msg.Data, s.caps.tx)
	if err == nil {
		_, err = tx.Sender()
	}
	if err != nil {
		s.log.Debug("Invalid gossip tx", "peer", from, "err", err)
		s.rejectTxs.Add(1)
		return pubsub.ValidationReject
	}
	if from == s.id {
		return pubsub.ValidationAccept // BroadcastTx: the caller's pool has it
	}
	err = s.pool.Add(tx)
	if s.txFlood.note(from, err != nil, time.Now()) {
		s.log.Info("Penalising a peer flooding txs our pool declines", "peer", from,
			"declined", txFloodDeclines, "window", txFloodWindow, "penalty", txFloodPenalty, "lastErr", err)
		s.rep.penalise(from, txFloodPenalty)
	}
	if err != nil {
		s.log.Debug("Pool declined gossip tx", "hash", tx.Hash(), "peer", from, "err", err)
		return pubsub.ValidationIgnore
	}
	return pubsub.ValidationAccept
}

// Tx flood limits. Txs the pool declines (nonce too high, queue full,
// underpriced, unaffordable, known) cost a peer nothing in gossipsub's score,
// since ignored messages are not counted; so a peer that sends at least
// txFloodDeclines of them in a txFloodWindow, and more than it gets accepted,
// is penalised txFloodPenalty, once per window: three such windows cross
// gossipThreshold, thirteen the graylist. An honest relay's few stale txs
// (mined or replaced while in flight) stay far below.
const (
	txFloodWindow   = 10 * time.Second
	txFloodDeclines = 256
	txFloodPenalty  = 200
)

// txFloodMeter counts, per peer and fixed window, the gossip txs the pool
// declined and accepted. The zero value is ready.
type txFloodMeter struct {
	mu    sync.Mutex
	peers map[peer.ID]*txFloodCount
}

type txFloodCount struct {
	start              time.Time
	declined, accepted int
	penalised          bool // in this window
}

// note counts one tx from p and reports whether p has just crossed the
// flood threshold of the current window.
func (m *txFloodMeter) note(p peer.ID, declined bool, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.peers == nil {
		m.peers = make(map[peer.ID]*txFloodCount)
	}
	c := m.peers[p]
	if c == nil || now.Sub(c.start) >= txFloodWindow {
		if len(m.peers) >= 4096 { // peers come and go: forget stale windows
			for id, old := range m.peers {
				if now.Sub(old.start) >= txFloodWindow {
					delete(m.peers, id)
				}
			}
		}
		c = &txFloodCount{start: now}
		m.peers[p] = c
	}
	if !declined {
		c.accepted++
		return false
	}
	c.declined++
	if c.penalised || c.declined < txFloodDeclines || c.declined <= c.accepted {
		return false
	}
	c.penalised = true
	return true
}

// BroadcastBlock gossips a block we mined. It inserts the block first if
// the chain does not have it, and fails if the chain refuses it.
func (s *Service) BroadcastBlock(b *types.Block) error {
	if _, err := s.running(); err != nil {
		return err
	}
	data, err := rlp.EncodeToBytes(b)
	if err != nil {
		return fmt.Errorf("p2p: encode block %d: %w", b.Number(), err)
	}
	if len(data) > s.caps.block {
		return fmt.Errorf("p2p: block %d is %d bytes, over the %d gossip cap", b.Number(), len(data), s.caps.block)
	}
	if err := s.blocks.Publish(s.ctx, data); err != nil {
		return fmt.Errorf("p2p: publish block %d: %w", b.Number(), err)
	}
	return nil
}

// BroadcastTx gossips a transaction that our own pool has accepted.
func (s *Service) BroadcastTx(tx *types.Tx) error {
	if _, err := s.running(); err != nil {
		return err
	}
	data, err := rlp.EncodeToBytes(tx)
	if err != nil {
		return fmt.Errorf("p2p: encode tx: %w", err)
	}
	if len(data) > s.caps.tx {
		return fmt.Errorf("p2p: tx is %d bytes, over the %d gossip cap", len(data), s.caps.tx)
	}
	if !s.txPublishable() {
		// Published now it would reach no one (or miss the peer that just
		// subscribed), and a message is published once (content ids): hold
		// it until a peer is ready.
		s.log.Debug("No peer ready for txs yet: holding our tx", "tx", tx.Hash())
		s.holdTx(data)
		return nil
	}
	if err := s.txs.Publish(s.ctx, data); err != nil {
		return fmt.Errorf("p2p: publish tx %s: %w", tx.Hash(), err)
	}
	return nil
}

// heldPublishDelay is how long after a peer subscribes the held txs go out.
const heldPublishDelay = 300 * time.Millisecond

// maxHeldTxs bounds the txs held for the first subscribed peer (the oldest
// go first; the pool keeps them all).
const maxHeldTxs = 4096

func (s *Service) holdTx(data []byte) {
	s.heldMu.Lock()
	if len(s.heldTxs) >= maxHeldTxs {
		s.heldTxs = s.heldTxs[1:]
	}
	s.heldTxs = append(s.heldTxs, data)
	s.heldMu.Unlock()
	if s.txPublishable() { // a peer became ready as we held it
		s.publishHeldTxs()
	}
}

// txPublishable reports whether a tx published now reaches a peer: one is
// subscribed, and none subscribed in the last heldPublishDelay.
func (s *Service) txPublishable() bool {
	return len(s.txs.ListPeers()) > 0 && time.Since(time.Unix(0, s.txJoinAt.Load())) >= heldPublishDelay
}

// publishHeldTxs publishes the txs held while no peer was subscribed.
func (s *Service) publishHeldTxs() {
	s.heldMu.Lock()
	held := s.heldTxs
	s.heldTxs = nil
	s.heldMu.Unlock()
	for _, data := range held {
		if err := s.txs.Publish(s.ctx, data); err != nil {
			s.log.Warn("Publishing a held tx failed (it stays in the local pool)", "err", err)
		}
	}
	if len(held) > 0 {
		s.log.Debug("Published held txs to a new subscriber", "txs", len(held))
	}
}
