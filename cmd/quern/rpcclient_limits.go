package main

import (
	"context"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/node"
	"github.com/quern-chain/quern/vm"
)

// JobLimits fetches the node's job caps (quern_jobLimits).
func (nc *nodeClient) JobLimits(ctx context.Context) (*node.RPCJobLimits, error) {
	var l node.RPCJobLimits
	if err := nc.call(ctx, &l, "jobLimits"); err != nil {
		return nil, err
	}
	return &l, nil
}

// jobVMLimits are the vm limits the node checks a job against, built the
// one way the node builds them (chain.JobLimits) from its answer.
func jobVMLimits(l *node.RPCJobLimits) (vm.Limits, error) {
	p, err := l.Params()
	if err != nil {
		return vm.Limits{}, err
	}
	return chain.JobLimits(p), nil
}
