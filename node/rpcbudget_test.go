package node

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Many clients fetching the largest job result at once: their answers'
// bytes stay within the budget; a call that finds no room in time is told
// the node is busy, and the room comes back when an answer is written.
func TestAnswerBudget(t *testing.T) {
	b := newAnswerBudget(100, 20*time.Millisecond)
	ctxA, holdA := withAnswerHold(context.Background())
	if err := b.take(ctxA, 80); err != nil {
		t.Fatalf("first answer: %v", err)
	}
	ctxB, holdB := withAnswerHold(context.Background())
	if err := b.take(ctxB, 50); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("answer past the budget: %v, want busy", err)
	}
	// One request larger than the whole budget takes all of it, no more.
	ctxC, holdC := withAnswerHold(context.Background())
	b.release(holdA)
	if err := b.take(ctxC, 1000); err != nil {
		t.Fatalf("an answer larger than the budget, with the budget free: %v", err)
	}
	if err := b.take(ctxB, 1); err == nil {
		t.Fatal("took room while the whole budget was held")
	}
	b.release(holdC)
	if err := b.take(ctxB, 50); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	b.release(holdB)
	// Calls outside an HTTP request (no hold) are not bounded.
	if err := b.take(context.Background(), 1<<40); err != nil {
		t.Fatalf("in-process call: %v", err)
	}
	if !b.sem.TryAcquire(100) {
		t.Fatal("budget not whole after every release")
	}
}
