// Package node is the container around quern's services: configuration,
// the datadir and its lock, the lifecycle of chain, txpool, p2p, JSON-RPC
// and miner (started in that order, stopped in reverse), the `quern` RPC
// namespace and the mining loop.
//
// Each setting is declared once, in Settings (settings.go): its flag, TOML
// key, default and check follow from its entry. Each quern_* method is its
// method on API, its answer type (api_types.go) and its field in Quern
// (api_methods.go), through which clients call it.
package node
