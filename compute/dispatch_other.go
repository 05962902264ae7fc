//go:build !amd64

package compute

// simdBackends lists the SIMD backends this CPU supports: none off amd64.
func simdBackends() []Backend { return nil }
