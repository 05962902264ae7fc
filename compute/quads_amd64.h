// Shared by pack_amd64.s and amx_amd64.s: the 4-row byte interleave of the
// quad (VNNI, AMX B) layout.

// QUADS4: X0..X3 hold 16 bytes of rows r0..r3; afterwards X0..X3 hold the
// 16 dwords (r0[j], r1[j], r2[j], r3[j]), j = 0..15, 4 per register, in
// order. Clobbers X4..X7.
#define QUADS4 \
	VPUNPCKLBW X1, X0, X4; \
	VPUNPCKHBW X1, X0, X5; \
	VPUNPCKLBW X3, X2, X6; \
	VPUNPCKHBW X3, X2, X7; \
	VPUNPCKLWD X6, X4, X0; \
	VPUNPCKHWD X6, X4, X1; \
	VPUNPCKLWD X7, X5, X2; \
	VPUNPCKHWD X7, X5, X3

// XOR4(m): X0..X3 ^= m (0x80 in every byte makes signed bytes B+128).
#define XOR4(m) \
	VPXOR m, X0, X0; \
	VPXOR m, X1, X1; \
	VPXOR m, X2, X2; \
	VPXOR m, X3, X3

// STORE4(p): X0..X3 to 64 bytes at p.
#define STORE4(p) \
	VMOVDQU X0, (p); \
	VMOVDQU X1, 16(p); \
	VMOVDQU X2, 32(p); \
	VMOVDQU X3, 48(p)
