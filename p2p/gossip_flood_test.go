package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// choosyPool declines every tx whose nonce is above its limit, as a pool
// does with gapped txs once its queue is full.
type choosyPool struct{ maxNonce uint64 }

func (p choosyPool) Add(tx *types.Tx) error {
	if tx.Nonce > p.maxNonce {
		return chain.ErrPoolFull
	}
	return nil
}

func TestGossipTxFloodPenalised(t *testing.T) {
	s, err := New(testConfig(), newFakeChain(testGenesis()), choosyPool{maxNonce: 9})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	gossip := func(from peer.ID, nonce uint64) pubsub.ValidationResult {
		tx := &types.Tx{ChainID: 7, Nonce: nonce, Value: uint256.NewInt(1), Fee: uint256.NewInt(1)}
		if err := tx.Sign(key); err != nil {
			t.Fatal(err)
		}
		return s.validateTx(context.Background(), from, &pubsub.Message{Message: &pb.Message{Data: mustRLP(t, tx)}, ReceivedFrom: from})
	}
	honest, flooder := peer.ID("honest relay"), peer.ID("flooder")
	// An honest relay: many good txs and a few declined (stale) ones.
	for n := range uint64(300) {
		nonce := n % 10
		if n%50 == 0 {
			nonce = 100
		}
		want := pubsub.ValidationAccept
		if nonce > 9 {
			want = pubsub.ValidationIgnore
		}
		if r := gossip(honest, nonce); r != want {
			t.Fatalf("honest tx %d: %v, want %v", n, r, want)
		}
	}
	// A flooder of gapped txs the full pool cannot take: ignored (not
	// forwarded), and penalised once the window's count passes the threshold.
	for n := range uint64(txFloodDeclines - 1) {
		if r := gossip(flooder, 1000+n); r != pubsub.ValidationIgnore {
			t.Fatalf("flood tx: %v, want ignore", r)
		}
	}
	if sc := s.rep.score(flooder); sc != 0 {
		t.Fatalf("flooder penalised before the threshold: score %v", sc)
	}
	gossip(flooder, 5000)
	gossip(flooder, 5001) // once per window
	// Penalties decay (an hour's half-life): read it to within a millipoint.
	if sc, want := s.rep.score(flooder), -float64(txFloodPenalty); sc > want+1e-3 || sc < want-1e-3 {
		t.Fatalf("flooder score %v, want %v", sc, want)
	}
	if sc := s.rep.score(honest); sc != 0 {
		t.Fatalf("honest relay penalised: score %v", sc)
	}
}

func TestTxFloodMeterWindows(t *testing.T) {
	var m txFloodMeter
	p := peer.ID("p")
	t0 := time.Unix(1000, 0)
	crossed := 0
	for i := range 3 * txFloodDeclines {
		// Each window: txFloodDeclines declines, plus as many accepts in the third.
		now := t0.Add(time.Duration(i/txFloodDeclines) * txFloodWindow)
		if i/txFloodDeclines == 2 {
			m.note(p, false, now)
		}
		if m.note(p, true, now) {
			crossed++
		}
	}
	if crossed != 2 {
		t.Fatalf("crossed %d times, want 2 (once per flooding window; not when accepts keep pace)", crossed)
	}
}
