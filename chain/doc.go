// Package chain is quern's ledger: the genesis, the account and job state
// with its root, the state transition of a block, header and body rules,
// block import with fork choice (most total difficulty, first seen on ties)
// and reorgs, the transaction pool, and the badger store behind them (every
// key in schema.go). The proof-of-useful-work checks live in consensus,
// behind consensus.Engine.
//
// Txpool words: a pooled tx is pending when it is executable on the head
// (its nonce continues the sender's run from the state nonce and the run is
// affordable), queued otherwise; a dropped tx left the pool without a block,
// with a DropReason (txpool.go, txpool_status.go).
package chain
