package consensus

import (
	"context"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/vm"
)

// Miner searches noised products for a winning tile. It is stateless apart
// from its parameters and backend, so one Miner serves every head.
type Miner struct {
	p  *types.Params
	be compute.Backend
}

// NewMiner returns a miner for the chain parameters p computing on be.
func NewMiner(p *types.Params, be compute.Backend) *Miner { return &Miner{p: p, be: be} }

// search runs one noised product and returns its first winning tile's seal.
// With stopAtWin the product is abandoned at the first win and never
// denoised (a synthetic puzzle has no other use: the returned C is empty);
// otherwise it runs to the end so the exact product comes back. ctx cancellation stops it between tiles.
func (m *Miner) search(ctx context.Context, parent *types.Header, d uint64, coinbase common.Address, nonce uint64, work types.Work, a, b compute.I8, stopAtWin bool) (compute.I32, *types.Seal, error) {
	seed := Seed(parent.Hash(), coinbase, nonce)
	ref := work.Ref()
	nz := compute.NewNoise(NoiseKey(seed, ref), a.Rows, a.Cols, b.Cols, int(m.p.NoiseRank))
	tile := int(m.p.TileSize)

	var (
		mu  sync.Mutex
		win *types.Seal
	)
	visit := func(ti, tj int, digest [32]byte) bool {
		if ctx.Err() != nil {
			return false
		}
		t := Ticket(seed, ref, uint32(ti), uint32(tj), digest)
		if !Wins(t, TileWork(a.Rows, a.Cols, b.Cols, tile, uint32(ti), uint32(tj)), d) {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		if win == nil {
			win = &types.Seal{Nonce: nonce, Work: work, TileI: uint32(ti), TileJ: uint32(tj), TileDigest: digest}
		}
		return !stopAtWin
	}
	var (
		c        compute.I32
		complete bool
	)
	if stopAtWin {
		// Nobody wants the product: the transcript alone, no denoising, no C.
		complete = compute.NoisedTranscript(m.be, a, b, nz, Geometry(m.p, work), visit)
	} else {
		c, complete = m.be.NoisedMatMul(a, b, nz, Geometry(m.p, work), visit)
	}
	if err := ctx.Err(); err != nil {
		return compute.I32{}, nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if !complete && !stopAtWin {
		return compute.I32{}, nil, context.Canceled
	}
	return c, win, nil
}

// MineSynthetic tries the synthetic puzzle of one nonce and returns a seal if
// one of its tiles won, nil otherwise.
func (m *Miner) MineSynthetic(ctx context.Context, parent *types.Header, d uint64, coinbase common.Address, nonce uint64) (*types.Seal, error) {
	a, b := SyntheticOperands(Seed(parent.Hash(), coinbase, nonce), int(m.p.SyntheticDim))
	_, seal, err := m.search(ctx, parent, d, coinbase, nonce, types.Work{}, a, b, true)
	return seal, err
}

// MineJob computes job prog's product noised for (parent, coinbase, nonce)
// and returns the exact product and, if one of its tiles won, the seal. A
// block sealed by a job tile must carry that job's result.
func (m *Miner) MineJob(ctx context.Context, parent *types.Header, d uint64, coinbase common.Address, nonce uint64, jobID common.Hash, prog *vm.Program) (compute.I32, *types.Seal, error) {
	a, b, err := prog.MatMulOperands()
	if err != nil {
		return compute.I32{}, nil, err
	}
	return m.search(ctx, parent, d, coinbase, nonce, types.Work{JobID: jobID}, a, b, false)
}
