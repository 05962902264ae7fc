// Package compute holds the integer kernels behind quern's proof of useful work:
// exact int8×int8→int32 matrix products, the noised product whose per-tile
// transcript is the mining ticket (PROTOCOL.md §3), single-tile recomputation for
// validators, and Freivalds' check of a claimed product (§5).
//
// Everything here is integer arithmetic with frozen encodings: every backend
// (portable Go, SIMD, CUDA) must reproduce testdata/golden bit for bit.
// The package knows nothing of blocks, jobs or the network.
package compute
