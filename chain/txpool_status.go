package chain

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// DropReason says why the pool let go of a tx it had accepted, without a
// block carrying it.
type DropReason string

const (
	DropReplaced          DropReason = "replaced"           // a tx with its nonce paying PriceBump% more took its place
	DropEvicted           DropReason = "evicted"            // the pool was over a cap and it paid least per byte
	DropExpired           DropReason = "expired"            // queued for longer than the lifetime
	DropNonceUsed         DropReason = "nonce-used"         // the chain holds another tx with its nonce
	DropInsufficientFunds DropReason = "insufficient-funds" // its sender's balance no longer covers it
	DropInvalid           DropReason = "invalid"            // no longer valid on the head (a job's expiry or base fee)
	DropReorg             DropReason = "reorg"              // its block left the canonical chain and the pool refused it back
)

// DropRecord is what the pool remembers of a dropped tx.
type DropRecord struct {
	Reason DropReason
	Detail string
	Time   time.Time
}

// TxState is where a tx stands in the pool.
type TxState uint8

const (
	TxUnknown TxState = iota // never seen, mined, or dropped too long ago to be remembered
	TxPending                // executable on the head: the miner takes it
	TxQueued                 // waits on a nonce gap or funds
	TxDropped                // let go without a block; Reason says why
)

func (s TxState) String() string {
	switch s {
	case TxPending:
		return "pending"
	case TxQueued:
		return "queued"
	case TxDropped:
		return "dropped"
	}
	return "unknown"
}

// TxStatus is a tx's place in the pool; Drop is set when it was dropped.
type TxStatus struct {
	State TxState
	Drop  *DropRecord
}

// Status says whether tx h is pending, queued, dropped (and why) or unknown
// to the pool. A mined tx is unknown here: the chain's tx lookup has it.
func (p *TxPool) Status(h common.Hash) TxStatus {
	p.reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.all[h]; t != nil {
		if t.pending {
			return TxStatus{State: TxPending}
		}
		return TxStatus{State: TxQueued}
	}
	if r, ok := p.dropped.get(h); ok {
		return TxStatus{State: TxDropped, Drop: &r}
	}
	return TxStatus{State: TxUnknown}
}

// drop removes a pooled tx and records why (p.mu held).
func (p *TxPool) drop(t *poolTx, reason DropReason, detail string) {
	p.remove(t)
	p.record(t.hash, reason, detail)
	p.log.Debug("Dropped tx", "hash", t.hash, "from", t.from, "nonce", t.nonce, "reason", reason, "detail", detail)
}

// record notes a dropped tx for Status and the next summary (p.mu held).
func (p *TxPool) record(h common.Hash, reason DropReason, detail string) {
	now := p.cfg.Now()
	p.dropped.add(h, DropRecord{Reason: reason, Detail: detail, Time: now})
	p.dropCounts[reason]++
	p.journal.write(&journalEntry{Drop: h, Reason: string(reason), Detail: detail, TimeMs: uint64(now.UnixMilli())})
}

// summary logs the drops, promotions and demotions since the last summary:
// at Info when a head change (head) or an age eviction dropped txs, at Debug
// otherwise (p.mu held).
func (p *TxPool) summary(msg string, head bool) {
	dropped := 0
	attrs := []any{"head", p.head.Number(), "pending", len(p.all) - p.nqueued, "queued", p.nqueued}
	reasons := make([]DropReason, 0, len(p.dropCounts))
	for r, n := range p.dropCounts {
		dropped += n
		reasons = append(reasons, r)
	}
	if dropped == 0 && !head {
		return
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		attrs = append(attrs, string(r), p.dropCounts[r])
	}
	attrs = append(attrs, "mined", p.mined, "promoted", p.promoted, "demoted", p.demoted, "dropped", dropped)
	level := slog.LevelDebug
	if dropped > 0 {
		level = slog.LevelInfo
	}
	p.log.Log(context.Background(), level, msg, attrs...)
	clear(p.dropCounts)
	p.mined, p.promoted, p.demoted = 0, 0, 0
}
