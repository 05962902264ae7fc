package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// answerBudget bounds the bytes of large answers (job results: a 16 MiB
// product is a 32 MiB hex answer, about 5× its size in memory while it is
// read, encoded and written) that all connections together build at once.
// Without it MaxConns clients asking for the largest result at the same
// time would make the node hold gigabytes. A call takes its weight before
// it reads anything; the HTTP handler gives it back once the answer is
// written. In-process calls (no HTTP request) are not bounded.
type answerBudget struct {
	sem  *semaphore.Weighted
	max  int64
	wait time.Duration // how long a call queues for room before "busy"
}

func newAnswerBudget(max int64, wait time.Duration) *answerBudget {
	return &answerBudget{sem: semaphore.NewWeighted(max), max: max, wait: wait}
}

// answerHold is what one HTTP request has taken from the budget.
type answerHold struct {
	mu    sync.Mutex
	taken int64
}

type answerHoldKey struct{}

// withAnswerHold gives the request a hold for take to fill; release it
// when the answer is written.
func withAnswerHold(ctx context.Context) (context.Context, *answerHold) {
	h := new(answerHold)
	return context.WithValue(ctx, answerHoldKey{}, h), h
}

func (b *answerBudget) release(h *answerHold) {
	h.mu.Lock()
	n := h.taken
	h.taken = 0
	h.mu.Unlock()
	if n > 0 {
		b.sem.Release(n)
	}
}

// take reserves n bytes for the answer of the request in ctx, waiting up to
// b.wait for room.
func (b *answerBudget) take(ctx context.Context, n int64) error {
	if b == nil {
		return nil
	}
	h, _ := ctx.Value(answerHoldKey{}).(*answerHold)
	if h == nil {
		return nil
	}
	n = min(max(n, 1), b.max)
	wctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	if err := b.sem.Acquire(wctx, n); err != nil {
		return fmt.Errorf("node busy: other clients are fetching large results (%d MiB in flight at most); retry shortly", b.max>>20)
	}
	h.mu.Lock()
	h.taken += n
	h.mu.Unlock()
	return nil
}
