//go:build !cgo || !linux

package cuda

import (
	"errors"
	"log/slog"
	"runtime"

	"github.com/quern-chain/quern/compute"
)

// Backend is unavailable in this build; Open always fails.
type Backend struct{}

var _ compute.Backend = (*Backend)(nil)

// Open reports why this build has no CUDA backend.
func Open(log *slog.Logger) (*Backend, error) {
	if runtime.GOOS != "linux" {
		return nil, errors.New("cuda: the CUDA backend is built on linux only: CUDA unavailable")
	}
	return nil, errors.New("cuda: quern was built without cgo: CUDA unavailable (build with CGO_ENABLED=1)")
}

// SetFallback does nothing: there is no backend to configure.
func (*Backend) SetFallback(compute.Backend) {}

// Close does nothing.
func (*Backend) Close() {}

// Devices is empty.
func (*Backend) Devices() []string { return nil }

// Name identifies the missing backend.
func (*Backend) Name() string { return "cuda (unavailable)" }

// The products never run on a GPU here; they exist to satisfy compute.Backend.

func (*Backend) MatMul(a, b compute.I8) compute.I32 { return compute.Portable().MatMul(a, b) }

func (*Backend) NoisedMatMul(a, b compute.I8, nz *compute.Noise, g compute.Geometry, visit compute.TileVisitor) (compute.I32, bool) {
	return compute.Portable().NoisedMatMul(a, b, nz, g, visit)
}

func (*Backend) TileDigest(a, b compute.I8, nz *compute.Noise, g compute.Geometry, ti, tj int) [32]byte {
	return compute.Portable().TileDigest(a, b, nz, g, ti, tj)
}

func (*Backend) NoisedTranscript(a, b compute.I8, nz *compute.Noise, g compute.Geometry, visit compute.TileVisitor) bool {
	return compute.NoisedTranscript(compute.Portable(), a, b, nz, g, visit)
}
