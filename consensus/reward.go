package consensus

import (
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
