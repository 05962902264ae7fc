package vm_test

import (
	"context"
	"math"
	"runtime"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/vm"
)

// allocated returns the bytes f allocates (TotalAlloc, which bounds the
// peak from above). Two GCs first empty the sync.Pools, so buffers the
// compute backends recycle are counted as fresh.
func allocated(f func()) uint64 {
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestMemoryBytesBoundsRealAllocations runs the real paths a job takes —
// the miner's decode, noised product, denoising and result encoding
// (consensus.Miner.MineJob), the validator's Freivalds check and the seal
// check's tile digest — on every backend this machine has, and asserts that
// what they allocate stays within Program.MemoryBytes, for skinny (K = 1),
// long-K, edge-tile and square shapes under the devnet's and the tests'
// geometry.
func TestMemoryBytesBoundsRealAllocations(t *testing.T) {
	shapes := []struct{ m, k, n int }{
		{2000, 1, 2000},  // skinny: tiny inputs, big result
		{1, 1, 4096},     // one row
		{2, 65536, 3},    // the longest K
		{64, 8192, 64},   // long K, one tile
		{130, 300, 70},   // edge tiles everywhere
		{256, 1024, 256}, // square-ish
	}
	if testing.Short() {
		shapes = shapes[:5]
	}
	geoms := []compute.Geometry{{Tile: 64, Chunk: 128}, {Tile: 64, Chunk: 256}, {Tile: 8, Chunk: 8}}
	for _, be := range compute.Backends() {
		for _, g := range geoms {
			p := &types.Params{TileSize: uint32(g.Tile), ChunkSize: uint32(g.Chunk), NoiseRank: uint32(g.Chunk), FreivaldsRounds: 2, Subsidy: uint256.NewInt(1)}
			miner := consensus.NewMiner(p, be)
			for _, s := range shapes {
				prog := vm.NewMatMul(operands([32]byte{1}, s.m, s.k), operands([32]byte{2}, s.k, s.n))
				code, err := vm.Encode(prog)
				if err != nil {
					t.Fatal(err)
				}
				est := prog.MemoryBytes(g)
				parent := &types.Header{Number: 1, Difficulty: math.MaxUint64}
				var res *types.JobResult
				mined := allocated(func() {
					q, err := vm.Decode(code, unboundedLimits())
					if err != nil {
						t.Fatal(err)
					}
					c, _, err := miner.MineJob(context.Background(), parent, math.MaxUint64, common.Address{}, 1, common.Hash{1}, q)
					if err != nil {
						t.Fatal(err)
					}
					res = &types.JobResult{JobID: common.Hash{1}, Rows: uint32(c.Rows), Cols: uint32(c.Cols), Data: vm.EncodeResult(c)}
					types.ResultRoot([]*types.JobResult{res}) // the block the miner builds commits to it
				})
				checked := allocated(func() {
					h := &types.Header{Number: 2, ResultRoot: types.ResultRoot([]*types.JobResult{res})}
					if err := consensus.New(be).VerifyResult(p, h, prog, res); err != nil {
						t.Fatal(err)
					}
					a, b, _ := prog.MatMulOperands()
					nz := compute.NewNoise([32]byte{3}, s.m, s.k, s.n, g)
					be.TileDigest(a, b, nz, g, 0, 0)
				})
				t.Logf("%s tile %d chunk %d %d×%d×%d: miner %d, validator %d, estimate %d bytes (%.2f×)",
					be.Name(), g.Tile, g.Chunk, s.m, s.k, s.n, mined, checked, est, float64(est)/float64(max(mined, checked)))
				if mined > est || checked > est {
					t.Errorf("%s tile %d chunk %d %d×%d×%d: allocated miner %d / validator %d bytes, over the estimate %d",
						be.Name(), g.Tile, g.Chunk, s.m, s.k, s.n, mined, checked, est)
				}
			}
		}
	}
}

// operands is RandomI8 clipped to the jobs' operand range.
func operands(key [32]byte, rows, cols int) compute.I8 {
	m := compute.RandomI8(key, rows, cols)
	for i, v := range m.Data {
		m.Data[i] = max(-vm.OperandMax, min(vm.OperandMax, v))
	}
	return m
}

func unboundedLimits() vm.Limits {
	return vm.Limits{MaxInputBytes: math.MaxUint64, MaxResultBytes: math.MaxUint64, MaxWork: math.MaxUint64, MaxMemoryBytes: math.MaxUint64, MaxK: compute.MaxK}
}
