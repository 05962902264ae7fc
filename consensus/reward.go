package consensus

import (
	"math/bits"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
)

// Subsidy is the new coin minted to the coinbase of every block.
func Subsidy(p *types.Params) *uint256.Int { return new(uint256.Int).Set(p.Subsidy) }

// JobBaseFee is the least fee a job of work W MACs that takes bytes of block
// space (its program plus its result, JobBytes) must carry when its result
// lands in a block whose difficulty is d:
//
//	factor × subsidy × W / d  +  jobByteFee × bytes
//
// The work part is what W MACs of tickets can expect to earn, so a miner's
// own degenerate job costs at least what its tickets are worth (PROTOCOL.md
// §5); the byte part prices the block space and bandwidth every node pays
// for (docs/protocol.md §6a). The whole of it is burned. This is the one
// place the base fee is computed: chain, miner, RPC and CLI call it.
func JobBaseFee(p *types.Params, d, work, bytes uint64) *uint256.Int {
	if d == 0 {
		d = 1
	}
	x := new(uint256.Int).Mul(p.Subsidy, uint256.NewInt(work))
	x.Mul(x, uint256.NewInt(p.BaseFeeFactor))
	x.Div(x, uint256.NewInt(d))
	if p.JobByteFee != nil {
		x.Add(x, new(uint256.Int).Mul(p.JobByteFee, uint256.NewInt(bytes)))
	}
	return x
}

// JobBytes is the block space a job takes: its encoded program (in the job
// tx) plus its int32 rows×cols result (in the block that carries it).
func JobBytes(programLen int, rows, cols uint32) uint64 {
	return uint64(programLen) + 4*uint64(rows)*uint64(cols)
}

// JobSubmissionBurn is the part of a job's base fee burned when its tx lands:
// jobByteFee × the program's bytes, the block space the tx has taken whether
// or not a result ever follows. It is part of JobBaseFee, not on top of it,
// and is kept at expiry: a refund returns the escrow less this burn.
func JobSubmissionBurn(p *types.Params, programLen int) *uint256.Int {
	if p.JobByteFee == nil {
		return new(uint256.Int)
	}
	return new(uint256.Int).Mul(p.JobByteFee, uint256.NewInt(uint64(programLen)))
}

// TrainSegmentPay is what a segment of steps (from, to] of a training job
// of work W over N steps pays when it lands in a block of difficulty d,
// with left wei of the escrow neither burned nor paid yet (docs/protocol.md
// §12): burn = min(left, JobBaseFee(d, W·(to−from)/N, segBytes)), and the
// including miner gets (left − burn)·(to−from)/(N−from), all of it for the
// last segment. So a job is paid as its steps are done, by whichever miners
// do them, and never beyond its escrow.
func TrainSegmentPay(p *types.Params, d, work uint64, n, from, to uint32, segBytes uint64, left *uint256.Int) (burn, fee *uint256.Int) {
	steps := uint64(to - from)
	hi, lo := bits.Mul64(work, steps)
	wseg, _ := bits.Div64(hi, lo, uint64(n)) // hi < n: steps ≤ n
	burn = JobBaseFee(p, d, wseg, segBytes)
	if burn.Gt(left) {
		burn = new(uint256.Int).Set(left)
	}
	fee = new(uint256.Int).Sub(left, burn)
	if to < n {
		fee.Mul(fee, uint256.NewInt(steps))
		fee.Div(fee, uint256.NewInt(uint64(n-from)))
	}
	return burn, fee
}
