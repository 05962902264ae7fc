#include "textflag.h"
#include "quads_amd64.h"

// Packers for the amd64 micro-kernels (AVX, 128-bit lanes). Each B packer
// writes 16 columns (64 bytes: one dword per column) per iteration; each A
// packer transposes 4 rows × 4 dwords into 4 steps × 4 rows (64 bytes).

// func packQuadsB(dst, r0, r1, r2, r3 *byte, n int)
// dst dword j = (r0[j]^0x80, r1[j]^0x80, r2[j]^0x80, r3[j]^0x80): unsigned B+128.
TEXT ·packQuadsB(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), AX
	MOVQ r1+16(FP), BX
	MOVQ r2+24(FP), DX
	MOVQ r3+32(FP), SI
	MOVQ n+40(FP), CX
	TESTQ CX, CX
	JLE  done
	MOVL $0x80808080, R8
	VMOVD R8, X8
	VPSHUFD $0, X8, X8

loop:
	VMOVDQU (AX), X0
	VMOVDQU (BX), X1
	VMOVDQU (DX), X2
	VMOVDQU (SI), X3
	QUADS4
	XOR4(X8)
	STORE4(DI)
	ADDQ $16, AX
	ADDQ $16, BX
	ADDQ $16, DX
	ADDQ $16, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

done:
	RET

// func packQuadsBRun(dst, src *byte, ldb, steps int)
// packQuadsB over steps consecutive K-quads of a 64-column panel: step s
// reads rows src + (4s+i)·ldb, i < 4, 64 bytes each, and writes 256 bytes
// at dst + 256·s (dword j = B+128 of column j's quad). One call per chunk
// instead of one per step.
TEXT ·packQuadsBRun(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), AX
	MOVQ ldb+16(FP), R9
	MOVQ steps+24(FP), CX
	TESTQ CX, CX
	JLE  rdone
	MOVL $0x80808080, R8
	VMOVD R8, X8
	VPSHUFD $0, X8, X8
	LEAQ (AX)(R9*1), BX
	LEAQ (BX)(R9*1), DX
	LEAQ (DX)(R9*1), SI
	MOVQ R9, R10
	SHLQ $2, R10 // 4 rows per step

rstep:
	XORQ R11, R11

rcols:
	VMOVDQU (AX)(R11*1), X0
	VMOVDQU (BX)(R11*1), X1
	VMOVDQU (DX)(R11*1), X2
	VMOVDQU (SI)(R11*1), X3
	QUADS4
	XOR4(X8)
	STORE4(DI)
	ADDQ $64, DI
	ADDQ $16, R11
	CMPQ R11, $64
	JLT  rcols
	ADDQ R10, AX
	ADDQ R10, BX
	ADDQ R10, DX
	ADDQ R10, SI
	DECQ CX
	JNZ  rstep

rdone:
	RET

// func packPairsB8(dst, r0, r1 *byte, n int)
// dst dword j = (int16(r0[j]), int16(r1[j])), r0 and r1 int8.
TEXT ·packPairsB8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), AX
	MOVQ r1+16(FP), BX
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JLE  done

loop:
	VPMOVSXBW (AX), X0
	VPMOVSXBW (BX), X1
	VPMOVSXBW 8(AX), X2
	VPMOVSXBW 8(BX), X3
	VPUNPCKLWD X1, X0, X4
	VPUNPCKHWD X1, X0, X5
	VPUNPCKLWD X3, X2, X6
	VPUNPCKHWD X3, X2, X7
	VMOVDQU X4, (DI)
	VMOVDQU X5, 16(DI)
	VMOVDQU X6, 32(DI)
	VMOVDQU X7, 48(DI)
	ADDQ $16, AX
	ADDQ $16, BX
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

done:
	RET

// func packPairsB16(dst, r0, r1 *byte, n int)
// dst dword j = (r0[j], r1[j]), r0 and r1 int16.
TEXT ·packPairsB16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), AX
	MOVQ r1+16(FP), BX
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JLE  done

loop:
	VMOVDQU (AX), X0
	VMOVDQU (BX), X1
	VMOVDQU 16(AX), X2
	VMOVDQU 16(BX), X3
	VPUNPCKLWD X1, X0, X4
	VPUNPCKHWD X1, X0, X5
	VPUNPCKLWD X3, X2, X6
	VPUNPCKHWD X3, X2, X7
	VMOVDQU X4, (DI)
	VMOVDQU X5, 16(DI)
	VMOVDQU X6, 32(DI)
	VMOVDQU X7, 48(DI)
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

done:
	RET

#define TRANSPOSE4 \
	VPUNPCKLDQ X1, X0, X4; \
	VPUNPCKHDQ X1, X0, X5; \
	VPUNPCKLDQ X3, X2, X6; \
	VPUNPCKHDQ X3, X2, X7; \
	VPUNPCKLQDQ X6, X4, X0; \
	VPUNPCKHQDQ X6, X4, X1; \
	VPUNPCKLQDQ X7, X5, X2; \
	VPUNPCKHQDQ X7, X5, X3; \
	VMOVDQU X0, (DI); \
	VMOVDQU X1, 16(DI); \
	VMOVDQU X2, 32(DI); \
	VMOVDQU X3, 48(DI)

// func packA(dst, src *byte, ld, n int)
// Rows src + r·ld (r < 4) hold dwords (int8 quads or int16 pairs); n blocks of
// 4 dwords per row become dst[step][row].
TEXT ·packA(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), AX
	MOVQ ld+16(FP), DX
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JLE  done
	LEAQ (AX)(DX*2), BX

loop:
	VMOVDQU (AX), X0
	VMOVDQU (AX)(DX*1), X1
	VMOVDQU (BX), X2
	VMOVDQU (BX)(DX*1), X3
	TRANSPOSE4
	ADDQ $16, AX
	ADDQ $16, BX
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

done:
	RET

// func packAPairs8(dst, src *byte, ld, n int)
// As packA, but the rows hold int8 and each dword is a sign-extended pair.
TEXT ·packAPairs8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), AX
	MOVQ ld+16(FP), DX
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JLE  done
	LEAQ (AX)(DX*2), BX

loop:
	VPMOVSXBW (AX), X0
	VPMOVSXBW (AX)(DX*1), X1
	VPMOVSXBW (BX), X2
	VPMOVSXBW (BX)(DX*1), X3
	TRANSPOSE4
	ADDQ $8, AX
	ADDQ $8, BX
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

done:
	RET

// func rowSumI8(p *byte, n int) int32
// Σ int8(p[i]), i < n: VPSADBW of p^0x80 against zero sums p+128 over 32
// bytes at a time, less 128 per byte; the last n mod 32 bytes one by one.
TEXT ·rowSumI8(SB), NOSPLIT, $0-20
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	XORQ AX, AX
	MOVQ CX, DX
	SHRQ $5, DX
	JZ   rtail
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	MOVL $0x80808080, R8
	VMOVD R8, X2
	VPBROADCASTD X2, Y2

rloop:
	VPXOR   (SI), Y2, Y3
	VPSADBW Y1, Y3, Y3
	VPADDQ  Y3, Y0, Y0
	ADDQ    $32, SI
	DECQ    DX
	JNZ     rloop
	VEXTRACTI128 $1, Y0, X3
	VPADDQ  X3, X0, X0
	VPSHUFD $0x4E, X0, X3
	VPADDQ  X3, X0, X0
	VMOVQ   X0, AX
	MOVQ    CX, DX
	ANDQ    $-32, DX
	SHLQ    $7, DX
	SUBQ    DX, AX
	VZEROUPPER

rtail:
	ANDQ $31, CX
	JZ   rdone

rbyte:
	MOVBQSX (SI), DX
	ADDQ    DX, AX
	INCQ    SI
	DECQ    CX
	JNZ     rbyte

rdone:
	MOVL AX, ret+16(FP)
	RET

// func addBiasI32(dst, src *int32, v int32, n int)
// dst[i] = src[i] + v for i < n (AVX2): MatMul's tile copy-out, which adds
// the −128·rowsum(A) of the quads' B+128 bias in the same pass.
TEXT ·addBiasI32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVL v+16(FP), DX
	VMOVD DX, X1
	VPBROADCASTD X1, Y1
	MOVQ n+24(FP), CX

bias8:
	CMPQ CX, $8
	JLT  bias1
	VPADDD (SI), Y1, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  bias8

bias1:
	TESTQ CX, CX
	JLE  biasdone
	MOVL (SI), AX
	ADDL DX, AX
	MOVL AX, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  bias1

biasdone:
	VZEROUPPER
	RET
