package consensus

import (
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
)

// CalcDifficulty is the difficulty (MACs per block) of the child of parent.
// It retargets every block from the parent's own block time (parent.Time −
// grandparent.Time), so a miner knows D before it starts grinding:
//
//	D' = D + D·(target − dt) / (target · divisor), the step clamped to ±D/divisor,
//
// and never below MinDifficulty. grandparent is nil when parent is genesis,
// in which case the parent's difficulty carries over.
func CalcDifficulty(p *types.Params, parent, grandparent *types.Header) uint64 {
	d := parent.Difficulty
	if grandparent == nil {
		return max(d, p.MinDifficulty)
	}
	var dt uint64
	if parent.Time > grandparent.Time {
		dt = parent.Time - grandparent.Time
	}
	target := p.TargetBlockMs
	step := new(uint256.Int).Div(uint256.NewInt(d), uint256.NewInt(p.RetargetDivisor))
	var next uint64
	if dt < target {
		// Faster than target: raise by D·(target−dt)/(target·div) ≤ D/div.
		up := mulDiv(d, target-dt, target*p.RetargetDivisor)
		next = d + min(up, step.Uint64())
	} else {
		down := mulDiv(d, dt-target, target*p.RetargetDivisor)
		down = min(down, step.Uint64())
		next = d - down
	}
	return max(next, p.MinDifficulty)
}

// mulDiv returns a·b/c without overflow.
func mulDiv(a, b, c uint64) uint64 {
	x := new(uint256.Int).Mul(uint256.NewInt(a), uint256.NewInt(b))
	x.Div(x, uint256.NewInt(c))
	if !x.IsUint64() {
		return ^uint64(0)
	}
	return x.Uint64()
}

// AddDifficulty returns td + d as a new value (total difficulty for fork choice).
func AddDifficulty(td *uint256.Int, d uint64) *uint256.Int {
	return new(uint256.Int).Add(td, uint256.NewInt(d))
}
