package compute

import (
	"strings"
	"testing"
)

// TestSelfCheck: the known-answer check passes every SIMD backend this CPU
// offers, and catches a kernel that gets one transcript word wrong.
func TestSelfCheck(t *testing.T) {
	for _, be := range simdBackends() {
		s, ok := be.(*simd)
		if !ok {
			continue // amx-int8: its transcripts are avx512-vnni's
		}
		if err := selfCheck(s); err != nil {
			t.Fatal(err)
		}
		good, _ := s.kernel()
		bad := &simd{name: s.name + "-broken"}
		wrong := func(a, b *byte, c *int32, salt *uint32, z *uint32, bias *int32, aStride, biasStride, groups, chunks, steps int) {
			good(a, b, c, salt, z, bias, aStride, biasStride, groups, chunks, steps)
			if z != nil {
				*z ^= 1
			}
		}
		if s.quads != nil {
			bad.quads = wrong
		} else {
			bad.pairs = wrong
		}
		if err := selfCheck(bad); err == nil || !strings.Contains(err.Error(), "left out") {
			t.Fatalf("%s: a broken kernel passed the self-check (%v)", s.name, err)
		}
	}
	if bad := SelfCheckError(); bad != "" {
		t.Logf("a SIMD backend of this CPU failed its self-check and is not offered: %s", bad)
	}
}
