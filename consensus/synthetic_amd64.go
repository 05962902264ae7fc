package consensus

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/compute"
	"golang.org/x/sys/cpu"
)

// Synthetic operands with AVX-512 (synthetic_amd64.s): 16 lines per kernel
// call, one xoshiro256** stream per 64-bit lane. Bit-exact with
// syntheticLineRef; QUERN_SYNTHETIC_SCALAR=1 forces the reference.

// syntheticHasAsm: the CPU runs synthetic_amd64.s (VPERMT2B needs VBMI);
// syntheticAsm: syntheticLines uses it.
var (
	syntheticHasAsm = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VBMI
	syntheticAsm    = syntheticHasAsm && os.Getenv("QUERN_SYNTHETIC_SCALAR") == ""
)

// synthA writes k values of each of 16 lines to rows dst+l·stride; k not a
// multiple of 16 only in a line's last call.
//
//go:noescape
func synthA(s *[4][16]uint64, dst *int8, stride, k int)

// synthB writes k values of each of 16 lines as column l at dst+l, rows
// stride apart, lanes under byte mask; k odd only in a line's last call.
//
//go:noescape
func synthB(s *[4][16]uint64, dst *int8, stride, k, mask int)

// syntheticLinesAsm is syntheticLines with the AVX-512 kernels. Work items:
// groups of 16 rows of A, and groups of up to 64 columns of B (four kernel
// lane groups) built in blocks of 128 rows, so that each cache line of B is
// written whole while in L1.
func syntheticLinesAsm(seed common.Hash, dim, r0, r1, c0, c1 int) (a, b compute.I8) {
	const (
		lanes     = 16
		colGroup  = 4 * lanes
		rowsBlock = 128 // even: a line continues in the next block
	)
	root := syntheticRoot(seed)
	if dim == 0 {
		return compute.NewI8(0, 0), compute.NewI8(0, 0)
	}
	r1, c1 = max(r0, r1), max(c0, c1) // tiles past the edge (rejected by operands) build nothing there
	ga := (r1 - r0 + lanes - 1) / lanes
	gb := (c1 - c0 + colGroup - 1) / colGroup
	var tmp [][]int8 // per worker, for a partial group of A
	rowsA := func(w, it int) {
		i0 := r0 + it*lanes
		n := min(lanes, r1-i0)
		var st [4][16]uint64
		lineStates(&st, root, tagRowsA, i0, n)
		if n == lanes {
			synthA(&st, &a.Data[i0*dim], dim, dim)
			return
		}
		if tmp[w] == nil {
			tmp[w] = make([]int8, lanes*dim)
		}
		synthA(&st, &tmp[w][0], dim, dim)
		copy(a.Data[i0*dim:(i0+n)*dim], tmp[w])
	}
	colsB := func(it int) {
		j0 := c0 + it*colGroup
		var st [colGroup / lanes][4][16]uint64
		var mask [colGroup / lanes]int
		for g := range st {
			j := j0 + g*lanes
			n := max(0, min(lanes, c1-j))
			lineStates(&st[g], root, tagColsB, j, n)
			mask[g] = 1<<n - 1
		}
		for k0 := 0; k0 < dim; k0 += rowsBlock {
			for g := range st {
				if mask[g] != 0 {
					synthB(&st[g], &b.Data[k0*dim+j0+g*lanes], dim, min(rowsBlock, dim-k0), mask[g])
				}
			}
		}
	}
	// At least 2^18 values (~50 µs) per goroutine: a validator's tile is
	// quicker built by one than a second goroutine is woken.
	workers := max(1, min(runtime.GOMAXPROCS(0), ga+gb, (r1-r0+c1-c0)*dim>>18))
	tmp = make([][]int8, workers)
	if workers == 1 {
		a, b = compute.NewI8(dim, dim), compute.NewI8(dim, dim)
		for it := 0; it < ga; it++ {
			rowsA(0, it)
		}
		for it := 0; it < gb; it++ {
			colsB(it)
		}
		return a, b
	}
	// Worker 0 allocates (zeroes) a and worker 1 b, concurrently; even
	// workers take A's items first and odd ones B's, then help with the
	// other, so a matrix is mostly written by the core that zeroed it.
	var next [2]atomic.Int64
	var ready [2]sync.WaitGroup
	ready[0].Add(1)
	ready[1].Add(1)
	work := func(w int) {
		switch w {
		case 0:
			a = compute.NewI8(dim, dim)
			ready[0].Done()
		case 1:
			b = compute.NewI8(dim, dim)
			ready[1].Done()
		}
		for pass := 0; pass < 2; pass++ {
			m := (w + pass) % 2
			ready[m].Wait()
			for {
				it := int(next[m].Add(1) - 1)
				if m == 0 && it < ga {
					rowsA(w, it)
				} else if m == 1 && it < gb {
					colsB(it)
				} else {
					break
				}
			}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(w)
		}()
	}
	work(0)
	wg.Wait()
	return a, b
}
