package compute

import (
	"encoding/binary"
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/crypto/keccak"
)

// The reuse attack of PROTOCOL.md §3, played as well as we know how, so that
// its cost can be measured against honest mining (BenchmarkReuse) and its
// digests checked against NoisedMatMul (TestReuseDigests).
//
// The attacker computed A·B once and kept, for every output tile and every
// K-chunk t, the cumulative partial sums S(t) = Σ_{k < tκ} A[i,k]·B[k,j]:
// M·N·⌈K/κ⌉ int32 words. For a new seed (new E = EL·ER, F = FL·FR) it needs
// every tile's transcript P'(t) = Σ_{k < tκ} (A+E)[i,k]·(B+F)[k,j]. Since
// (A+E)(B+F) = AB + A·F + E·(B+F), summing over k < tκ gives
//
//	P'(t) = S(t) + CX(t)·FR + EL·CY(t),
//	CX(t) = Σ_{k < tκ} A[:,k]·FL[k,:]   (M×r),
//	CY(t) = Σ_{k < tκ} ER[:,k]·(B+F)[k,:] (r×N),
//
// a rank-2r correction that costs O(n²r) to set up and 2r multiply-adds per
// entry per chunk, against κ for honest recomputation, plus the stream of the
// stored words. It never recomputes a product of A and B.

// reuseStore is what the attacker keeps of one product A·B.
type reuseStore struct {
	m, k, n int
	g       Geometry
	chunks  int
	ti, tj  int
	// sums holds tile (I, J)'s partial sums at offs[I·tj+J]: chunk-major,
	// then the tile's rows·cols entries row-major without padding.
	sums []int32
	offs []int
}

// chunks is ⌈K/κ⌉.
func (g Geometry) chunks(k int) int { return (k + g.Chunk - 1) / g.Chunk }

// newReuseStore computes A·B once, keeping every tile's per-chunk partial sums.
func newReuseStore(a, b I8, g Geometry) *reuseStore {
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	s := &reuseStore{m: m, k: k, n: n, g: g, chunks: g.chunks(k)}
	s.ti, s.tj = g.Tiles(m, n)
	s.offs = make([]int, s.ti*s.tj+1)
	for t := 0; t < s.ti*s.tj; t++ {
		h, w := g.TileShape(m, n, t/s.tj, t%s.tj)
		s.offs[t+1] = s.offs[t] + s.chunks*h*w
	}
	s.sums = make([]int32, s.offs[len(s.offs)-1])

	aps := make([]*aPanel, s.ti)
	bps := make([]*bPanel, s.tj)
	parallelFor(s.ti+s.tj, func(_, t int) bool {
		if t < s.ti {
			h, _ := g.TileShape(m, n, t, 0)
			aps[t] = buildAPanel(a, noNoise, t*g.Tile, h, nil)
		} else {
			_, w := g.TileShape(m, n, 0, t-s.ti)
			bps[t-s.ti] = buildBPanel(b, noNoise, (t-s.ti)*g.Tile, w, nil)
		}
		return true
	})
	span := spanFor(128)
	parallelFor(s.ti*s.tj, func(_, t int) bool {
		ap, bp := aps[t/s.tj], bps[t%s.tj]
		h, w, ldc := ap.rows, bp.cols, bp.stride()
		acc := make([]int32, ap.groups*mr*ldc)
		out := s.sums[s.offs[t]:s.offs[t+1]]
		for c := 0; c < s.chunks; c++ {
			k0, k1 := c*g.Chunk, min((c+1)*g.Chunk, k)
			for p0 := k0; p0 < k1; p0 += span {
				accumulate(ap, bp, p0, min(p0+span, k1), acc)
			}
			for ii := 0; ii < h; ii++ {
				copy(out[(c*h+ii)*w:(c*h+ii+1)*w], acc[ii*ldc:ii*ldc+w])
			}
		}
		return true
	})
	return s
}

// words is how many int32 words the attacker stores (and streams per seed).
func (s *reuseStore) words() int { return len(s.sums) }

// Packed corrections use the SWAR layout of the portable kernel: three 21-bit
// signed lanes per int64, so one multiply adds three entries' terms.
const reuseLanes = lanes

// reuseSeed is the O(n²r) set-up for one seed: per chunk, each row's 2r
// coefficients (ΔCX(t) row, EL row) and each tile column block's 2r packed rows
// (FR, ΔCY(t)), Δ being one chunk's increment.
type reuseSeed struct {
	r2    int     // 2r
	wpt   int     // packed words per tile row: ⌈b/3⌉
	coef  []int64 // [t][i][2r]
	vecs  []int64 // [t][J][2r][wpt]
	swar  bool    // the increments fit the 21-bit lanes
	dcx   []int32 // [t][i][r], for the scalar path
	dcy   []int32 // [t][q][N], for the scalar path
	noise *Noise
}

func newReuseSeed(s *reuseStore, a, b I8, nz *Noise) *reuseSeed {
	m, k, n, g := s.m, s.k, s.n, s.g
	nz.mustFit(m, k, n)
	r := nz.Rank
	T := s.chunks
	rs := &reuseSeed{r2: 2 * r, wpt: (g.Tile + reuseLanes - 1) / reuseLanes, noise: nz}
	// One chunk's increment of a corrected entry is bounded by
	// r·128·κ (CX·FR) + r·(128+r)·κ (EL·CY); it must fit a lane.
	rs.swar = int64(r)*int64(g.Chunk)*int64(256+r) < 1<<(laneBits-1)

	// ΔCX(t) = A[:, chunk t]·FL[chunk t, :], row by row.
	rs.dcx = make([]int32, T*m*r)
	parallelFor(m, func(_, i int) bool {
		arow := a.Row(i)
		acc := make([]int32, r)
		for t := 0; t < T; t++ {
			clear(acc)
			for kk := t * g.Chunk; kk < min((t+1)*g.Chunk, k); kk++ {
				v := int32(arow[kk])
				if v == 0 {
					continue
				}
				for q, f := range nz.FL[kk*r : (kk+1)*r] {
					acc[q] += v * int32(f)
				}
			}
			copy(rs.dcx[(t*m+i)*r:], acc)
		}
		return true
	})
	// ΔCY(t) = ER[:, chunk t]·(B + FL·FR)[chunk t, :]
	//        = ER[:, chunk]·B[chunk, :] + (ER[:, chunk]·FL[chunk, :])·FR.
	rs.dcy = make([]int32, T*r*n)
	parallelFor(T, func(_, t int) bool {
		out := rs.dcy[t*r*n : (t+1)*r*n]
		gm := make([]int32, r*r) // ER·FL over the chunk
		for kk := t * g.Chunk; kk < min((t+1)*g.Chunk, k); kk++ {
			brow := b.Row(kk)
			for q := 0; q < r; q++ {
				dst := out[q*n : (q+1)*n]
				switch nz.ER[q*k+kk] {
				case 1:
					for j, v := range brow {
						dst[j] += int32(v)
					}
				case -1:
					for j, v := range brow {
						dst[j] -= int32(v)
					}
				default:
					continue
				}
				e := int32(nz.ER[q*k+kk])
				for p := 0; p < r; p++ {
					gm[q*r+p] += e * int32(nz.FL[kk*r+p])
				}
			}
		}
		for q := 0; q < r; q++ {
			dst := out[q*n : (q+1)*n]
			for p := 0; p < r; p++ {
				c := gm[q*r+p]
				if c == 0 {
					continue
				}
				for j, f := range nz.FR[p*n : (p+1)*n] {
					dst[j] += c * int32(f)
				}
			}
		}
		return true
	})
	if !rs.swar {
		return rs
	}

	r2, wpt := rs.r2, rs.wpt
	rs.coef = make([]int64, T*m*r2)
	for t := 0; t < T; t++ {
		for i := 0; i < m; i++ {
			c := rs.coef[(t*m+i)*r2 : (t*m+i+1)*r2]
			for q := 0; q < r; q++ {
				c[q] = int64(rs.dcx[(t*m+i)*r+q])
				c[r+q] = int64(nz.EL[i*r+q])
			}
		}
	}
	pack := func(dst []int64, row func(j int) int64, j0, w int) {
		for jj := 0; jj < w; jj++ {
			dst[jj/reuseLanes] += row(j0+jj) << (laneBits * (jj % reuseLanes))
		}
	}
	rs.vecs = make([]int64, T*s.tj*r2*wpt)
	parallelFor(T, func(_, t int) bool {
		for J := 0; J < s.tj; J++ {
			j0 := J * g.Tile
			_, w := g.TileShape(m, n, 0, J)
			base := (t*s.tj + J) * r2 * wpt
			for q := 0; q < r; q++ {
				fr := nz.FR[q*n : (q+1)*n]
				dy := rs.dcy[(t*r+q)*n : (t*r+q+1)*n]
				pack(rs.vecs[base+q*wpt:base+(q+1)*wpt], func(j int) int64 { return int64(fr[j]) }, j0, w)
				pack(rs.vecs[base+(r+q)*wpt:base+(r+q+1)*wpt], func(j int) int64 { return int64(dy[j]) }, j0, w)
			}
		}
		return true
	})
	return rs
}

// reuseScratch is one worker's buffers.
type reuseScratch struct {
	corr []int32 // the tile's cumulative correction CX(t)·FR + EL·CY(t)
	lane []int64 // one packed row of the current chunk's increment
	h    hash.Hash
}

// reuseMode says how much of the attack digests plays.
type reuseMode int

const (
	// reuseFull produces the true digests: stream, correct, mix, hash.
	reuseFull reuseMode = iota
	// reuseMixOnly streams and mixes the stored words with no correction
	// (wrong digests): what any attacker pays besides the correction, with
	// this package's scalar mix.
	reuseMixOnly
	// reuseStreamOnly only reads every stored word (wrong digests): a floor
	// under any reuse attacker on this machine's memory bandwidth.
	reuseStreamOnly
)

// digests produces every tile's digest for noise nz from the stored sums
// alone, passing each to visit (from several goroutines) like NoisedMatMul.
// Modes other than reuseFull skip work and give wrong digests: they time
// floors under the attack.
func (s *reuseStore) digests(a, b I8, nz *Noise, visit TileVisitor, mode reuseMode) bool {
	if a.Rows != s.m || a.Cols != s.k || b.Rows != s.k || b.Cols != s.n {
		panic(fmt.Sprintf("compute: reuse store is %d×%d×%d, operands %d×%d·%d×%d", s.m, s.k, s.n, a.Rows, a.Cols, b.Rows, b.Cols))
	}
	var rs *reuseSeed
	if mode == reuseFull {
		rs = newReuseSeed(s, a, b, nz)
	}
	g := s.g
	scratch := make([]reuseScratch, workers(s.ti*s.tj))
	var stop atomic.Bool
	return parallelFor(s.ti*s.tj, func(wk, t int) bool {
		if stop.Load() {
			return false
		}
		sc := &scratch[wk]
		if sc.h == nil {
			sc.h = keccak.NewLegacyKeccak256()
			sc.corr = make([]int32, g.Tile*g.Tile)
			if rs != nil {
				sc.lane = make([]int64, rs.wpt)
			}
		}
		I, J := t/s.tj, t%s.tj
		var d [32]byte
		if mode == reuseStreamOnly {
			d = s.tileStream(I, J)
		} else {
			d = s.tileDigest(rs, I, J, sc)
		}
		if visit != nil && !visit(I, J, d) {
			stop.Store(true)
			return false
		}
		return true
	})
}

func (s *reuseStore) tileDigest(rs *reuseSeed, I, J int, sc *reuseScratch) (digest [32]byte) {
	g := s.g
	h, w := g.TileShape(s.m, s.n, I, J)
	hw := h * w
	sums := s.sums[s.offs[I*s.tj+J]:s.offs[I*s.tj+J+1]]
	corr := sc.corr[:hw]
	clear(corr)
	sc.h.Reset()
	var zb [8]byte
	for t := 0; t < s.chunks; t++ {
		st := sums[t*hw : (t+1)*hw]
		var z uint64
		switch {
		case rs == nil:
			z = mix(st, h, w, w, g.Tile)
		case rs.swar:
			z = s.chunkSWAR(rs, t, I, J, h, w, st, corr, sc.lane)
		default:
			z = s.chunkScalar(rs, t, I, J, h, w, st, corr)
		}
		binary.BigEndian.PutUint64(zb[:], z)
		sc.h.Write(zb[:])
	}
	sc.h.Sum(digest[:0])
	return digest
}

// tileStream reads every stored word of tile (I, J), eight independent sums
// so that the loop is bound by memory, not by an add chain.
func (s *reuseStore) tileStream(I, J int) (d [32]byte) {
	sums := s.sums[s.offs[I*s.tj+J]:s.offs[I*s.tj+J+1]]
	var x [8]int32
	i := 0
	for ; i+8 <= len(sums); i += 8 {
		v := sums[i : i+8 : i+8]
		x[0] += v[0]
		x[1] += v[1]
		x[2] += v[2]
		x[3] += v[3]
		x[4] += v[4]
		x[5] += v[5]
		x[6] += v[6]
		x[7] += v[7]
	}
	for ; i < len(sums); i++ {
		x[0] += sums[i]
	}
	for l, v := range x {
		binary.LittleEndian.PutUint32(d[4*l:], uint32(v))
	}
	return d
}

// chunkSWAR adds chunk t's correction increment to corr and mixes S(t)+corr.
func (s *reuseStore) chunkSWAR(rs *reuseSeed, t, I, J, h, w int, st, corr []int32, lane []int64) uint64 {
	r2, wpt := rs.r2, rs.wpt
	words := (w + reuseLanes - 1) / reuseLanes
	vecs := rs.vecs[(t*s.tj+J)*r2*wpt : (t*s.tj+J+1)*r2*wpt]
	lane = lane[:words]
	var z uint64
	for ii := 0; ii < h; ii++ {
		i := I*s.g.Tile + ii
		coef := rs.coef[(t*s.m+i)*r2 : (t*s.m+i+1)*r2]
		clear(lane)
		for q, c := range coef {
			if c == 0 {
				continue
			}
			v := vecs[q*wpt : q*wpt+words]
			for wd, x := range v {
				lane[wd] += c * x
			}
		}
		crow := corr[ii*w : (ii+1)*w]
		srow := st[ii*w : (ii+1)*w]
		salt := uint32(ii*s.g.Tile+1) * mixStep
		jj := 0
		for _, word := range lane {
			for l := 0; l < reuseLanes && jj < w; l++ {
				v := word << laneShift >> laneShift
				word = (word - v) >> laneBits
				crow[jj] += int32(v)
				x := uint64(uint32(srow[jj]+crow[jj]) ^ salt)
				z += x * x
				salt += mixStep
				jj++
			}
		}
	}
	return z
}

// chunkScalar is chunkSWAR without packing, for geometries whose increments
// overflow a 21-bit lane (κ·r large).
func (s *reuseStore) chunkScalar(rs *reuseSeed, t, I, J, h, w int, st, corr []int32) uint64 {
	nz, r, n := rs.noise, rs.noise.Rank, s.n
	j0 := J * s.g.Tile
	var z uint64
	for ii := 0; ii < h; ii++ {
		i := I*s.g.Tile + ii
		dcx := rs.dcx[(t*s.m+i)*r : (t*s.m+i+1)*r]
		el := nz.EL[i*r : (i+1)*r]
		crow := corr[ii*w : (ii+1)*w]
		srow := st[ii*w : (ii+1)*w]
		salt := uint32(ii*s.g.Tile+1) * mixStep
		for jj := range crow {
			var d int32
			for q := 0; q < r; q++ {
				d += dcx[q]*int32(nz.FR[q*n+j0+jj]) + int32(el[q])*rs.dcy[(t*r+q)*n+j0+jj]
			}
			crow[jj] += d
			x := uint64(uint32(srow[jj]+crow[jj]) ^ salt)
			z += x * x
			salt += mixStep
		}
	}
	return z
}
