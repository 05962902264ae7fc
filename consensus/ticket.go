package consensus

import (
	"encoding/binary"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
)

// Seed is H(parentHash ‖ coinbase ‖ nonce): a fresh ticket set per nonce,
// bound to the miner's coinbase so nobody can steal a winning ticket.
func Seed(parent common.Hash, coinbase common.Address, nonce uint64) common.Hash {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], nonce)
	return types.Keccak(parent[:], coinbase[:], n[:])
}

// NoiseKey keys the low-rank noise of one product: H(seed ‖ workRef).
func NoiseKey(seed, workRef common.Hash) [32]byte {
	return types.Keccak(seed[:], workRef[:])
}

// Ticket is H(seed ‖ workRef ‖ I ‖ J ‖ tileDigest), I and J big-endian uint32.
func Ticket(seed, workRef common.Hash, ti, tj uint32, digest common.Hash) common.Hash {
	var ij [8]byte
	binary.BigEndian.PutUint32(ij[:4], ti)
	binary.BigEndian.PutUint32(ij[4:], tj)
	return types.Keccak(seed[:], workRef[:], ij[:], digest[:])
}

// Wins reports whether ticket beats the target of a tile of w MACs at
// difficulty d: ticket < 2^256 · w / d, evaluated exactly as ticket·d < w·2^256,
// so the expected work per block is d MACs whatever the mix of tile sizes.
func Wins(ticket common.Hash, w, d uint64) bool {
	if d == 0 || w >= d {
		return true
	}
	lhs := new(big.Int).SetBytes(ticket[:])
	lhs.Mul(lhs, new(big.Int).SetUint64(d))
	rhs := new(big.Int).Lsh(new(big.Int).SetUint64(w), 256)
	return lhs.Cmp(rhs) < 0
}

// Geometry is the tile and chunk size of work w fixed by the chain
// parameters: synthetic puzzles and job products have their own κ.
func Geometry(p *types.Params, w types.Work) compute.Geometry {
	if w.IsSynthetic() {
		return compute.Geometry{Tile: int(p.TileSize), Chunk: int(p.SyntheticChunkSize)}
	}
	return compute.Geometry{Tile: int(p.TileSize), Chunk: int(p.ChunkSize)}
}

// Noise is the noise of work w's m×k · k×n product under seed: none for a
// synthetic puzzle, whose operands are new with every seed already
// (docs/protocol.md §4), else compute.NewNoise keyed by NoiseKey(seed, ref)
// with rank r = chunkSize.
func Noise(p *types.Params, seed common.Hash, w types.Work, m, k, n int) *compute.Noise {
	if w.IsSynthetic() {
		return nil
	}
	return compute.NewNoise(NoiseKey(seed, w.Ref()), m, k, n, Geometry(p, w))
}

// TileWork is the MACs behind tile (ti, tj) of an m×k · k×n product: edge
// tiles are smaller, and their smaller work wins with smaller odds.
func TileWork(m, k, n, tile int, ti, tj uint32) uint64 {
	h := min(tile, m-int(ti)*tile)
	w := min(tile, n-int(tj)*tile)
	return uint64(h) * uint64(w) * uint64(k)
}

// tileCount is the number of tiles along an edge of length n.
func tileCount(n, tile int) int { return (n + tile - 1) / tile }
