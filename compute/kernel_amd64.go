package compute

// Assembly micro-kernels (kernel_amd64.s); the packed layout they read is
// described in simd_amd64.go. Each takes the same arguments:
// (a, b *byte, c *int32, salt *uint32, z *uint32, bias *int32, aStride, biasStride, groups, chunks, steps int).

//go:noescape
func dotQuads512(a, b *byte, c *int32, salt *uint32, z *uint32, bias *int32, aStride, biasStride, groups, chunks, steps int)

//go:noescape
func dotPairs256(a, b *byte, c *int32, salt *uint32, z *uint32, bias *int32, aStride, biasStride, groups, chunks, steps int)

// Packers (pack_amd64.s); n counts 16-column blocks (B) or 4-step blocks (A).

//go:noescape
func packQuadsB(dst, r0, r1, r2, r3 *byte, n int)

//go:noescape
func packQuadsBRun(dst, src *byte, ldb, steps int)

//go:noescape
func packPairsB8(dst, r0, r1 *byte, n int)

//go:noescape
func packPairsB16(dst, r0, r1 *byte, n int)

//go:noescape
func packA(dst, src *byte, ld, n int)

//go:noescape
func packAPairs8(dst, src *byte, ld, n int)

// addBiasI32 sets dst[i] = src[i] + v for i < n (AVX2).
//
//go:noescape
func addBiasI32(dst, src *int32, v int32, n int)

// rowSumI8 returns Σ int8(p[i]) over i < n (AVX2).
//
//go:noescape
func rowSumI8(p *byte, n int) int32
