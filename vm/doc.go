// Package vm is quern's deterministic integer tensor VM: the job programs a
// user pays for, their encoding (RLP), the static checks that reject malformed
// or oversized programs before anything is escrowed, their work in MACs, the
// static estimate of the memory computing or checking them takes
// (MemoryBytes; the caps read the declared shapes, so a refused program costs
// no allocation), and the interpreter that runs them on a compute.Backend.
// Version 1 knows two kinds: an int8 matrix product, and a training run of
// an integer MLP (train.go, trainstate.go, trainstep.go; docs/training.md),
// whose every step is integer-only and replayable from a checkpoint.
// Vocabulary: masters (int32 weights), W8 (their int8 copies), δ (int8
// back-propagated gradients), ops (a step's products, numbered).
package vm
