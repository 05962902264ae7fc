// Package consensus is quern's proof-of-useful-work engine: seeds, noise
// keys, tile tickets against a difficulty in MACs, the seal check by
// sampled recomputation, Freivalds' result check, difficulty retargeting,
// subsidy and job base fees, and the miner's search for a winning tile.
//
// Training vocabulary (train.go, docs/protocol.md §12): a segment carries a
// training job's steps (fromStep, toStep]; an interval is k steps between
// two checkpoint roots; the check set is the intervals a validator replays
// (the seal's sample plus a ticket's interval), and a sample is the start
// state of one of them carried in the body; a run is a miner's trajectory.
package consensus
