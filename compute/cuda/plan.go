package cuda

import (
	_ "embed"
	"encoding/binary"

	"github.com/ethereum/go-ethereum/crypto/keccak"
	"github.com/quern-chain/quern/compute"
)

// kernelSource is compiled by NVRTC for each GPU architecture at Open.
//
//go:embed kernels.cu
var kernelSource string

// Layout constants shared with kernels.cu (same names in capitals there).
const (
	segK     = 64  // SEG: k columns per packed segment
	tileEdge = 64  // TILE: the transcript tile b the kernels are built for
	ctaEdge  = 128 // BM = BN of the tensor-core kernel; packed rows and columns are padded to it
	dp4aEdge = 64  // the dp4a kernel's CTA edge
	threads  = 256 // every kernel's block size
)

// supported reports whether the GPU kernels cover geometry g with noise nz
// (nil: no noise); other products run on the CPU fallback (they are valid,
// just not the genesis geometry the kernels are shaped for).
func supported(g compute.Geometry, nz *compute.Noise) bool {
	if g.Tile != tileEdge || g.Chunk <= 0 || g.Chunk%segK != 0 {
		return false
	}
	return nz == nil || (nz.Rank == g.Chunk && nz.Tile == g.Tile)
}

// plan is the packed layout of one band of rows of one product, the same for
// every kernel that touches it.
type plan struct {
	m, k, n        int  // band rows, inner dimension, columns
	noised         bool // transcript words
	width          int  // packed k bytes per segment (segK)
	segs           int  // ⌈K/64⌉ segments
	spc            int  // segments per transcript chunk
	chunks         int  // T = ⌈K/κ⌉
	kq             int  // packed row length: segs·width
	mp, np         int  // rows and columns padded to ctaEdge
	tilesM, tilesN int  // transcript tiles of the band
}

func newPlan(m, k, n int, noised bool, g compute.Geometry) plan {
	p := plan{m: m, k: k, n: n, noised: noised, width: segK, spc: 1}
	p.segs = (k + segK - 1) / segK
	if noised {
		p.spc = g.Chunk / segK
		p.chunks = (k + g.Chunk - 1) / g.Chunk
		p.tilesM, p.tilesN = g.Tiles(m, n)
	}
	p.kq = p.segs * p.width
	p.mp = (m + ctaEdge - 1) / ctaEdge * ctaEdge
	p.np = (n + ctaEdge - 1) / ctaEdge * ctaEdge
	return p
}

// zWords is the length of the z array the kernels write: two partial words
// per (tile, chunk), one per warp half of the tile, summed by the host.
func (p plan) zWords() int { return p.tilesM * p.tilesN * p.chunks * 2 }

// digest is Keccak-256(z(1) ‖ … ‖ z(T)), each z 4 bytes big-endian
// (compute/noised.go), for band tile (ti, tj); z(t) is the sum mod 2³² of the
// two partials.
func (p plan) digest(zpart []uint32, ti, tj int) [32]byte {
	h := keccak.NewLegacyKeccak256()
	base := (ti*p.tilesN + tj) * p.chunks * 2
	buf := make([]byte, 4*p.chunks)
	for t := 0; t < p.chunks; t++ {
		binary.BigEndian.PutUint32(buf[4*t:], zpart[base+2*t]+zpart[base+2*t+1])
	}
	h.Write(buf)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// productOK reports whether a·b is well formed; malformed calls go to the CPU
// backend, whose panic message says what is wrong.
func productOK(a, b compute.I8) bool {
	return a.Rows >= 0 && a.Cols >= 0 && b.Cols >= 0 && len(a.Data) == a.Rows*a.Cols &&
		len(b.Data) == b.Rows*b.Cols && a.Cols == b.Rows && a.Cols <= compute.MaxK
}

// noiseOK reports whether nz (nil: no noise) fits an M×K by K×N product.
func noiseOK(nz *compute.Noise, m, k, n int) bool {
	return nz == nil || (nz.M == m && nz.K == k && nz.N == n)
}

// bands splits the tile rows of an M-row product evenly over count devices;
// each band starts on a tile boundary so one device owns whole tiles.
func bands(m, count int) [][2]int {
	tiles := (m + tileEdge - 1) / tileEdge
	var out [][2]int
	for d := 0; d < count; d++ {
		t0, t1 := tiles*d/count, tiles*(d+1)/count
		if t1 > t0 {
			out = append(out, [2]int{t0 * tileEdge, min(t1*tileEdge, m)})
		}
	}
	return out
}
