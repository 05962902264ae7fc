package compute

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workers is how many goroutines parallelFor uses for n tasks.
func workers(n int) int {
	return max(1, min(n, runtime.GOMAXPROCS(0)))
}

// parallelFor runs fn(worker, i) for every i in [0, n) on workers(n)
// goroutines, handing out tasks dynamically because tiles differ in cost (edge
// tiles are smaller). worker ∈ [0, workers(n)) indexes per-goroutine scratch.
// Once any fn returns false no further task starts; parallelFor then reports false.
//
// The calling goroutine is worker 0; the others come from a pool of helper
// goroutines that spin for a while after each job before they sleep. A
// product runs several parallelFor phases back to back, and waking a
// sleeping thread costs 50–150 µs on a virtual machine, as much as a 256³
// product. (OpenMP runtimes spin for the same reason.) When the pool is
// busy — a parallelFor inside fn, or two products at once — the call falls
// back to fresh goroutines.
func parallelFor(n int, fn func(worker, i int) bool) bool {
	return parallelForOn(workers(n), n, fn)
}

// parallelForOn is parallelFor on at most nw goroutines; nw = 1 runs every
// task on the caller's goroutine, waking no helper.
func parallelForOn(nw, n int, fn func(worker, i int) bool) bool {
	if n <= 0 {
		return true
	}
	nw = max(1, min(nw, workers(n)))
	if nw == 1 {
		for i := 0; i < n; i++ {
			if !fn(0, i) {
				return false
			}
		}
		return true
	}
	if !pool.mu.TryLock() {
		return spawnFor(n, nw, fn)
	}
	defer pool.mu.Unlock()
	for pool.helpers < nw-1 {
		pool.helpers++
		go helper(pool.helpers)
	}
	j := &poolJob{fn: fn, n: int64(n), nw: nw}
	pool.cur.Store(j)
	pool.gen.Add(1)
	for s := pool.sleeping.Load(); s > 0; s-- {
		select {
		case pool.wake <- struct{}{}:
		default:
		}
	}
	j.work(0)
	// Every helper that took a task joined (active) before taking it, so
	// once the tasks are out, active reaching 0 means no fn is running and
	// none will start.
	for j.active.Load() != 0 {
		runtime.Gosched()
	}
	return !j.stopped.Load()
}

// poolJob is one parallelFor call as the pool sees it.
type poolJob struct {
	fn      func(worker, i int) bool
	n       int64
	nw      int
	next    atomic.Int64
	stopped atomic.Bool
	active  atomic.Int32
}

func (j *poolJob) work(w int) {
	for !j.stopped.Load() {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		if !j.fn(w, int(i)) {
			j.stopped.Store(true)
			return
		}
	}
}

// poolSpin is how long an idle helper polls for the next job before it
// sleeps: long enough to bridge the serial steps between a product's phases
// and between products in a mining loop, short enough to cost an idle node
// nothing that matters.
const poolSpin = 2 * time.Millisecond

var pool struct {
	mu       sync.Mutex // held by the parallelFor that owns the helpers
	helpers  int        // started so far, numbered 1..helpers (guarded by mu)
	cur      atomic.Pointer[poolJob]
	gen      atomic.Uint64 // bumped after each cur.Store
	sleeping atomic.Int32
	wake     chan struct{}
}

func init() { pool.wake = make(chan struct{}, 1024) }

// helper h runs the jobs it may join (h < job.nw) for as long as the process lives.
func helper(h int) {
	var seen uint64
	for {
		deadline := time.Now().Add(poolSpin)
		for spins := 0; pool.gen.Load() == seen; spins++ {
			if spins&63 == 63 && time.Now().After(deadline) {
				pool.sleeping.Add(1)
				if pool.gen.Load() == seen { // a job published before we counted ourselves would not wake us
					<-pool.wake
				}
				pool.sleeping.Add(-1)
				deadline = time.Now().Add(poolSpin)
				continue
			}
			runtime.Gosched()
		}
		seen = pool.gen.Load()
		j := pool.cur.Load()
		if j == nil || h >= j.nw {
			continue
		}
		j.active.Add(1)
		j.work(h)
		j.active.Add(-1)
	}
}

// spawnFor is parallelFor on fresh goroutines.
func spawnFor(n, nw int, fn func(worker, i int) bool) bool {
	j := &poolJob{fn: fn, n: int64(n), nw: nw}
	var wg sync.WaitGroup
	for w := 1; w < nw; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.work(w)
		}()
	}
	j.work(0)
	wg.Wait()
	return !j.stopped.Load()
}
