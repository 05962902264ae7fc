package compute

// Backend computes products. Every implementation must agree bit for bit with
// the portable one on testdata/golden (C, and every tile digest).
type Backend interface {
	// Name identifies the backend in logs and benchmarks.
	Name() string
	// MatMul returns the exact product A·B; it panics on malformed shapes.
	MatMul(a, b I8) I32
	// NoisedMatMul computes (A+E)(B+F) tile by tile, passing each tile's
	// digest to visit (possibly from several goroutines; nil visits nothing),
	// and returns the denoised exact A·B. If visit returns false it stops and
	// returns complete = false with an empty C.
	NoisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor) (c I32, complete bool)
	// TileDigest recomputes the digest of tile (ti, tj) alone: b·b·K MACs.
	TileDigest(a, b I8, nz *Noise, g Geometry, ti, tj int) [32]byte
}

// portable is the pure-Go backend: SWAR int64 lanes, builds with CGO_ENABLED=0.
type portable struct{}

var _ Backend = (*portable)(nil)

// Portable returns the pure-Go backend.
func Portable() Backend { return &portable{} }

func (*portable) Name() string { return "portable" }

func (*portable) MatMul(a, b I8) I32 { return matMul(a, b) }

func (*portable) MatMulInto(c I32, a, b I8) { matMulInto(c, a, b) }

func (*portable) NoisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor) (I32, bool) {
	return noisedMatMul(a, b, nz, g, visit, true)
}

func (*portable) NoisedTranscript(a, b I8, nz *Noise, g Geometry, visit TileVisitor) bool {
	_, ok := noisedMatMul(a, b, nz, g, visit, false)
	return ok
}

func (*portable) TileDigest(a, b I8, nz *Noise, g Geometry, ti, tj int) [32]byte {
	return tileDigest(a, b, nz, g, ti, tj)
}

// MatMul returns the exact int32 product A·B (A is M×K, B is K×N, K ≤ MaxK)
// using the portable backend. It panics on malformed shapes: callers validate.
func MatMul(a, b I8) I32 { return matMul(a, b) }

// IntoMatMuler is a Backend that writes the plain product into a caller's C,
// so a loop of products allocates (and Go zeroes) no output: for a 64 MiB C
// that is a fifth of the product's time.
type IntoMatMuler interface {
	// MatMulInto overwrites c (M×N) with A·B; what c held before does not
	// matter. It panics on malformed shapes.
	MatMulInto(c I32, a, b I8)
}

// MatMulInto overwrites c (M×N) with A·B on be, through its IntoMatMuler
// when it has one, else by copying be.MatMul's result.
func MatMulInto(be Backend, c I32, a, b I8) {
	if x, ok := be.(IntoMatMuler); ok {
		x.MatMulInto(c, a, b)
		return
	}
	mustIntoShape(c, a, b)
	copy(c.Data, be.MatMul(a, b).Data)
}

var _ IntoMatMuler = (*portable)(nil)

// NoisedMatMul is Portable().NoisedMatMul.
func NoisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor) (I32, bool) {
	return noisedMatMul(a, b, nz, g, visit, true)
}

// Transcriber is a Backend that can run a noised product's transcript alone:
// every tile's digest, as NoisedMatMul visits them, without denoising and
// without building C. A synthetic puzzle's product is thrown away, so its
// miner skips that O(n²r) work and the n² int32 output.
type Transcriber interface {
	NoisedTranscript(a, b I8, nz *Noise, g Geometry, visit TileVisitor) (complete bool)
}

// NoisedTranscript visits every tile digest of be's noised product (see
// Backend.NoisedMatMul) and reports whether it ran to the end; it uses be's
// Transcriber when it has one.
func NoisedTranscript(be Backend, a, b I8, nz *Noise, g Geometry, visit TileVisitor) bool {
	if t, ok := be.(Transcriber); ok {
		return t.NoisedTranscript(a, b, nz, g, visit)
	}
	_, ok := be.NoisedMatMul(a, b, nz, g, visit)
	return ok
}

// TileDigest is Portable().TileDigest.
func TileDigest(a, b I8, nz *Noise, g Geometry, ti, tj int) [32]byte {
	return tileDigest(a, b, nz, g, ti, tj)
}
