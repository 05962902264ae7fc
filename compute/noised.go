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
// in acc) into z = Σ (uint32(P) ^ salt)² mod 2³², salt = uint32(ii·tile + jj
// + 1)·0x9E3779B1. Squaring makes it non-linear (no linear sketch gives it)
// and needs every bit of P (no reduced-precision product gives it); the sum
// makes it order-free, so any tiling, SIMD lane order or GPU reduction gives
// the same word. Three vector operations per 16 entries (xor, mullo, add).
func mix(acc []int32, h, w, ldc, tile int) uint32 {
	var z uint32
	for ii := 0; ii < h; ii++ {
		s := uint32(ii*tile+1) * mixStep
		for _, v := range acc[ii*ldc : ii*ldc+w] {
			x := uint32(v) ^ s
			z += x * x
			s += mixStep
		}
	}
	return z
}

// digestWords is tileDigest = Keccak-256(z(1) ‖ … ‖ z(T)), each z 4 bytes
// big-endian.
func digestWords(z []uint32) (d [32]byte) {
	buf := make([]byte, 4*len(z))
	for t, v := range z {
		binary.BigEndian.PutUint32(buf[4*t:], v)
	}
	h := keccak.NewLegacyKeccak256()
	h.Write(buf)
	h.Sum(d[:0])
	return d
}

// transcript runs one tile over K chunk by chunk, mixing after every chunk.
// acc must hold ap.groups·mr × bp.stride() entries; on return it holds the
// tile's full product. It gives up (false) when stop is set.
func transcript(ap *aPanel, bp *bPanel, g Geometry, acc []int32, stop *atomic.Bool) (digest [32]byte, ok bool) {
	k := ap.k
	clear(acc)
	span := spanFor(127)
	z := make([]uint32, 0, (k+g.Chunk-1)/g.Chunk)
	for k0 := 0; k0 < k; k0 += g.Chunk {
		k1 := min(k0+g.Chunk, k)
		n := k1 - k0
		parts := (n + span - 1) / span
		for p := 0; p < parts; p++ {
			accumulate(ap, bp, k0+p*n/parts, k0+(p+1)*n/parts, acc)
		}
		z = append(z, mix(acc, ap.rows, bp.cols, bp.stride(), g.Tile))
		if stop != nil && stop.Load() {
			return digest, false
		}
	}
	return digestWords(z), true
}

// noisedAPanel packs rows [i0, i0+h) of A + E; noisedBPanel columns
// [j0, j0+w) of B + F.
func noisedAPanel(a I8, nz *Noise, i0, h int) *aPanel {
	rows := I8{Rows: h, Cols: a.Cols, Data: make([]int8, h*a.Cols)}
	nz.noisedARows(a, i0, h, rows.Data)
	return buildAPanel(rows, 0, h)
}

func noisedBPanel(b I8, nz *Noise, j0, w int) *bPanel {
	cols := I8{Rows: b.Rows, Cols: w, Data: make([]int8, b.Rows*w)}
	nz.noisedBCols(b, j0, w, cols.Data)
	return buildBPanel(cols, 0, w)
}

// noisedMatMul is the portable NoisedMatMul; without wantC it only visits the
// digests (NoisedTranscript) and returns an empty C. nz nil: no noise.
func noisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor, wantC bool) (I32, bool) {
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	mustNoiseGeometry(nz, g)
	ti, tj := g.Tiles(m, n)
	aps := make([]*aPanel, ti)
	bps := make([]*bPanel, tj)
	parallelFor(ti+tj, func(_, t int) bool {
		if t < ti {
			rows, _ := g.TileShape(m, n, t, 0)
			aps[t] = noisedAPanel(a, nz, t*g.Tile, rows)
		} else {
			_, cols := g.TileShape(m, n, 0, t-ti)
			bps[t-ti] = noisedBPanel(b, nz, (t-ti)*g.Tile, cols)
		}
		return true
	})
	var stop atomic.Bool
	accs := make([][]int32, workers(ti*tj))
	done := parallelFor(ti*tj, func(wk, t int) bool {
		if stop.Load() {
			return false
		}
		I, J := t/tj, t%tj
		ap, bp := aps[I], bps[J]
		size := ap.groups * mr * bp.stride()
		if len(accs[wk]) < size {
			accs[wk] = make([]int32, size)
		}
		digest, ok := transcript(ap, bp, g, accs[wk][:size], &stop)
		if !ok {
			return false
		}
		if visit != nil && !visit(I, J, digest) {
			stop.Store(true)
			return false
		}
		return true
	})
	if !done || stop.Load() {
		return I32{}, false
	}
	if !wantC {
		return I32{}, true
	}
	return matMul(a, b), true
}

// mustNoiseGeometry panics unless nz was drawn for geometry g.
func mustNoiseGeometry(nz *Noise, g Geometry) {
	if nz != nil && (nz.Rank != g.Chunk || nz.Tile != g.Tile) {
		panic(fmt.Sprintf("compute: noise of rank %d, tile %d used with chunk %d, tile %d", nz.Rank, nz.Tile, g.Chunk, g.Tile))
	}
}

// checkTile panics unless (ti, tj) is in the product's tile grid.
func checkTile(g Geometry, m, n, ti, tj int) {
	nti, ntj := g.Tiles(m, n)
	if ti < 0 || tj < 0 || ti >= nti || tj >= ntj {
		panic(fmt.Sprintf("compute: tile (%d, %d) outside the %d×%d tile grid", ti, tj, nti, ntj))
	}
}

func tileDigest(a, b I8, nz *Noise, g Geometry, ti, tj int) [32]byte {
	mustProductShape(a, b)
	g.mustValid()
	m, k, n := a.Rows, a.Cols, b.Cols
	nz.mustFit(m, k, n)
	mustNoiseGeometry(nz, g)
	checkTile(g, m, n, ti, tj)
	rows, cols := g.TileShape(m, n, ti, tj)
	ap := noisedAPanel(a, nz, ti*g.Tile, rows)
	bp := noisedBPanel(b, nz, tj*g.Tile, cols)
	d, _ := transcript(ap, bp, g, make([]int32, ap.groups*mr*bp.stride()), nil)
	return d
}
