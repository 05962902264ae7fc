//go:build !amd64

package compute

// simdBackends lists the SIMD backends this CPU supports: none off amd64.
func simdBackends() []Backend { return nil }

// SelfCheckError reports why a SIMD backend was left out: none off amd64.
func SelfCheckError() string { return "" }
