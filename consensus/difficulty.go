package consensus

import (
	"math/big"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
)

// CalcDifficulty is the difficulty (MACs per block) of the child of parent.
// It retargets every block from the parent's own block time dt = parent.Time
// − grandparent.Time, so a miner knows D before it starts grinding:
//
//	D' = D · exp((target − min(dt, 5·target)) / (target · divisor)),  D' ≥ MinDifficulty
//
// One block moves D up by at most e^(1/divisor) and down by at most
// e^(−4/divisor). The step is linear in log D: with block times exponential
// around D/hashrate, that is what makes the mean block time equal the
// target (an additive step in D settles where E[D²]/E[D] = hashrate·target,
// 6% fast at divisor 8; a tight clamp on slow blocks made it 25% slow). The
// cap at 5 targets only bounds timestamp games; it leaves < 1% bias.
// exp is evaluated exactly as a Taylor polynomial in integers (expQ32), so
// every node computes the same D'. grandparent is nil when parent is
// genesis, in which case the parent's difficulty carries over.
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
	dt = min(dt, retargetCap*target)
	num := new(big.Int).Sub(new(big.Int).SetUint64(target), new(big.Int).SetUint64(dt))
	den := new(big.Int).Mul(new(big.Int).SetUint64(target), new(big.Int).SetUint64(p.RetargetDivisor))
	next := new(big.Int).Mul(new(big.Int).SetUint64(d), expQ32(num, den))
	next.Rsh(next, 32)
	if !next.IsUint64() {
		return ^uint64(0)
	}
	return max(next.Uint64(), p.MinDifficulty)
}

// retargetCap bounds the block time one retarget step believes, in targets.
const retargetCap = 5

// expTerms Taylor terms give exp(x) for |x| ≤ 4/2 (divisor ≥ 2) to far
// below one part in 2^32 — and, above all, the same bits on every node.
const expTerms = 24

// expQ32 returns floor(2^32 · Σ_{k<expTerms} x^k/k!) for x = num/den, den > 0.
func expQ32(num, den *big.Int) *big.Int {
	// Σ x^k/k! = Σ num^k · den^(n−1−k) · (n−1)!/k!  /  (den^(n−1) · (n−1)!)
	n := expTerms
	sum, term := new(big.Int), new(big.Int)
	fact := new(big.Int).MulRange(1, int64(n-1)) // (n−1)!
	for k := 0; k < n; k++ {
		term.Exp(num, big.NewInt(int64(k)), nil)
		term.Mul(term, new(big.Int).Exp(den, big.NewInt(int64(n-1-k)), nil))
		term.Mul(term, new(big.Int).Div(fact, new(big.Int).MulRange(1, int64(max(k, 1)))))
		sum.Add(sum, term)
	}
	q := new(big.Int).Exp(den, big.NewInt(int64(n-1)), nil)
	q.Mul(q, fact)
	sum.Lsh(sum, 32)
	if sum.Sign() < 0 { // not reachable for |x| ≤ 2: exp's series stays positive
		return new(big.Int)
	}
	return sum.Quo(sum, q)
}

// AddDifficulty returns td + d as a new value (total difficulty for fork choice).
func AddDifficulty(td *uint256.Int, d uint64) *uint256.Int {
	return new(uint256.Int).Add(td, uint256.NewInt(d))
}
