package p2p

import (
	"sync"
	"time"

	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// peerInfo is what we know of a connected peer's chain.
type peerInfo struct {
	status      *statusMsg
	syncFailed  time.Time // last sync attempt with it that failed or stalled
	statusAsked time.Time // last status request triggered by its gossip
}

type peerSet struct {
	mu sync.Mutex
	m  map[peer.ID]*peerInfo
}

func newPeerSet() *peerSet { return &peerSet{m: make(map[peer.ID]*peerInfo)} }

func (ps *peerSet) get(p peer.ID) *peerInfo {
	pi := ps.m[p]
	if pi == nil {
		pi = &peerInfo{}
		ps.m[p] = pi
	}
	return pi
}

func (ps *peerSet) setStatus(p peer.ID, st *statusMsg) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.get(p).status = st
}

func (ps *peerSet) remove(p peer.ID) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.m, p)
}

func (ps *peerSet) markSyncFailed(p peer.ID) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if pi := ps.m[p]; pi != nil {
		pi.syncFailed = time.Now()
	}
}

// shouldAsk rate-limits gossip-triggered status requests to one per gap.
func (ps *peerSet) shouldAsk(p peer.ID, gap time.Duration) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pi := ps.get(p)
	if time.Since(pi.statusAsked) < gap {
		return false
	}
	pi.statusAsked = time.Now()
	return true
}

// best is the peer with the highest total difficulty above td that has not
// failed a sync recently.
func (ps *peerSet) best(td *uint256.Int) (peer.ID, *statusMsg) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var (
		bestID peer.ID
		bestSt *statusMsg
	)
	for id, pi := range ps.m {
		st := pi.status
		if st == nil || st.TD.Cmp(td) <= 0 || time.Since(pi.syncFailed) < syncFailCooldown {
			continue
		}
		if bestSt == nil || st.TD.Cmp(bestSt.TD) > 0 {
			bestID, bestSt = id, st
		}
	}
	return bestID, bestSt
}

func (ps *peerSet) highestNumber() uint64 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var n uint64
	for _, pi := range ps.m {
		if pi.status != nil {
			n = max(n, pi.status.Number)
		}
	}
	return n
}

// reputation holds what we hold against peers: temporary bans (enforced as
// a connection gater) and penalties fed to gossipsub as the app score.
type reputation struct {
	mu      sync.Mutex
	banned  map[peer.ID]time.Time
	penalty map[peer.ID]float64
}

func newReputation() *reputation {
	return &reputation{banned: make(map[peer.ID]time.Time), penalty: make(map[peer.ID]float64)}
}

func (r *reputation) ban(p peer.ID, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.banned[p] = time.Now().Add(d)
}

func (r *reputation) penalise(p peer.ID, amount float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.penalty[p] += amount
}

func (r *reputation) isBanned(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.banned[p]
	if ok && time.Now().After(until) {
		delete(r.banned, p)
		return false
	}
	return ok
}

func (r *reputation) score(p peer.ID) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return -r.penalty[p]
}

func (r *reputation) InterceptPeerDial(p peer.ID) bool             { return !r.isBanned(p) }
func (r *reputation) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (r *reputation) InterceptAccept(network.ConnMultiaddrs) bool  { return true }
func (r *reputation) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
func (r *reputation) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !r.isBanned(p)
}
