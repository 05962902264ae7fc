package consensus

import (
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
)

// Subsidy is the new coin minted to the coinbase of every block.
func Subsidy(p *types.Params) *uint256.Int { return new(uint256.Int).Set(p.Subsidy) }

// JobBaseFee is the least fee a job of work W MACs must carry when its result
// lands in a block whose difficulty is d: factor × subsidy × W / d, i.e. what
// W MACs of tickets can expect to earn. It is burned, so a miner's own
// degenerate job costs at least what its tickets are worth (PROTOCOL.md §5).
func JobBaseFee(p *types.Params, d, work uint64) *uint256.Int {
	if d == 0 {
		d = 1
	}
	x := new(uint256.Int).Mul(p.Subsidy, uint256.NewInt(work))
	x.Mul(x, uint256.NewInt(p.BaseFeeFactor))
	return x.Div(x, uint256.NewInt(d))
}
