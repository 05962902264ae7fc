package compute

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	"github.com/ethereum/go-ethereum/crypto"
)

// Noise v2 (docs/protocol.md §3). With r = κ (the chunk), and K cut into
// chunks t of r columns (the last one may be shorter, r_t = min(r, K − t·r)):
//
//	E[i][k] = SA[k] · EL[i][k mod r]                  (E = EL·ER, ER[c][k] = SA[k]·[c = k mod r])
//	F[k][j] = SB[k] · FR[π_t(k mod r)][j],  t = k / r (F = FL·FR, FL[k][c] = SB[k]·[c = π_t(k mod r)])
//
// EL (M×r) and FR (r×N) have entries in [−NoiseMax, NoiseMax], SA and SB are
// ±1 and π_t is a permutation of [0, r_t) drawn per chunk. Every entry of E
// and F is a single factor entry, so |E|, |F| ≤ NoiseMax and operands in
// [−OperandMax, OperandMax] stay inside int8 once noised: the noised product
// is a plain int8 GEMM. Inside one chunk E restricted to its columns is EL
// times a signed permutation and F is a signed permutation times FR, so a
// chunk of an all-zero (or any low-rank) job is still a rank-r_t product:
// a degenerate self-job saves nothing (κ = r, cuPOW's rule), and the per-chunk
// permutation π_t keeps consecutive chunks from sharing their rank-1 terms.
const (
	// NoiseMax bounds every entry of the noise factors EL and FR.
	NoiseMax = 15
	// OperandMax bounds every entry of A and B that enters a noised product:
	// OperandMax + NoiseMax = 127, so A+E and B+F are int8.
	OperandMax = 127 - NoiseMax
)

// Noise is the noise of one M×K by K×N product under one seed. The sign and
// permutation part (O(K)) is drawn at construction; EL and FR are drawn per
// tile row and tile column from their own streams, so a validator that checks
// one tile draws only that tile's rows and columns.
type Noise struct {
	Key        [32]byte
	M, K, N    int
	Rank, Tile int
	SA, SB     []int8    // ±1, K each
	Perm       [][]uint8 // π_t, one per chunk; entries < 256 (r ≤ 256)

	frOnce sync.Once
	frRow  []uint16
}

// MaxRank is the largest noise rank (= chunk) the byte-sized permutations hold.
const MaxRank = 256

// NewNoise draws the sign and permutation part of the noise of an M×K by K×N
// product with tile edge g.Tile and rank r = g.Chunk, keyed by key =
// H(seed ‖ workRef). It panics on a rank outside [1, MaxRank]: genesis
// validation keeps chunkSize there.
func NewNoise(key [32]byte, m, k, n int, g Geometry) *Noise {
	g.mustValid()
	r := g.Chunk
	if m < 0 || k < 0 || n < 0 || r < 1 || r > MaxRank {
		panic(fmt.Sprintf("compute: NewNoise(%d, %d, %d, rank %d): bad size", m, k, n, r))
	}
	nz := &Noise{Key: key, M: m, K: k, N: n, Rank: r, Tile: g.Tile}
	x := NewXoshiro(subKey(key, 'S', 0))
	nz.SA = drawSigns(x, k)
	nz.SB = drawSigns(x, k)
	chunks := (k + r - 1) / r
	nz.Perm = make([][]uint8, chunks)
	for t := range nz.Perm {
		rt := min(r, k-t*r)
		p := make([]uint8, rt)
		for i := range p {
			p[i] = uint8(i)
		}
		for i := rt - 1; i > 0; i-- {
			j := int(x.Next() % uint64(i+1))
			p[i], p[j] = p[j], p[i]
		}
		nz.Perm[t] = p
	}
	return nz
}

// subKey is the key of one noise stream: H(key ‖ tag ‖ uint32 index).
func subKey(key [32]byte, tag byte, index int) [32]byte {
	var buf [37]byte
	copy(buf[:], key[:])
	buf[32] = tag
	binary.BigEndian.PutUint32(buf[33:], uint32(index))
	return crypto.Keccak256Hash(buf[:])
}

// drawSigns draws n signs, 64 per output word from the least significant bit:
// 1 means −1.
func drawSigns(x *Xoshiro, n int) []int8 {
	s := make([]int8, n)
	for i := 0; i < n; i += 64 {
		w := x.Next()
		for b := 0; b < 64 && i+b < n; b++ {
			s[i+b] = 1 - 2*int8(w>>b&1)
		}
	}
	return s
}

// drawFactor fills dst with factor entries, eight per output word: byte q
// (little-endian) gives (q & 15) − (q >> 4), in [−NoiseMax, NoiseMax] (a
// triangular law over all 31 values, eight entries in a few word operations).
func drawFactor(x *Xoshiro, dst []int8) {
	full := len(dst) / 8
	if full > 0 {
		words := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(dst))), full)
		x.Fill(words)
		for i, w := range words {
			words[i] = factorBytes(w)
		}
	}
	if rest := dst[8*full:]; len(rest) > 0 {
		e := factorBytes(x.Next())
		for b := range rest {
			rest[b] = int8(e >> (8 * b))
		}
	}
}

// factorBytes maps each byte q of w to (q & 15) − (q >> 4): lo + 128 − hi
// lies in [113, 143], so the bytewise subtraction never borrows.
func factorBytes(w uint64) uint64 {
	lo := w & 0x0F0F0F0F0F0F0F0F
	hi := (w >> 4) & 0x0F0F0F0F0F0F0F0F
	return ((lo | 0x8080808080808080) - hi) ^ 0x8080808080808080
}

// ELRows draws the EL rows of tile row I: min(Tile, M − I·Tile) rows of r
// entries, row-major, from the stream H(key ‖ 'E' ‖ I).
func (nz *Noise) ELRows(I int) []int8 {
	h := min(nz.Tile, nz.M-I*nz.Tile)
	out := make([]int8, h*nz.Rank)
	drawFactor(NewXoshiro(subKey(nz.Key, 'E', I)), out)
	return out
}

// FRCols draws the FR columns of tile column J: an r × w block (w =
// min(Tile, N − J·Tile)), row-major, from the stream H(key ‖ 'F' ‖ J).
func (nz *Noise) FRCols(J int) []int8 {
	w := min(nz.Tile, nz.N-J*nz.Tile)
	out := make([]int8, nz.Rank*w)
	drawFactor(NewXoshiro(subKey(nz.Key, 'F', J)), out)
	return out
}

func (nz *Noise) mustFit(m, k, n int) {
	if nz == nil {
		return
	}
	if nz.M != m || nz.K != k || nz.N != n {
		panic(fmt.Sprintf("compute: noise for %d×%d×%d does not fit a %d×%d×%d product", nz.M, nz.K, nz.N, m, k, n))
	}
}

// noisedARows writes rows [i0, i0+h) of A' = A + E into dst (h×K,
// row-major); i0 starts a tile row. With nz nil it copies A.
func (nz *Noise) noisedARows(a I8, i0, h int, dst []int8) {
	k := a.Cols
	if nz == nil {
		copy(dst[:h*k], a.Data[i0*k:(i0+h)*k])
		return
	}
	el := nz.ELRows(i0 / nz.Tile)
	r := nz.Rank
	for ii := 0; ii < h; ii++ {
		addTiled(dst[ii*k:(ii+1)*k], a.Row(i0+ii), el[ii*r:(ii+1)*r], nz.SA)
	}
}

// noisedBCols writes columns [j0, j0+w) of B' = B + F into dst (K×w,
// row-major); j0 starts a tile column. With nz nil it copies those columns.
func (nz *Noise) noisedBCols(b I8, j0, w int, dst []int8) {
	k, n := b.Rows, b.Cols
	if nz == nil {
		for kk := 0; kk < k; kk++ {
			copy(dst[kk*w:(kk+1)*w], b.Data[kk*n+j0:kk*n+j0+w])
		}
		return
	}
	addSignedRows(dst, b.Data[j0:], n, nz.FRCols(j0/nz.Tile), nz.frRows(), nz.SB, k, w)
}

// frRows is, per k, the FR row that F's row k copies: π_t(k mod r).
func (nz *Noise) frRows() []uint16 {
	nz.frOnce.Do(func() {
		nz.frRow = make([]uint16, nz.K)
		for kk := range nz.frRow {
			t := kk / nz.Rank
			nz.frRow[kk] = uint16(nz.Perm[t][kk-t*nz.Rank])
		}
	})
	return nz.frRow
}

// addSignedRowsGo is dst[kk][j] = src[kk·ld + j] + s[kk]·fr[idx[kk]][j] for
// kk < rows, j < w (dst rows w apart, fr rows w apart).
func addSignedRowsGo(dst, src []int8, ld int, fr []int8, idx []uint16, s []int8, rows, w int) {
	for kk := 0; kk < rows; kk++ {
		e := fr[int(idx[kk])*w:][:w]
		addSignedGo(dst[kk*w:(kk+1)*w], src[kk*ld:kk*ld+w], e, s[kk])
	}
}

// addTiledGo is dst[k] = a[k] + s[k]·e[k mod len(e)].
func addTiledGo(dst, a, e, s []int8) {
	r := len(e)
	for k0 := 0; k0 < len(a); k0 += r {
		seg := a[k0:min(k0+r, len(a))]
		for c, v := range seg {
			dst[k0+c] = v + s[k0+c]*e[c]
		}
	}
}

// addSignedGo is dst[j] = a[j] + s·e[j].
func addSignedGo(dst, a, e []int8, s int8) {
	for j, v := range a {
		dst[j] = v + s*e[j]
	}
}

// NoisedOperands materializes A' = A + E and B' = B + F whole (tests, the
// reference denoising and the attack models; miners build them tile by tile).
func (nz *Noise) NoisedOperands(a, b I8) (ap, bp I8) {
	mustProductShape(a, b)
	nz.mustFit(a.Rows, a.Cols, b.Cols)
	m, k := a.Rows, a.Cols
	ap = NewI8(m, k)
	tile := nz.Tile
	for I := 0; I*tile < m; I++ {
		h := min(tile, m-I*tile)
		nz.noisedARows(a, I*tile, h, ap.Data[I*tile*k:])
	}
	return ap, nz.noisedBWhole(b)
}

// noisedBWhole materializes B' = B + F (K×N, row-major) tile column by
// tile column.
func (nz *Noise) noisedBWhole(b I8) I8 {
	k, n, tile := b.Rows, b.Cols, nz.Tile
	bp := NewI8(k, n)
	for J := 0; J*tile < n; J++ {
		w := min(tile, n-J*tile)
		blk := make([]int8, k*w)
		nz.noisedBCols(b, J*tile, w, blk)
		for kk := 0; kk < k; kk++ {
			copy(bp.Data[kk*n+J*tile:], blk[kk*w:(kk+1)*w])
		}
	}
	return bp
}

// Factors returns the whole EL (M×r) and FR (r×N), row-major.
func (nz *Noise) Factors() (el, fr []int8) {
	r, tile := nz.Rank, nz.Tile
	el = make([]int8, nz.M*r)
	for I := 0; I*tile < nz.M; I++ {
		copy(el[I*tile*r:], nz.ELRows(I))
	}
	fr = make([]int8, r*nz.N)
	for J := 0; J*tile < nz.N; J++ {
		w := min(tile, nz.N-J*tile)
		blk := nz.FRCols(J)
		for c := 0; c < r; c++ {
			copy(fr[c*nz.N+J*tile:], blk[c*w:(c+1)*w])
		}
	}
	return el, fr
}

// Denoise recovers A·B from the noised product A'B' (docs/protocol.md §3):
// A·B = A'B' − (A·FL)·FR − EL·(ER·B'), where A·FL (M×r) and ER·B' (r×N) cost
// O(MK + KN) because FL and ER have one ±1 per row and column: 2r·M·N MACs in
// all. Miners compute a job's C with a plain product beside the transcript
// (same cost at K ≈ 8r and simpler); this is the protocol's statement that
// the noised product is the useful one, and the tests hold it to the bit.
func (nz *Noise) Denoise(noised I32, a, b I8) I32 {
	m, k, n, r := nz.M, nz.K, nz.N, nz.Rank
	bp := nz.noisedBWhole(b)
	el, fr := nz.Factors()
	afl := make([]int64, m*r) // (A·FL)[i][c] = Σ_k A[i][k]·SB[k]·[π_t(k mod r) = c]
	erb := make([]int64, r*n) // (ER·B')[c][j] = Σ_{k mod r = c} SA[k]·B'[k][j]
	for kk := 0; kk < k; kk++ {
		t := kk / r
		cf := int(nz.Perm[t][kk-t*r])
		ce := kk % r
		for i := 0; i < m; i++ {
			afl[i*r+cf] += int64(a.Data[i*k+kk]) * int64(nz.SB[kk])
		}
		for j := 0; j < n; j++ {
			erb[ce*n+j] += int64(nz.SA[kk]) * int64(bp.Data[kk*n+j])
		}
	}
	c := NewI32(m, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			v := int64(noised.Data[i*n+j])
			for q := 0; q < r; q++ {
				v -= afl[i*r+q]*int64(fr[q*n+j]) + int64(el[i*r+q])*erb[q*n+j]
			}
			c.Data[i*n+j] = int32(v)
		}
	}
	return c
}
