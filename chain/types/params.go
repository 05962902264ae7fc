package types

import (
	"errors"
	"fmt"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/compute"
)

// Params are the consensus parameters fixed in genesis (PROTOCOL.md *param*).
// Amounts are in wei (1 QRN = 10^18 wei) and encode in JSON as decimal strings.
type Params struct {
	ChainID uint64 `json:"chainId"`
	Network string `json:"network"` // names the gossip topics: /quern/<network>/...

	TargetBlockMs     uint64 `json:"targetBlockMs"`     // retarget goal
	InitialDifficulty uint64 `json:"initialDifficulty"` // MACs per block at genesis
	MinDifficulty     uint64 `json:"minDifficulty"`
	RetargetDivisor   uint64 `json:"retargetDivisor"` // one block moves D by at most 1/divisor

	TileSize  uint32 `json:"tileSize"`  // b: output tile edge
	ChunkSize uint32 `json:"chunkSize"` // κ of job products: K-chunk between transcript words
	// κ of synthetic puzzles. Their operands come from the seed (and carry no
	// noise), so stored partial sums are worthless to a reuse attacker and κ
	// can be large (docs/protocol.md §4).
	SyntheticChunkSize uint32 `json:"syntheticChunkSize"`
	// r: rank of the job products' noise; it must equal chunkSize (κ = r,
	// so a degenerate self-job saves nothing: docs/protocol.md §3).
	NoiseRank    uint32 `json:"noiseRank"`
	SyntheticDim uint32 `json:"syntheticDim"` // synthetic puzzle is dim×dim×dim

	Subsidy       *uint256.Int `json:"subsidy"`       // wei per block
	MinTxFee      *uint256.Int `json:"minTxFee"`      // fee floor of a transfer, wei
	BaseFeeFactor uint64       `json:"baseFeeFactor"` // ≥ 1: job base fee = factor × subsidy × W / D

	// Job caps (docs/protocol.md §6a): every cost a job puts on miners,
	// validators and the network is bounded here, and nowhere else.
	MaxJobInputBytes  uint64       `json:"maxJobInputBytes"`  // a job program's inline inputs
	MaxJobResultBytes uint64       `json:"maxJobResultBytes"` // a job's int32 result in a block body
	MaxJobWork        uint64       `json:"maxJobWork"`        // a job's work W, MACs
	MaxJobMemoryBytes uint64       `json:"maxJobMemoryBytes"` // peak memory a node allocates to compute or check a job
	MaxJobLifetime    uint64       `json:"maxJobLifetime"`    // expiry − submission block, blocks
	JobByteFee        *uint256.Int `json:"jobByteFee"`        // wei burned per byte of block space a job takes (program + result)
	MaxBlockBytes     uint64       `json:"maxBlockBytes"`     // a block's RLP encoding; gossip and sync carry exactly this much

	// Training jobs (docs/protocol.md §12): k steps between checkpoint
	// roots, s intervals a validator replays per segment.
	TrainCheckpointInterval uint32 `json:"trainCheckpointInterval"`
	TrainSamples            uint32 `json:"trainSamples"`
	MaxTrainSteps           uint32 `json:"maxTrainSteps"`  // steps N of one job
	MaxTrainBatch           uint32 `json:"maxTrainBatch"`  // examples per step
	MaxTrainWidth           uint32 `json:"maxTrainWidth"`  // every layer width, input and classes included
	MaxTrainLayers          uint32 `json:"maxTrainLayers"` // widths in a network (weight layers + 1)

	MaxBlockTxs     uint32 `json:"maxBlockTxs"`
	MaxBlockResults uint32 `json:"maxBlockResults"`
	FreivaldsRounds uint32 `json:"freivaldsRounds"`
	ResultRetention uint64 `json:"resultRetention"` // blocks a result body is kept (0: forever)
	MaxFutureMs     uint64 `json:"maxFutureMs"`     // a header may be at most this far ahead
	MedianTimeSpan  uint32 `json:"medianTimeSpan"`  // header time > median of this many ancestors
}

// Validate rejects parameter sets that would break consensus arithmetic.
func (p *Params) Validate() error {
	switch {
	case p.ChainID == 0:
		return errors.New("params: chainId must be set")
	case p.Network == "":
		return errors.New("params: network must be set")
	case p.TargetBlockMs == 0:
		return errors.New("params: targetBlockMs must be positive")
	case p.InitialDifficulty == 0 || p.MinDifficulty == 0:
		return errors.New("params: difficulties must be positive")
	case p.RetargetDivisor < 2:
		return errors.New("params: retargetDivisor must be at least 2")
	case p.TileSize == 0 || p.ChunkSize == 0 || p.SyntheticChunkSize == 0 || p.NoiseRank == 0 || p.SyntheticDim == 0:
		return errors.New("params: tileSize, chunkSize, syntheticChunkSize, noiseRank and syntheticDim must be positive")
	case p.NoiseRank != p.ChunkSize:
		return fmt.Errorf("params: noiseRank %d must equal chunkSize %d (κ = r)", p.NoiseRank, p.ChunkSize)
	case p.ChunkSize > compute.MaxRank:
		return fmt.Errorf("params: chunkSize %d above %d (the largest noise rank)", p.ChunkSize, compute.MaxRank)
	case p.Subsidy == nil || p.MinTxFee == nil:
		return errors.New("params: subsidy and minTxFee must be set")
	case p.BaseFeeFactor == 0:
		return errors.New("params: baseFeeFactor must be at least 1")
	case p.FreivaldsRounds == 0:
		return errors.New("params: freivaldsRounds must be at least 1")
	case p.MedianTimeSpan == 0:
		return errors.New("params: medianTimeSpan must be at least 1")
	case p.JobByteFee == nil:
		return errors.New("params: jobByteFee must be set")
	case p.MaxJobInputBytes == 0 || p.MaxJobResultBytes == 0 || p.MaxJobWork == 0 || p.MaxJobMemoryBytes == 0 || p.MaxJobLifetime == 0:
		return errors.New("params: maxJobInputBytes, maxJobResultBytes, maxJobWork, maxJobMemoryBytes and maxJobLifetime must be positive")
	case p.TrainCheckpointInterval == 0 || p.TrainSamples == 0:
		return errors.New("params: trainCheckpointInterval and trainSamples must be at least 1")
	case p.MaxTrainSteps == 0 || p.MaxTrainBatch == 0 || p.MaxTrainWidth == 0 || p.MaxTrainLayers < 2:
		return errors.New("params: maxTrainSteps, maxTrainBatch and maxTrainWidth must be positive and maxTrainLayers at least 2")
	case p.MaxTxBytes()+BlockEncodingSlack > p.MaxBlockBytes:
		// A job tx that cannot fit a block could never be mined.
		return fmt.Errorf("params: maxBlockBytes %d cannot hold the largest job tx (%d bytes + %d slack)", p.MaxBlockBytes, p.MaxTxBytes(), BlockEncodingSlack)
	case p.MaxJobResultBytes+ResultEncodingSlack+BlockEncodingSlack > p.MaxBlockBytes:
		// A result that cannot fit a block would split the network.
		return fmt.Errorf("params: maxBlockBytes %d cannot hold the largest job result (%d bytes + slack)", p.MaxBlockBytes, p.MaxJobResultBytes)
	}
	return nil
}

// Encoding slack: bytes of RLP framing around the payloads the caps bound.
const (
	TxEncodingSlack     = 4 << 10  // a tx's fields and signature around its program
	ResultEncodingSlack = 1 << 10  // a JobResult's id and shape around its data
	BlockEncodingSlack  = 64 << 10 // a block's header and list framing
)

// MaxTxBytes is the largest RLP encoding of a valid transaction under p: a
// job tx with the largest program. The txpool, gossip and the RPC body
// limit all derive from it.
func (p *Params) MaxTxBytes() uint64 { return p.MaxJobInputBytes + TxEncodingSlack }

// MaxMessageBytes is the largest network message that can carry a valid
// block: the block cap plus framing. Gossip and sync read no more.
func (p *Params) MaxMessageBytes() uint64 { return p.MaxBlockBytes + BlockEncodingSlack }

// QRN is 10^18 wei.
var QRN = uint256.NewInt(1_000_000_000_000_000_000)
