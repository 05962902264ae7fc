package compute

import "golang.org/x/sys/cpu"

// simdBackends lists the SIMD backends this CPU supports, best first.
func simdBackends() []Backend {
	var out []Backend
	x := cpu.X86
	if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI {
		vnni := &simd{
			name:   "avx512-vnni",
			reason: "CPU has AVX-512 VNNI (VPDPBUSD products, VPDPWSSD noise corrections)",
			quads:  dotQuads512,
			pairs:  dotPairs512,
		}
		ok, why := amxAvail()
		if ok {
			out = append(out, &amxBackend{vnni: vnni})
		} else if why != "" {
			// The CPU has AMX but this process may not use it: say why.
			vnni.reason += "; " + why
		}
		out = append(out, vnni)
	}
	if x.HasAVX2 {
		out = append(out, &simd{
			name:   "avx2",
			reason: "CPU has AVX2 (VPMADDWD on int16 pairs)",
			pairs:  dotPairs256,
		})
	}
	return out
}
