package main

import (
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/node"
	"github.com/quern-chain/quern/vm"
)

// jobVMLimits are the vm limits the node checks a job against, built the
// one way the node builds them (chain.JobLimits) from its answer.
func jobVMLimits(l *node.RPCJobLimits) (vm.Limits, error) {
	p, err := l.Params()
	if err != nil {
		return vm.Limits{}, err
	}
	return chain.JobLimits(p), nil
}
