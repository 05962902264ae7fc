package p2p

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A penalty halves every hour, so a relay that misbehaved once is forgiven;
// penalties add up while they keep coming; the maps stay bounded however
// many peer ids an attacker makes up.
func TestReputationDecays(t *testing.T) {
	r := newReputation()
	now := time.Unix(1_000_000, 0)
	r.now = func() time.Time { return now }
	const p = peer.ID("relay")
	r.penalise(p, 200)
	if got := r.score(p); got != -200 {
		t.Fatalf("score %v, want -200", got)
	}
	now = now.Add(penaltyHalfLife)
	if got := r.score(p); got < -100.001 || got > -99.999 {
		t.Fatalf("score after one half-life %v, want -100", got)
	}
	r.penalise(p, 200)
	if got := r.score(p); got < -300.001 || got > -299.999 {
		t.Fatalf("score %v, want the decayed -100 plus -200", got)
	}
	now = now.Add(24 * penaltyHalfLife)
	if got := r.score(p); got < -0.001 {
		t.Fatalf("score a day later %v, want ~0", got)
	}

	r.ban(p, time.Minute)
	if !r.isBanned(p) {
		t.Fatal("not banned")
	}
	for i := range 3 * maxReputationEntries {
		id := peer.ID(fmt.Sprint("sybil", i))
		r.penalise(id, 1)
		r.ban(id, time.Second)
		now = now.Add(time.Second) // each one's ban and penalty run out as the next comes
	}
	if len(r.penalty) > maxReputationEntries+1 || len(r.banned) > maxReputationEntries+1 {
		t.Fatalf("maps grew to %d penalties, %d bans", len(r.penalty), len(r.banned))
	}
}
