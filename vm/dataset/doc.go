// Package dataset is the client side of a training job: it reads a user's
// CSV into a table of float features and integer labels, and quantises the
// features into the int8 operands a training job carries. Floats are allowed
// here because nothing in consensus depends on this package: the chain only
// ever sees the bytes ApplyTable returns.
//
// The quantisation rule (docs/training.md, "Client-side quantisation"): for
// each feature j, lo_j and hi_j are its min and max over the training table,
// mid = (hi+lo)/2 and half = (hi−lo)/2, and
//
//	x_q = clip(round((x − mid) / half · 112), −112, 112)
//
// with round half away from zero (math.Round), evaluated in float64 in that
// order. A constant feature (half = 0) quantises to 0. Each column gets its
// own lo and hi, so columns whose scales differ by 1000× lose nothing to one
// another; values outside [lo, hi] seen at evaluation clip to ±112 (vm.OperandMax:
// job operands plus the protocol's noise must fit int8).
package dataset
