// Package node is the container around quern's services: configuration,
// the datadir and its lock, the lifecycle of chain, txpool, p2p, JSON-RPC
// and miner (started in that order, stopped in reverse), the `quern` RPC
// namespace and the mining loop.
package node
