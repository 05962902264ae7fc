// Package consensus is quern's proof-of-useful-work engine: seeds, noise
// keys, tile tickets against a difficulty in MACs, the seal check by
// sampled recomputation, Freivalds' result check, difficulty retargeting,
// subsidy and job base fees, and the miner's search for a winning tile.
package consensus
