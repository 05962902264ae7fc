package compute

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/crypto/keccak"
)

// The degenerate self-job of PROTOCOL.md §5 (issue 9), played as well as we
// know how in Go, so that its cost per ticket can be measured against honest
// mining (BenchmarkDegenerate) and its digests checked against NoisedMatMul
// (TestDegenerateDigests). Nothing in production calls it.
//
// A miner submits its own job with A = U·V of rank qa and B = X·Y of rank qb
// (zero: rank 0), pays the burn once and grinds nonces over it. The noised
// operands are then of low rank too:
//
//	A + E = L·Kl,  L = [U EL] (M×Ra),  Kl = [V; ER] (Ra×K),  Ra = qa + r,
//	B + F = Kr·R,  Kr = [X FL] (K×Rb), R = [Y; FR] (Rb×N),   Rb = qb + r,
//
// so every cumulative partial sum of the transcript is
//
//	P'(t) = L · M(t) · R,  M(t) = Σ_{k<tκ} Kl[:,k]·Kr[k,:]  (Ra×Rb),
//
// and the attacker never forms the n³ product: per chunk it updates M(t)
// (Ra·κ·Rb), forms G(t) = M(t)·R (Ra×N, once for all tile rows), and then
// each tile entry is L[i,:]·G(t)[:,j]: Ra terms, with L's noise part in
// {−1, 0, 1} (adds, no multiplies) and G packed three 21-bit lanes per int64
// word, so one add serves three entries. It then mixes and hashes exactly as
// an honest miner does.
//
// A faster attacker than this one exists on paper: the per-chunk increment
// P'(t) − P'(t−1) = L·ΔG(t) fits int8, an int8 GEMM of inner dimension Ra
// where honest mining runs one of inner dimension κ. BenchmarkDegenerate
// models it (the "model" metric); docs/benchmarks.md has the figures.

// lowRank is an operand given by its factors: Left (rows×Rank) · Right
// (Rank×cols), row-major. Rank 0 is the zero matrix.
type lowRank struct {
	Rank        int
	Left, Right []int32
}

// expand expands f into the rows×cols int8 matrix it stands for; it panics if
// an entry does not fit int8.
func (f lowRank) expand(rows, cols int) I8 {
	f.mustShape(rows, cols)
	out := NewI8(rows, cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			var s int32
			for q := 0; q < f.Rank; q++ {
				s += f.Left[i*f.Rank+q] * f.Right[q*cols+j]
			}
			if s != int32(int8(s)) {
				panic(fmt.Sprintf("compute: low-rank entry (%d, %d) = %d does not fit int8", i, j, s))
			}
			out.Data[i*cols+j] = int8(s)
		}
	}
	return out
}

func (f lowRank) mustShape(rows, cols int) {
	if f.Rank < 0 || len(f.Left) != rows*f.Rank || len(f.Right) != f.Rank*cols {
		panic(fmt.Sprintf("compute: low-rank factors (rank %d, %d and %d entries) do not fit %d×%d",
			f.Rank, len(f.Left), len(f.Right), rows, cols))
	}
}

// degenerateMode says how much of the attack degenerateDigests plays.
type degenerateMode int

const (
	// degenerateFull produces the true digests.
	degenerateFull degenerateMode = iota
	// degenerateMixOnly skips the per-entry L·G(t) (wrong digests): the mix
	// and hash of n²·⌈K/κ⌉ words in this package's scalar Go, which any
	// attacker in Go pays besides the arithmetic.
	degenerateMixOnly
)

// degeneratePlan is the per-seed set-up: L (M×Ra) and, for every chunk t,
// G(t) = M(t)·R packed per tile column.
type degeneratePlan struct {
	m, k, n, ra, rb int
	g               Geometry
	chunks, ti, tj  int
	l               []int32 // M×Ra
	gt              []int32 // [t][Ra][N], unpacked
	swar            bool    // every entry fits a 21-bit lane
	wpt             int     // packed words per tile row
	gp              []int64 // [t][J][Ra][wpt]
}

func newDegeneratePlan(a, b lowRank, m, k, n int, nz *Noise, g Geometry) *degeneratePlan {
	a.mustShape(m, k)
	b.mustShape(k, n)
	g.mustValid()
	nz.mustFit(m, k, n)
	r := nz.Rank
	p := &degeneratePlan{m: m, k: k, n: n, ra: a.Rank + r, rb: b.Rank + r, g: g, chunks: g.chunks(k)}
	p.ti, p.tj = g.Tiles(m, n)
	ra, rb, T := p.ra, p.rb, p.chunks

	// L = [U EL], Kl = [V; ER], Kr = [X FL], R = [Y; FR].
	p.l = make([]int32, m*ra)
	for i := 0; i < m; i++ {
		copy(p.l[i*ra:], a.Left[i*a.Rank:(i+1)*a.Rank])
		for q := 0; q < r; q++ {
			p.l[i*ra+a.Rank+q] = int32(nz.EL[i*r+q])
		}
	}
	kl := func(q, kk int) int32 {
		if q < a.Rank {
			return a.Right[q*k+kk]
		}
		return int32(nz.ER[(q-a.Rank)*k+kk])
	}
	kr := func(kk, q int) int32 {
		if q < b.Rank {
			return b.Left[kk*b.Rank+q]
		}
		return int32(nz.FL[kk*r+q-b.Rank])
	}
	rrow := make([][]int32, rb)
	for q := 0; q < rb; q++ {
		if q < b.Rank {
			rrow[q] = b.Right[q*n : (q+1)*n]
		} else {
			row := make([]int32, n)
			for j, v := range nz.FR[(q-b.Rank)*n : (q-b.Rank+1)*n] {
				row[j] = int32(v)
			}
			rrow[q] = row
		}
	}

	// M(t), cumulative, t = 1..T: Ra·K·Rb in all.
	mt := make([]int32, T*ra*rb)
	cur := make([]int32, ra*rb)
	col := make([]int32, ra)
	for t := 0; t < T; t++ {
		for kk := t * g.Chunk; kk < min((t+1)*g.Chunk, k); kk++ {
			for q := 0; q < ra; q++ {
				col[q] = kl(q, kk)
			}
			for s := 0; s < rb; s++ {
				f := kr(kk, s)
				if f == 0 {
					continue
				}
				for q, c := range col {
					cur[q*rb+s] += c * f
				}
			}
		}
		copy(mt[t*ra*rb:], cur)
	}

	// G(t) = M(t)·R: Ra·Rb·N per chunk.
	p.gt = make([]int32, T*ra*n)
	parallelFor(T, func(_, t int) bool {
		for q := 0; q < ra; q++ {
			dst := p.gt[(t*ra+q)*n : (t*ra+q+1)*n]
			for s := 0; s < rb; s++ {
				c := mt[(t*ra+q)*rb+s]
				switch c {
				case 0:
				case 1:
					for j, v := range rrow[s] {
						dst[j] += v
					}
				case -1:
					for j, v := range rrow[s] {
						dst[j] -= v
					}
				default:
					for j, v := range rrow[s] {
						dst[j] += c * v
					}
				}
			}
		}
		return true
	})

	// Lanes hold |P'| < 2^20 when max_i Σ_q |L[i,q]| · max |G| is below it.
	var lmax, gmax int64
	for i := 0; i < m; i++ {
		var s int64
		for _, v := range p.l[i*ra : (i+1)*ra] {
			s += abs64(int64(v))
		}
		lmax = max(lmax, s)
	}
	for _, v := range p.gt {
		gmax = max(gmax, abs64(int64(v)))
	}
	p.swar = lmax*gmax < 1<<(laneBits-1)
	if !p.swar {
		return p
	}
	p.wpt = (g.Tile + lanes - 1) / lanes
	p.gp = make([]int64, T*p.tj*ra*p.wpt)
	parallelFor(T, func(_, t int) bool {
		for J := 0; J < p.tj; J++ {
			j0 := J * g.Tile
			_, w := g.TileShape(m, n, 0, J)
			for q := 0; q < ra; q++ {
				src := p.gt[(t*ra+q)*n+j0 : (t*ra+q)*n+j0+w]
				dst := p.gp[((t*p.tj+J)*ra+q)*p.wpt:]
				for jj, v := range src {
					dst[jj/lanes] += int64(v) << (laneBits * (jj % lanes))
				}
			}
		}
		return true
	})
	return p
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// degenerateDigests produces every tile digest of the noised product of a
// and b (given by their factors) under noise nz by the low-rank route, passing
// each to visit (from several goroutines) like NoisedMatMul. Modes other than
// degenerateFull give wrong digests: they time floors.
func degenerateDigests(a, b lowRank, m, k, n int, nz *Noise, g Geometry, visit TileVisitor, mode degenerateMode) bool {
	p := newDegeneratePlan(a, b, m, k, n, nz, g)
	type scratch struct {
		lane []int64
		row  []int32
	}
	sc := make([]scratch, workers(p.ti*p.tj))
	var stop atomic.Bool
	return parallelFor(p.ti*p.tj, func(wk, t int) bool {
		if stop.Load() {
			return false
		}
		s := &sc[wk]
		if s.lane == nil {
			s.lane = make([]int64, (g.Tile+lanes-1)/lanes)
			s.row = make([]int32, g.Tile)
		}
		I, J := t/p.tj, t%p.tj
		d := p.tileDigest(I, J, s.lane, s.row, mode)
		if visit != nil && !visit(I, J, d) {
			stop.Store(true)
			return false
		}
		return true
	})
}

func (p *degeneratePlan) tileDigest(I, J int, lane []int64, row []int32, mode degenerateMode) (digest [32]byte) {
	g, ra := p.g, p.ra
	h, w := g.TileShape(p.m, p.n, I, J)
	words := (w + lanes - 1) / lanes
	lane = lane[:words]
	row = row[:w]
	hs := keccak.NewLegacyKeccak256()
	var zb [8]byte
	for t := 0; t < p.chunks; t++ {
		var z uint64
		for ii := 0; ii < h; ii++ {
			i := I*g.Tile + ii
			lrow := p.l[i*ra : (i+1)*ra]
			salt := uint32(ii*g.Tile+1) * mixStep
			switch {
			case mode == degenerateMixOnly:
				for _, v := range row {
					x := uint64(uint32(v) ^ salt)
					z += x * x
					salt += mixStep
				}
			case p.swar:
				z += p.rowSWAR(t, J, lrow, lane, w, salt)
			default:
				j0 := J * g.Tile
				clear(row)
				for q, c := range lrow {
					if c == 0 {
						continue
					}
					for jj, v := range p.gt[(t*ra+q)*p.n+j0 : (t*ra+q)*p.n+j0+w] {
						row[jj] += c * v
					}
				}
				for _, v := range row {
					x := uint64(uint32(v) ^ salt)
					z += x * x
					salt += mixStep
				}
			}
		}
		binary.BigEndian.PutUint64(zb[:], z)
		hs.Write(zb[:])
	}
	hs.Sum(digest[:0])
	return digest
}

// rowSWAR forms one tile row of P'(t) = L[i,:]·G(t) in packed lanes (adds and
// subtracts for L's {−1, 0, 1} entries) and returns its mix.
func (p *degeneratePlan) rowSWAR(t, J int, lrow []int32, lane []int64, w int, salt uint32) uint64 {
	ra, wpt := p.ra, p.wpt
	gp := p.gp[(t*p.tj+J)*ra*wpt : (t*p.tj+J+1)*ra*wpt]
	clear(lane)
	for q, c := range lrow {
		v := gp[q*wpt : q*wpt+len(lane)]
		switch c {
		case 0:
		case 1:
			for wd, x := range v {
				lane[wd] += x
			}
		case -1:
			for wd, x := range v {
				lane[wd] -= x
			}
		default:
			c := int64(c)
			for wd, x := range v {
				lane[wd] += c * x
			}
		}
	}
	var z uint64
	const step2, step3 = uint32(2 * mixStep & 0xFFFFFFFF), uint32(3 * mixStep & 0xFFFFFFFF)
	full := w / lanes
	for _, word := range lane[:full] {
		v0 := word << laneShift >> laneShift
		word = (word - v0) >> laneBits
		v1 := word << laneShift >> laneShift
		v2 := (word - v1) >> laneBits
		x0 := uint64(uint32(v0) ^ salt)
		x1 := uint64(uint32(v1) ^ (salt + mixStep))
		x2 := uint64(uint32(v2) ^ (salt + step2))
		z += x0*x0 + x1*x1 + x2*x2
		salt += step3
	}
	if full < len(lane) {
		word := lane[full]
		for jj := full * lanes; jj < w; jj++ {
			v := word << laneShift >> laneShift
			word = (word - v) >> laneBits
			x := uint64(uint32(v) ^ salt)
			z += x * x
			salt += mixStep
		}
	}
	return z
}
