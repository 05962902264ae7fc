package compute

import (
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sys/cpu"
)

// simdBackends lists the SIMD backends this CPU supports, best first. A
// backend whose kernels fail the known-answer check against the portable
// one (selfCheck) is left out, so a wrong kernel can never put a wrong
// digest into a seal.
func simdBackends() []Backend {
	var out []Backend
	x := cpu.X86
	if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI {
		vnni := &simd{
			name:   "avx512-vnni",
			reason: "CPU has AVX-512 VNNI (VPDPBUSD products and transcripts)",
			quads:  dotQuads512,
		}
		if err := vnniChecked(); err == nil {
			ok, why := amxAvail()
			if ok {
				out = append(out, &amxBackend{vnni: vnni})
			} else if why != "" {
				// The CPU has AMX but this process may not use it: say why.
				vnni.reason += "; " + why
			}
			out = append(out, vnni)
		}
	}
	if x.HasAVX2 && avx2Checked() == nil {
		out = append(out, &simd{
			name:   "avx2",
			reason: "CPU has AVX2 (VPMADDWD on int16 pairs)",
			pairs:  dotPairs256,
		})
	}
	return out
}

var (
	vnniChecked = sync.OnceValue(func() error {
		return selfCheck(&simd{name: "avx512-vnni", quads: dotQuads512})
	})
	avx2Checked = sync.OnceValue(func() error {
		return selfCheck(&simd{name: "avx2", pairs: dotPairs256})
	})
)

// SelfCheckError reports why a SIMD backend of this CPU was left out ("" if
// none was).
func SelfCheckError() string {
	x := cpu.X86
	if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI {
		if err := vnniChecked(); err != nil {
			return err.Error()
		}
	}
	if x.HasAVX2 {
		if err := avx2Checked(); err != nil {
			return err.Error()
		}
	}
	return ""
}

// selfCheck runs be against the portable backend on small products that
// reach every kernel path (edge tiles, ragged chunks, padding, noise and no
// noise) and reports the first disagreement.
func selfCheck(be Backend) error {
	for i, c := range []struct {
		m, k, n int
		g       Geometry
		noise   bool
	}{
		{70, 300, 66, Geometry{64, 128}, true},
		{65, 131, 130, Geometry{64, 7}, true},
		{5, 600, 70, Geometry{64, 512}, false},
	} {
		a := RandomI8([32]byte{'q', byte(i), 'a'}, c.m, c.k)
		b := RandomI8([32]byte{'q', byte(i), 'b'}, c.k, c.n)
		var nz *Noise
		if c.noise {
			for _, m := range []I8{a, b} {
				for j, v := range m.Data {
					m.Data[j] = max(-OperandMax, min(OperandMax, v))
				}
			}
			nz = NewNoise([32]byte{'q', byte(i), 'n'}, c.m, c.k, c.n, c.g)
		}
		if got, want := be.MatMul(a, b), matMul(a, b); !slices.Equal(got.Data, want.Data) {
			return fmt.Errorf("%s left out: its MatMul disagrees with the portable backend (%d×%d×%d)", be.Name(), c.m, c.k, c.n)
		}
		want := map[[2]int][32]byte{}
		var mu sync.Mutex
		noisedMatMul(a, b, nz, c.g, func(ti, tj int, d [32]byte) bool {
			mu.Lock()
			want[[2]int{ti, tj}] = d
			mu.Unlock()
			return true
		}, false)
		ti, tj := c.g.Tiles(c.m, c.n)
		for I := 0; I < ti; I++ {
			for J := 0; J < tj; J++ {
				if be.TileDigest(a, b, nz, c.g, I, J) != want[[2]int{I, J}] {
					return fmt.Errorf("%s left out: its tile digest (%d, %d) of a %d×%d×%d product (chunk %d) disagrees with the portable backend",
						be.Name(), I, J, c.m, c.k, c.n, c.g.Chunk)
				}
			}
		}
	}
	return nil
}
