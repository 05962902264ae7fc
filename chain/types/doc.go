// Package types holds quern's consensus data structures: headers, seals,
// blocks, transactions, job results and the chain parameters, with their
// RLP encodings and Keccak-256 hashes. Everything here is frozen by
// docs/protocol.md once blocks depend on it.
package types
