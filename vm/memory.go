package vm

import (
	"math"
	"math/bits"

	"github.com/quern-chain/quern/compute"
)

// The static memory estimate. It bounds what one job makes a node allocate
// (TotalAlloc, not only the live peak) on every compute backend, from the
// shape and the geometry alone:
//
//   - miner: the stored program and its decoded copy (2·in), the operands
//     (in), the noise factors and their packed words (O(M+K+N)), the packed
//     panels and per-chunk noise streams of every tile row and tile column,
//     the per-worker accumulators, each tile's transcript words and hasher,
//     the exact result C, its encoding and the RLP buffers that hash it for
//     the result root (4·res);
//   - validator: the program, the operands, the result root's hashing
//     buffers and the decoded C (4·res with the data the block holds), two
//     Freivalds vectors; the seal check builds one tile's panels. Both are
//     parts of the miner's sum, so the miner's sum bounds both.
//
// Panels are counted per "line" (a row of A or a column of B) with rows and
// columns rounded up to whole tiles of at least 64 (the SIMD panels are 64
// wide whatever the tile) and K padded per chunk to 64 (the AMX K blocks).
// The per-line cost is the larger of the portable/AVX2 layout (two int16
// copies of the line, 4 bytes per K) and the int8 layout (one int8 copy,
// the AMX copy, two per-chunk streams of at most 112 bytes per chunk); the
// AMX packer also takes a padded buffer per row of A. vm's memory test
// measures the estimate against every backend the machine has.
const (
	scratchWorkers = 64  // accumulator sets counted (one per compute worker)
	minPanel       = 64  // SIMD panel width: a tile's lines are rounded up to it
	kBlock         = 64  // AMX pads every chunk to whole 64-byte K blocks
	streamBytes    = 112 // per line and chunk: ΔCX'/ΔCYB (36) and correction steps (≤ 68)
	lineBytes      = 128 // per line: correction panels, B row buffers
	tileBytes      = 512
	fixedBytes     = 1 << 20
)

// MemoryBytes is a conservative static estimate of the memory (bytes) a
// miner allocates to compute the program's product with geometry g, noise
// included, and a validator to check it (Freivalds and the seal check): the
// quantity MaxJobMemoryBytes caps. 0 for a program with the wrong inputs.
func (p *Program) MemoryBytes(g compute.Geometry) uint64 {
	if p.Kind == KindTrain {
		if p.Spec == nil || len(p.Spec.Layers) < 2 {
			return 0
		}
		return p.Spec.memoryBytes(g)
	}
	if p.Kind != KindMatMul || len(p.Inputs) != 2 {
		return 0
	}
	return memoryBytes(p.Inputs[0].Rows, p.Inputs[0].Cols, p.Inputs[1].Cols, g)
}

func memoryBytes(m32, k32, n32 uint32, g compute.Geometry) uint64 {
	m, k, n := uint64(m32), uint64(k32), uint64(n32)
	tile, chunk := uint64(max(g.Tile, 1)), uint64(max(g.Chunk, 1))
	in := satMul(k, m+n)
	res := ResultBytes(m32, n32)
	chunks := ceilDiv(k, chunk)
	kq := satMul(chunks, roundUp(min(chunk, k), kBlock)) // K padded per chunk
	ti, tj := ceilDiv(m, tile), ceilDiv(n, tile)
	pad := max(tile, minPanel)
	lines := satAdd(satMul(ti, pad), satMul(tj, pad))
	perLine := satAdd(max(satMul(4, k), satAdd(satAdd(k, kq), satMul(streamBytes, chunks))), lineBytes)
	// Noise v2 (r = κ): EL and FR drawn per tile row and column, r(M+N) plus
	// an edge tile each; signs 2K, permutations K (+ a slice header per
	// chunk) and the FR row index 2K; each worker's noised-operand scratch,
	// a tile row or column of A' or B' (pad·K bytes, pooled), counted for
	// every worker.
	noise := satAdd(satMul(chunk, satAdd(m+n, 2*pad)), satAdd(satMul(6, k), satMul(64, chunks)))
	noise = satAdd(noise, satMul(2*scratchWorkers, satMul(pad, k)))
	acc := satMul(scratchWorkers, satMul(4, satMul(pad+3, pad+6)))
	// Per tile: its transcript words (two partial words each on CUDA) and
	// their bytes, its hasher.
	tiles := satMul(satAdd(tileBytes, satMul(24, chunks)), satMul(ti, tj))
	total := satMul(3, in)
	for _, x := range []uint64{satMul(4, res), satMul(lines, perLine), satMul(m, kq), noise, acc, tiles, fixedBytes} {
		total = satAdd(total, x)
	}
	return total
}

func ceilDiv(a, b uint64) uint64 { return a/b + min(a%b, 1) }

func roundUp(a, b uint64) uint64 { return satMul(ceilDiv(a, b), b) }

func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

// memoryBytes is the training estimate: what one step allocates (a miner
// or a validator replaying an interval; steps run one after another and
// nothing of a step outlives the next but its state). With B the batch,
// in_l, out_l the widths, P the state's int32 values and C the classes:
//
//	3·(X+Y+meta)                     the program and its decoded copy
//	+ 24·P                           old and new state, a checkpoint's
//	                                 encoding and its decoded copy, dW (4P
//	                                 each), the int8 copies and transposes
//	+ Σ_l (6·B·in_l + 13·B·out_l)    activations and their transposes, z,
//	                                 δ, input-gradient products
//	+ 8·B·C + 4·B + 32·Steps         logits, batch indices, checkpoint roots
//	+ Σ over the step's products of the matmul estimate (noised, per
//	  product: forward B×in×out, weight gradient in×B×out, input gradient
//	  B×out×in) + 2^20.
func (s *TrainSpec) memoryBytes(g compute.Geometry) uint64 {
	b := uint64(s.Batch)
	total := satAdd(satMul(3, s.inputBytes()), satMul(24, s.params()))
	total = satAdd(total, satAdd(satMul(8*uint64(s.Layers[len(s.Layers)-1]), b), satMul(4, b)))
	total = satAdd(total, satAdd(satMul(32, uint64(s.Steps)), fixedBytes))
	for l := range s.layers() {
		in, out := s.Layers[l], s.Layers[l+1]
		total = satAdd(total, satMul(b, satAdd(satMul(6, uint64(in)), satMul(13, uint64(out)))))
		total = satAdd(total, memoryBytes(s.Batch, in, out, g))
		total = satAdd(total, memoryBytes(in, s.Batch, out, g))
		if l >= 1 {
			total = satAdd(total, memoryBytes(s.Batch, out, in, g))
		}
	}
	return total
}
