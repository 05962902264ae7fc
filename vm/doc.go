// Package vm is quern's deterministic integer tensor VM: the job programs a
// user pays for, their encoding (RLP), the static checks that reject malformed
// or oversized programs before anything is escrowed, their work in MACs, the
// static estimate of the memory computing or checking them takes
// (MemoryBytes; the caps read the declared shapes, so a refused program costs
// no allocation), and the interpreter that runs them on a compute.Backend.
// Version 1 knows one kind of program: an int8 matrix product.
package vm
