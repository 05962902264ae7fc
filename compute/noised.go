package compute

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/crypto/keccak"
)

// Geometry fixes how a product is cut into tickets: Tile is the side b of an
// output tile, Chunk the K-chunk κ after which each tile's partial sums are
// mixed into the transcript. Both come from genesis.
type Geometry struct {
	Tile, Chunk int
}

// Validate reports whether g can be used.
func (g Geometry) Validate() error {
	if g.Tile < 1 || g.Chunk < 1 {
		return fmt.Errorf("geometry: tile %d and chunk %d must both be at least 1", g.Tile, g.Chunk)
	}
	return nil
}

// Tiles returns how many tile rows and tile columns an M×N output has.
func (g Geometry) Tiles(m, n int) (ti, tj int) {
	return (m + g.Tile - 1) / g.Tile, (n + g.Tile - 1) / g.Tile
}

// TileShape returns the rows and columns of tile (ti, tj) of an M×N output;
// edge tiles are smaller. A tile's work is rows·cols·K MACs.
func (g Geometry) TileShape(m, n, ti, tj int) (rows, cols int) {
	return min(g.Tile, m-ti*g.Tile), min(g.Tile, n-tj*g.Tile)
}

func (g Geometry) mustValid() {
	if err := g.Validate(); err != nil {
		panic("compute: " + err.Error())
	}
}

// TileVisitor receives each tile's digest as NoisedMatMul finishes it. It may
// be called from several goroutines at once (callers synchronise); returning
// false stops the product early.
type TileVisitor func(ti, tj int, digest [32]byte) bool

// mixStep is the golden-ratio constant of the per-entry salt.
const mixStep = 0x9E3779B1

// mix folds one chunk's cumulative partial sums of an h×w tile (row stride ldc
// in acc) into z = Σ x², x = uint32(P) ^ salt(ii·tile + jj), wrapping mod 2⁶⁴.
// Squaring makes it non-linear, so z cannot be had from a linear sketch; the
// sum makes it order-free inside the chunk.
func mix(acc []int32, h, w, ldc, tile int) uint64 {
	var z uint64
	for ii := 0; ii < h; ii++ {
		s := uint32(ii*tile+1) * mixStep
		for _, v := range acc[ii*ldc : ii*ldc+w] {
			x := uint64(uint32(v) ^ s)
			z += x * x
			s += mixStep
		}
	}
	return z
}

// transcript runs one tile over K chunk by chunk, mixing after every chunk,
// and returns Keccak-256(z(1) ‖ … ‖ z(T)) with each z big-endian. acc must hold
// ap.groups·mr × bp.stride() entries; on return it holds the tile's full
// noised product. It gives up (false) when stop is set.
func transcript(ap *aPanel, bp *bPanel, g Geometry, span int, acc []int32, stop *atomic.Bool) (digest [32]byte, ok bool) {
	k := ap.k
	h := keccak.NewLegacyKeccak256()
	clear(acc)
	var zb [8]byte
	for k0 := 0; k0 < k; k0 += g.Chunk {
		k1 := min(k0+g.Chunk, k)
		// Equal sub-spans no longer than a SWAR lane allows.
		n := k1 - k0
		parts := (n + span - 1) / span
		for p := 0; p < parts; p++ {
			accumulate(ap, bp, k0+p*n/parts, k0+(p+1)*n/parts, acc)
		}
		binary.BigEndian.PutUint64(zb[:], mix(acc, ap.rows, bp.cols, bp.stride(), g.Tile))
		h.Write(zb[:])
		if stop != nil && stop.Load() {
			return digest, false
		}
	}
	h.Sum(digest[:0])
	return digest, true
}

// noisedMatMul is the portable NoisedMatMul; without wantC it only visits the
// digests (NoisedTranscript) and returns an empty C.
func noisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor, wantC bool) (I32, bool) {
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	r := nz.Rank
	ti, tj := g.Tiles(m, n)
	nw := newNoiseWords(nz, m, k, n)

	// Pack A' = A+E by tile rows and B' = B+F by tile columns, building A·FL
	// and ER·B' on the way for the O(n²r) denoising.
	afl := make([]int32, m*r)
	erb := make([]int32, r*n)
	aps := make([]*aPanel, ti)
	bps := make([]*bPanel, tj)
	parallelFor(ti+tj, func(_, t int) bool {
		if t < ti {
			rows, _ := g.TileShape(m, n, t, 0)
			aps[t] = buildAPanel(a, nw, t*g.Tile, rows, afl)
		} else {
			_, cols := g.TileShape(m, n, 0, t-ti)
			bps[t-ti] = buildBPanel(b, nw, (t-ti)*g.Tile, cols, erb)
		}
		return true
	})

	var c I32
	if wantC {
		c = NewI32(m, n)
	}
	span := spanFor(128 + r)
	var stop atomic.Bool
	accs := make([][]int32, workers(ti*tj))
	done := parallelFor(ti*tj, func(wk, t int) bool {
		if stop.Load() {
			return false
		}
		I, J := t/tj, t%tj
		ap, bp := aps[I], bps[J]
		ldc := bp.stride()
		size := ap.groups * mr * ldc
		if len(accs[wk]) < size {
			accs[wk] = make([]int32, size)
		}
		acc := accs[wk][:size]
		digest, ok := transcript(ap, bp, g, span, acc, &stop)
		if !ok {
			return false
		}
		if visit != nil && !visit(I, J, digest) {
			stop.Store(true)
			return false
		}
		if !wantC {
			return true
		}
		// C = (A+E)(B+F) − (A·FL)·FR − EL·(ER·(B+F)).
		i0, j0 := I*g.Tile, J*g.Tile
		for ii := 0; ii < ap.rows; ii++ {
			i := i0 + ii
			crow := c.Data[i*n+j0 : i*n+j0+bp.cols]
			copy(crow, acc[ii*ldc:])
			for q := 0; q < r; q++ {
				if f := afl[i*r+q]; f != 0 {
					for jj, v := range nz.FR[q*n+j0 : q*n+j0+bp.cols] {
						crow[jj] -= f * int32(v)
					}
				}
				switch nz.EL[i*r+q] {
				case 1:
					for jj, v := range erb[q*n+j0 : q*n+j0+bp.cols] {
						crow[jj] -= v
					}
				case -1:
					for jj, v := range erb[q*n+j0 : q*n+j0+bp.cols] {
						crow[jj] += v
					}
				}
			}
		}
		return true
	})
	if !done || stop.Load() {
		return I32{}, false
	}
	return c, true
}

func tileDigest(a, b I8, nz *Noise, g Geometry, ti, tj int) [32]byte {
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	nti, ntj := g.Tiles(m, n)
	if ti < 0 || tj < 0 || ti >= nti || tj >= ntj {
		panic(fmt.Sprintf("compute: tile (%d, %d) outside the %d×%d tile grid", ti, tj, nti, ntj))
	}
	rows, cols := g.TileShape(m, n, ti, tj)
	nw := newNoiseWords(nz, m, k, n)
	ap := buildAPanel(a, nw, ti*g.Tile, rows, nil)
	bp := buildBPanel(b, nw, tj*g.Tile, cols, nil)
	acc := make([]int32, ap.groups*mr*bp.stride())
	d, _ := transcript(ap, bp, g, spanFor(128+nz.Rank), acc, nil)
	return d
}
