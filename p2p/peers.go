package p2p

import (
	"math"
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
	statusAsked time.Time // last status request triggered by its gossip
}

// syncRecord is how a peer's sync sessions went. It outlives the
// connection, so a peer cannot clear its strikes by reconnecting.
type syncRecord struct {
	strikes int       // sessions in a row that imported no block we lacked
	after   time.Time // it is not picked for sync before this
}

type peerSet struct {
	mu   sync.Mutex
	m    map[peer.ID]*peerInfo
	sync map[peer.ID]*syncRecord
}

func newPeerSet() *peerSet {
	return &peerSet{m: make(map[peer.ID]*peerInfo), sync: make(map[peer.ID]*syncRecord)}
}

func (ps *peerSet) record(p peer.ID) *syncRecord {
	r := ps.sync[p]
	if r == nil {
		if len(ps.sync) >= maxReputationEntries {
			// Made-up peer ids must not grow it without bound: forget
			// those no longer held back (their strikes can only matter
			// again if they come back and fail anew).
			now := time.Now()
			for id, old := range ps.sync {
				if now.After(old.after) {
					delete(ps.sync, id)
				}
			}
		}
		r = &syncRecord{}
		ps.sync[p] = r
	}
	return r
}

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

// holdSync keeps p out of sync for d without a strike: a local failure, or
// a useful session cut short, so that other peers are tried first.
func (ps *peerSet) holdSync(p peer.ID, d time.Duration) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.record(p).after = time.Now().Add(d)
}

// strikeSync records a sync session with p that imported nothing new and
// returns p's strikes in a row; p is held back for base·2^(strikes−1).
func (ps *peerSet) strikeSync(p peer.ID, base time.Duration) int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.record(p)
	r.strikes++
	r.after = time.Now().Add(base << min(r.strikes-1, 10))
	return r.strikes
}

// clearSyncStrikes drops p's sync record: it served us new blocks, or a
// ban settled the account.
func (ps *peerSet) clearSyncStrikes(p peer.ID) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.sync, p)
}

// claimsMore reports whether p's last status claims more work than td, and
// to serve whole the blocks a node at head needs from it.
func (ps *peerSet) claimsMore(p peer.ID, td *uint256.Int, head uint64) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pi := ps.m[p]
	return pi != nil && pi.status != nil && pi.status.TD.Cmp(td) > 0 && pi.status.serves(syncStart(head, pi.status))
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

// best is the peer with the highest total difficulty above td that is not
// held back after a failed sync.
func (ps *peerSet) best(td *uint256.Int) (peer.ID, *statusMsg) { return ps.bestWhere(td, nil) }

// bestWhere is best among the peers whose status passes ok (nil: all).
func (ps *peerSet) bestWhere(td *uint256.Int, ok func(*statusMsg) bool) (peer.ID, *statusMsg) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var (
		bestID peer.ID
		bestSt *statusMsg
	)
	for id, pi := range ps.m {
		st := pi.status
		if st == nil || st.TD.Cmp(td) <= 0 || (ok != nil && !ok(st)) {
			continue
		}
		if r := ps.sync[id]; r != nil && time.Now().Before(r.after) {
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
	penalty map[peer.ID]decayed
	now     func() time.Time
}

// decayed is a penalty worth amount at time at, halving every
// penaltyHalfLife after: a peer that misbehaved once is forgiven over
// hours, one that keeps misbehaving stays low (gossipsub decays its own
// invalid-message counters the same way).
type decayed struct {
	amount float64
	at     time.Time
}

const (
	penaltyHalfLife = time.Hour
	// Above this many entries the maps drop what has expired or decayed to
	// nothing, so peer ids made up by the thousand cannot grow them without
	// bound.
	maxReputationEntries = 4096
)

func newReputation() *reputation {
	return &reputation{banned: make(map[peer.ID]time.Time), penalty: make(map[peer.ID]decayed), now: time.Now}
}

func (d decayed) value(t time.Time) float64 {
	if d.amount == 0 {
		return 0
	}
	return d.amount * math.Exp2(-t.Sub(d.at).Seconds()/penaltyHalfLife.Seconds())
}

func (r *reputation) ban(p peer.ID, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.banned[p] = now.Add(d)
	if len(r.banned) > maxReputationEntries {
		for id, until := range r.banned {
			if now.After(until) {
				delete(r.banned, id)
			}
		}
	}
}

func (r *reputation) penalise(p peer.ID, amount float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.penalty[p] = decayed{amount: r.penalty[p].value(now) + amount, at: now}
	if len(r.penalty) > maxReputationEntries {
		for id, d := range r.penalty {
			if d.value(now) < 1 {
				delete(r.penalty, id)
			}
		}
	}
}

func (r *reputation) isBanned(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.banned[p]
	if ok && r.now().After(until) {
		delete(r.banned, p)
		return false
	}
	return ok
}

func (r *reputation) score(p peer.ID) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return -r.penalty[p].value(r.now())
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
