package chain_test

import (
	"errors"
	"testing"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/consensus"
)

func TestTimeRules(t *testing.T) {
	h := newHarness(t)
	gen := h.c.Genesis()
	// Times gen+1000, +2000, ... : the median of the last 11 trails the head.
	var last *types.Block
	for range 12 {
		last = h.mine(miner1, nil)
	}
	min := h.c.MinTime(last.Header)
	if min <= gen.Header.Time || min > last.Header.Time {
		t.Fatalf("MinTime %d outside (genesis, head]", min)
	}
	// Exactly the median is too old, one above is fine (even if before the parent).
	atMedian := h.buildAt(last, miner1, min-1, nil)
	wantRule(t, h.c.InsertBlock(atMedian), chain.ErrBadTime)
	h.insert(h.buildAt(last, miner1, min, nil))

	// Future: allowed up to MaxFutureMs ahead of the local clock.
	h.nowMs.Store(last.Header.Time)
	maxAhead := h.c.Params().MaxFutureMs
	future := h.buildAt(last, miner1, last.Header.Time+maxAhead+1, nil)
	err := h.c.InsertBlock(future)
	if !errors.Is(err, chain.ErrFutureBlock) || chain.IsRuleError(err) {
		t.Fatalf("future block: %v", err)
	}
	h.insert(h.buildAt(last, miner1, last.Header.Time+maxAhead, nil))
	h.nowMs.Add(1) // later, the same block is fine
	if err := h.c.InsertBlock(future); err != nil {
		t.Fatalf("future block once due: %v", err)
	}

	// The child of genesis must be later than genesis.
	wantRule(t, h.c.InsertBlock(h.buildAt(gen, miner2, gen.Header.Time, nil)), chain.ErrBadTime)
}

func TestDifficultyRule(t *testing.T) {
	h := newHarness(t)
	gen := h.c.Genesis()
	p := h.c.Params()
	fast := h.buildAt(gen, miner1, gen.Header.Time+100, nil)
	if fast.Header.Difficulty != gen.Header.Difficulty {
		t.Fatal("child of genesis keeps the genesis difficulty")
	}
	h.insert(fast)
	next := h.build(fast, miner1, nil)
	if want := consensus.CalcDifficulty(p, fast.Header, gen.Header); next.Header.Difficulty != want || want <= fast.Header.Difficulty {
		t.Fatalf("difficulty after a fast block %d, want %d (above %d)", next.Header.Difficulty, want, fast.Header.Difficulty)
	}
	if h.c.NextDifficulty(fast.Header) != next.Header.Difficulty {
		t.Fatal("NextDifficulty disagrees with BuildBlock")
	}
	for _, d := range []uint64{next.Header.Difficulty - 1, next.Header.Difficulty + 1, p.MinDifficulty} {
		bad := withHeader(next, func(hd *types.Header) { hd.Difficulty = d })
		wantRule(t, h.c.InsertBlock(bad), chain.ErrBadDifficulty)
	}
	h.insert(next)
	if want := gen.Header.Difficulty + fast.Header.Difficulty + next.Header.Difficulty; h.c.CurrentTD().Uint64() != want {
		t.Fatalf("td %s, want %d", h.c.CurrentTD(), want)
	}
}
