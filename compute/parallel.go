package compute

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// workers is how many goroutines parallelFor uses for n tasks.
func workers(n int) int {
	return max(1, min(n, runtime.GOMAXPROCS(0)))
}

// parallelFor runs fn(worker, i) for every i in [0, n) on workers(n)
// goroutines, handing out tasks dynamically because tiles differ in cost (edge
// tiles are smaller). worker ∈ [0, workers(n)) indexes per-goroutine scratch.
// Once any fn returns false no further task starts; parallelFor then reports false.
func parallelFor(n int, fn func(worker, i int) bool) bool {
	if n <= 0 {
		return true
	}
	nw := workers(n)
	if nw == 1 {
		for i := 0; i < n; i++ {
			if !fn(0, i) {
				return false
			}
		}
		return true
	}
	var (
		next    atomic.Int64
		stopped atomic.Bool
		wg      sync.WaitGroup
	)
	for w := 0; w < nw; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if !fn(w, i) {
					stopped.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return !stopped.Load()
}
