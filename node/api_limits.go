package node

import (
	"fmt"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
)

// RPCJobLimits is quern_jobLimits' answer: every cap a job is checked
// against (docs/protocol.md §6a), from the node's genesis params, so that a
// client can check a job before it signs and sends it.
type RPCJobLimits struct {
	MaxInputBytes  uint64 `json:"maxInputBytes"`  // a program's inline inputs, M·K + K·N
	MaxResultBytes uint64 `json:"maxResultBytes"` // the int32 result, 4·M·N
	MaxWork        uint64 `json:"maxWork"`        // M·K·N MACs
	MaxMemoryBytes uint64 `json:"maxMemoryBytes"` // vm.Program.MemoryBytes
	MaxLifetime    uint64 `json:"maxLifetime"`    // expiry − inclusion block, blocks
	MaxK           uint32 `json:"maxK"`           // inner dimension
	JobByteFee     string `json:"jobByteFee"`     // wei per byte of program and result (decimal)
	MaxTxBytes     uint64 `json:"maxTxBytes"`     // a transaction's RLP encoding
	MaxBlockBytes  uint64 `json:"maxBlockBytes"`  // a block's RLP encoding
	// The geometry the memory estimate depends on.
	TileSize  uint32 `json:"tileSize"`
	ChunkSize uint32 `json:"chunkSize"`
	// Training jobs (docs/protocol.md §12).
	MaxTrainSteps           uint32 `json:"maxTrainSteps"`
	MaxTrainBatch           uint32 `json:"maxTrainBatch"`
	MaxTrainWidth           uint32 `json:"maxTrainWidth"`
	MaxTrainLayers          uint32 `json:"maxTrainLayers"`
	TrainCheckpointInterval uint32 `json:"trainCheckpointInterval"`
	TrainSamples            uint32 `json:"trainSamples"`
}

// JobLimits serves quern_jobLimits.
func (api *API) JobLimits() RPCJobLimits { return JobLimitsOf(api.n.chain.Params()) }

// JobLimitsOf is the RPC form of p's job caps.
func JobLimitsOf(p *types.Params) RPCJobLimits {
	return RPCJobLimits{
		MaxInputBytes: p.MaxJobInputBytes, MaxResultBytes: p.MaxJobResultBytes, MaxWork: p.MaxJobWork,
		MaxMemoryBytes: p.MaxJobMemoryBytes, MaxLifetime: p.MaxJobLifetime, MaxK: compute.MaxK,
		JobByteFee: dec(p.JobByteFee), MaxTxBytes: p.MaxTxBytes(), MaxBlockBytes: p.MaxBlockBytes,
		TileSize: p.TileSize, ChunkSize: p.ChunkSize,
		MaxTrainSteps: p.MaxTrainSteps, MaxTrainBatch: p.MaxTrainBatch, MaxTrainWidth: p.MaxTrainWidth,
		MaxTrainLayers: p.MaxTrainLayers, TrainCheckpointInterval: p.TrainCheckpointInterval, TrainSamples: p.TrainSamples,
	}
}

// Params returns the job caps as the params they came from (the fields
// chain.JobLimits reads), so a client builds its vm.Limits the one way the
// node does.
func (l RPCJobLimits) Params() (*types.Params, error) {
	fee, err := uint256.FromDecimal(l.JobByteFee)
	if err != nil {
		return nil, fmt.Errorf("jobByteFee %q: %v", l.JobByteFee, err)
	}
	return &types.Params{
		MaxJobInputBytes: l.MaxInputBytes, MaxJobResultBytes: l.MaxResultBytes, MaxJobWork: l.MaxWork,
		MaxJobMemoryBytes: l.MaxMemoryBytes, MaxJobLifetime: l.MaxLifetime, JobByteFee: fee,
		MaxBlockBytes: l.MaxBlockBytes, TileSize: l.TileSize, ChunkSize: l.ChunkSize,
		MaxTrainSteps: l.MaxTrainSteps, MaxTrainBatch: l.MaxTrainBatch, MaxTrainWidth: l.MaxTrainWidth,
		MaxTrainLayers: l.MaxTrainLayers, TrainCheckpointInterval: l.TrainCheckpointInterval, TrainSamples: l.TrainSamples,
	}, nil
}
