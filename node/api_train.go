package node

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/vm"
)

// trainSpecCacheSize training jobs' shapes are kept for the RPC answers.
const trainSpecCacheSize = 256

// trainShape is a training job's spec without its data: what quern_getJob
// and quern_getJobResult read (steps, widths, meta).
func (api *API) trainShape(id common.Hash) (*vm.TrainSpec, error) {
	if s, ok := api.specs.Get(id); ok {
		return s, nil
	}
	prog, _, err := api.n.chain.DecodedJobProgram(id)
	if err != nil {
		return nil, err
	}
	spec := prog.Train()
	if spec == nil {
		return nil, fmt.Errorf("job %s is not a training job", id.Hex())
	}
	shape := &vm.TrainSpec{Layers: spec.Layers, Steps: spec.Steps, Batch: spec.Batch, LRShift: spec.LRShift,
		Seed: spec.Seed, Rows: spec.Rows, Meta: spec.Meta}
	api.specs.Add(id, shape)
	return shape, nil
}

// addTrainFields fills a training job's part of quern_getJob's answer.
func (api *API) addTrainFields(out *RPCJob, j *chain.Job) error {
	out.Kind = "train"
	out.StepsDone = j.StepsDone
	out.Checkpoint = &j.Checkpoint
	out.Paid = dec(j.Paid)
	spec, err := api.trainShape(j.ID)
	if err != nil {
		return err
	}
	out.Steps = spec.Steps
	return nil
}

// trainedModel is a training job's answer to quern_getJobResult: the model
// at its checkpoint on chain, the final one when the job is done, the last
// one reached when it expired.
func (api *API) trainedModel(ctx context.Context, j *chain.Job) (*RPCJobResult, error) {
	id := j.ID
	switch {
	case j.Status == chain.JobPending:
		return nil, fmt.Errorf("job %s is pending (%d steps done; no model yet)", id.Hex(), j.StepsDone)
	case j.Status == chain.JobExpired && j.StepsDone == 0:
		return nil, fmt.Errorf("job %s expired at block %d without a result", id.Hex(), j.Expiry)
	}
	spec, err := api.trainShape(id)
	if err != nil {
		return nil, err
	}
	var params int64
	for l := range len(spec.Layers) - 1 {
		params += (int64(spec.Layers[l]) + 1) * int64(spec.Layers[l+1])
	}
	// The state, decoded, as a model, hex-encoded and written.
	if err := api.answers.take(ctx, 5*4*params); err != nil {
		return nil, err
	}
	enc, ok := api.n.chain.JobCheckpoint(j.Checkpoint)
	if !ok {
		return nil, fmt.Errorf("job %s: checkpoint %s (step %d) is not stored here", id.Hex(), j.Checkpoint, j.StepsDone)
	}
	st, err := vm.DecodeTrainState(enc, spec)
	if err != nil {
		return nil, fmt.Errorf("job %s: stored checkpoint %s: %w", id.Hex(), j.Checkpoint, err)
	}
	m := st.Model(spec)
	tm := &RPCTrainedModel{
		Layers: m.Layers, ActShift: make([]uint32, len(m.ActShift)), W: make([]hexutil.Bytes, len(m.W)), B: m.B,
		Steps: st.Step, TotalSteps: spec.Steps, Checkpoint: j.Checkpoint, Meta: spec.Meta,
	}
	for i, s := range m.ActShift {
		tm.ActShift[i] = uint32(s)
	}
	for l, w := range m.W {
		b := make([]byte, len(w))
		for i, v := range w {
			b[i] = byte(v)
		}
		tm.W[l] = b
	}
	return &RPCJobResult{JobID: id, Data: hexutil.Bytes{}, Block: j.DoneBlock, Train: tm}, nil
}
