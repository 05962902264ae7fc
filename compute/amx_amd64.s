#include "textflag.h"
#include "quads_amd64.h"

// AMX-INT8 kernel and its packers (amx_amd64.go). Go's assembler has no AMX
// mnemonics, so each AMX instruction is spelled out in bytes below; the
// comment gives the mnemonic (AT&T order: sources first) and the VEX fields.
// Registers are limited to AX..DI so no VEX.R/X/B extension is needed.
//
// Tiles: tmm0..tmm3 accumulate a 32×32 int32 block (2×2 tiles of 16×16),
// tmm4/tmm5 hold two A tiles (16 rows × 64 int8), tmm6/tmm7 two B tiles
// (16 K-quads × 16 columns × 4 int8). Every tile is 16 rows × 64 bytes.
// A tiles load with stride DX (lda), B tiles with stride CX (64), C tiles
// store with stride DX (ldc).

// ldtilecfg (%rax)                      VEX.128.NP.0F38.W0 49 /0
#define LDTILECFG_AX BYTE $0xC4; BYTE $0xE2; BYTE $0x78; BYTE $0x49; BYTE $0x00
// tilerelease                           VEX.128.NP.0F38.W0 49 C0
#define TILERELEASE BYTE $0xC4; BYTE $0xE2; BYTE $0x78; BYTE $0x49; BYTE $0xC0
// tilezero %tmm0 .. %tmm3               VEX.128.F2.0F38.W0 49 11:rrr:000
#define TILEZERO_0 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xC0
#define TILEZERO_1 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xC8
#define TILEZERO_2 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xD0
#define TILEZERO_3 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xD8
// tileloadd (%rsi,%rdx,1), %tmm4        VEX.128.F2.0F38.W0 4B /r, modrm 00:100:100, sib 00:010:110
#define TILELOADD_SI_4 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x24; BYTE $0x16
// tileloadd (%rax,%rdx,1), %tmm5        modrm 00:101:100, sib 00:010:000
#define TILELOADD_AX_5 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x2C; BYTE $0x10
// tileloadd (%rbx,%rcx,1), %tmm6        modrm 00:110:100, sib 00:001:011
#define TILELOADD_BX_6 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x34; BYTE $0x0B
// tileloadd (%rdi,%rcx,1), %tmm7        modrm 00:111:100, sib 00:001:111
#define TILELOADD_DI_7 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x3C; BYTE $0x0F
// tilestored %tmmN, (%rdi,%rdx,1)       VEX.128.F3.0F38.W0 4B /r, modrm 00:NNN:100, sib 00:010:111
#define TILESTORED_0 BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x04; BYTE $0x17
#define TILESTORED_1 BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x0C; BYTE $0x17
#define TILESTORED_2 BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x14; BYTE $0x17
#define TILESTORED_3 BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x1C; BYTE $0x17
// tdpbssd %tmmB, %tmmA, %tmmC (C += A·B, signed·signed): VEX.128.F2.0F38.W0 5E 11:C:A, vvvv = ~B
// tdpbssd %tmm6, %tmm4, %tmm0
#define TDPBSSD_0_4_6 BYTE $0xC4; BYTE $0xE2; BYTE $0x4B; BYTE $0x5E; BYTE $0xC4
// tdpbssd %tmm7, %tmm4, %tmm1
#define TDPBSSD_1_4_7 BYTE $0xC4; BYTE $0xE2; BYTE $0x43; BYTE $0x5E; BYTE $0xCC
// tdpbssd %tmm6, %tmm5, %tmm2
#define TDPBSSD_2_5_6 BYTE $0xC4; BYTE $0xE2; BYTE $0x4B; BYTE $0x5E; BYTE $0xD5
// tdpbssd %tmm7, %tmm5, %tmm3
#define TDPBSSD_3_5_7 BYTE $0xC4; BYTE $0xE2; BYTE $0x43; BYTE $0x5E; BYTE $0xDD

// One K step of the 2×2 block: A tiles from SI and AX, B tiles from BX and
// DI; each load comes right before the first TDPBSSD that needs it.
#define STEP22_SSD TILELOADD_SI_4; TILELOADD_BX_6; TDPBSSD_0_4_6; TILELOADD_DI_7; TDPBSSD_1_4_7; TILELOADD_AX_5; TDPBSSD_2_5_6; TDPBSSD_3_5_7

// func amxDot32(cfg, a *byte, lda, aPanel, aStep int, b *byte, panel int, c *int32, ldc, kblocks, nblocks int)
//
// For each of nblocks 32-column blocks: C[32×32] = A·B over kblocks 64-byte K
// blocks, stored at c (row stride ldc bytes; the next block 128 bytes on).
// A: two 16-row tiles per K block, rows lda bytes apart, the second aPanel
// bytes after the first, the next K block aStep bytes on (packed panels:
// 64, panel, 1024; A read in place: K, 16·K, 64).
// B: 16-column panels, panel bytes apart, each kblocks tiles of 1 KiB
// (16 quads × 16 columns × 4 bytes).
// The tile configuration is loaded here and released before returning: tile
// state is per thread, and no Go code runs in between.
TEXT ·amxDot32(SB), NOSPLIT, $0-88
	MOVQ nblocks+80(FP), R10
	TESTQ R10, R10
	JLE  none
	MOVQ cfg+0(FP), AX
	LDTILECFG_AX
	MOVQ c+56(FP), R9
	MOVQ b+40(FP), R11
	MOVQ panel+48(FP), R12
	MOVQ aStep+32(FP), R13
	MOVQ $64, CX

block:
	TILEZERO_0
	TILEZERO_1
	TILEZERO_2
	TILEZERO_3
	MOVQ a+8(FP), SI
	MOVQ aPanel+24(FP), AX
	ADDQ SI, AX
	MOVQ lda+16(FP), DX
	MOVQ R11, BX
	LEAQ (BX)(R12*1), DI
	MOVQ kblocks+72(FP), R8
	TESTQ R8, R8
	JLE  store

kloop:
	STEP22_SSD
	ADDQ R13, SI
	ADDQ R13, AX
	ADDQ $1024, BX
	ADDQ $1024, DI
	DECQ R8
	JNZ  kloop

store:
	MOVQ ldc+64(FP), DX
	MOVQ R9, DI
	TILESTORED_0
	ADDQ $64, DI
	TILESTORED_1
	MOVQ DX, R8
	SHLQ $4, R8
	LEAQ (R9)(R8*1), DI
	TILESTORED_2
	ADDQ $64, DI
	TILESTORED_3
	ADDQ $128, R9
	LEAQ (R11)(R12*2), R11
	DECQ R10
	JNZ  block

	TILERELEASE
none:
	RET

// func packQuadsBT(dst, r0, r1, r2, r3 *byte, n, stride int)
// For each of n 16-column blocks: 64 bytes at dst + i·stride, dword j =
// (r0[j], r1[j], r2[j], r3[j]) (signed bytes as they are).
TEXT ·packQuadsBT(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), AX
	MOVQ r1+16(FP), BX
	MOVQ r2+24(FP), DX
	MOVQ r3+32(FP), SI
	MOVQ n+40(FP), CX
	MOVQ stride+48(FP), R9
	TESTQ CX, CX
	JLE  done

loop:
	VMOVDQU (AX), X0
	VMOVDQU (BX), X1
	VMOVDQU (DX), X2
	VMOVDQU (SI), X3
	QUADS4
	STORE4(DI)
	ADDQ $16, AX
	ADDQ $16, BX
	ADDQ $16, DX
	ADDQ $16, SI
	ADDQ R9, DI
	DECQ CX
	JNZ  loop

done:
	RET

// func copyRowT(dst, src *byte, n, stride int)
// Copies n 64-byte pieces of src (contiguous) to dst + i·stride.
TEXT ·copyRowT(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R9
	TESTQ CX, CX
	JLE  done

loop:
	VMOVDQU64 (SI), Z0
	VMOVDQU64 Z0, (DI)
	ADDQ $64, SI
	ADDQ R9, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET

// tileloadd (%rdi,%rdx,1), %tmmN        VEX.128.F2.0F38.W0 4B /r, modrm 00:NNN:100, sib 00:010:111
#define TILELOADD_DI_0 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x04; BYTE $0x17
#define TILELOADD_DI_1 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x0C; BYTE $0x17
#define TILELOADD_DI_2 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x14; BYTE $0x17
#define TILELOADD_DI_3 BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x1C; BYTE $0x17

// tdpbsud %tmmB, %tmmA, %tmmC (C += A·B, A signed, B unsigned): VEX.128.F3.0F38.W0 5E 11:C:A, vvvv = ~B
// tdpbsud %tmm6, %tmm4, %tmm0
#define TDPBSUD_0_4_6 BYTE $0xC4; BYTE $0xE2; BYTE $0x4A; BYTE $0x5E; BYTE $0xC4
// tdpbsud %tmm7, %tmm4, %tmm1
#define TDPBSUD_1_4_7 BYTE $0xC4; BYTE $0xE2; BYTE $0x42; BYTE $0x5E; BYTE $0xCC
// tdpbsud %tmm6, %tmm5, %tmm2
#define TDPBSUD_2_5_6 BYTE $0xC4; BYTE $0xE2; BYTE $0x4A; BYTE $0x5E; BYTE $0xD5
// tdpbsud %tmm7, %tmm5, %tmm3
#define TDPBSUD_3_5_7 BYTE $0xC4; BYTE $0xE2; BYTE $0x42; BYTE $0x5E; BYTE $0xDD

// func amxBody(cfg, a, b *byte, iters int)
// The MatMul kernel's inner step, iters times, on one 2 KiB A and one 2 KiB
// B that stay in L1: two A tiles, two B tiles, four TDPBSSD (65536 MACs).
// BenchmarkAMXBody times it: the core's AMX rate with memory out of the way.
TEXT ·amxBody(SB), NOSPLIT, $0-32
	MOVQ iters+24(FP), R8
	TESTQ R8, R8
	JLE  bnone
	MOVQ cfg+0(FP), AX
	LDTILECFG_AX
	TILEZERO_0
	TILEZERO_1
	TILEZERO_2
	TILEZERO_3
	MOVQ a+8(FP), SI
	LEAQ 1024(SI), AX
	MOVQ b+16(FP), BX
	LEAQ 1024(BX), DI
	MOVQ $64, DX
	MOVQ $64, CX

bloop:
	STEP22_SSD
	DECQ R8
	JNZ  bloop

	TILERELEASE
bnone:
	RET
