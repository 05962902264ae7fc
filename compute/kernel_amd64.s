#include "textflag.h"

// Micro-kernels of the amd64 backends. Operands come packed (see simd_amd64.go):
// per K-step, an A group holds one dword per row (4 rows, 16 bytes) and a B
// panel 64 dwords, one per column (256 bytes). A dword is four int8 (quads,
// VPDPBUSD: B side unsigned) or two int16 (pairs, VPDPWSSD / VPMADDWD).
// Accumulators live in c, 4 rows × 64 int32 per group (row stride 256 bytes),
// loaded on entry and stored on exit. After each chunk of `steps` steps, when
// salt is not nil: when bias is not nil, each row's accumulators lose that
// row's int32 at bias (4 per group and chunk: quads' 128·Δrowsum(A), so they
// hold the exact partial sums again); then z[chunk] += Σ (uint32(acc) ^ salt)²
// mod 2³² over the group (uint32 words).
//
// func(a, b *byte, c *int32, salt *uint32, z *uint32, bias *int32, aStride, biasStride, groups, chunks, steps int)

// ---- AVX-512: 4 rows × 4 zmm (64 columns), accumulators Z0–Z15 --------------

#define ROW512(OP, bc, z0, z1, z2, z3) \
	OP bc, Z16, z0; \
	OP bc, Z17, z1; \
	OP bc, Z18, z2; \
	OP bc, Z19, z3

#define STEP512(OP) \
	VMOVDQU32     (BX), Z16; \
	VMOVDQU32     64(BX), Z17; \
	VMOVDQU32     128(BX), Z18; \
	VMOVDQU32     192(BX), Z19; \
	VPBROADCASTD  (SI), Z20; \
	VPBROADCASTD  4(SI), Z21; \
	VPBROADCASTD  8(SI), Z22; \
	VPBROADCASTD  12(SI), Z23; \
	ROW512(OP, Z20, Z0, Z1, Z2, Z3); \
	ROW512(OP, Z21, Z4, Z5, Z6, Z7); \
	ROW512(OP, Z22, Z8, Z9, Z10, Z11); \
	ROW512(OP, Z23, Z12, Z13, Z14, Z15)

#define MIX512(acc, off) \
	VPXORD  off(R8), acc, Z24; \
	VPMULLD Z24, Z24, Z24; \
	VPADDD  Z24, Z28, Z28

#define BIAS512(off, z0, z1, z2, z3) \
	VPBROADCASTD off(R13), Z24; \
	VPSUBD  Z24, z0, z0; \
	VPSUBD  Z24, z1, z1; \
	VPSUBD  Z24, z2, z2; \
	VPSUBD  Z24, z3, z3

#define LOADACC512 \
	VMOVDQU32 (DI), Z0; VMOVDQU32 64(DI), Z1; VMOVDQU32 128(DI), Z2; VMOVDQU32 192(DI), Z3; \
	VMOVDQU32 256(DI), Z4; VMOVDQU32 320(DI), Z5; VMOVDQU32 384(DI), Z6; VMOVDQU32 448(DI), Z7; \
	VMOVDQU32 512(DI), Z8; VMOVDQU32 576(DI), Z9; VMOVDQU32 640(DI), Z10; VMOVDQU32 704(DI), Z11; \
	VMOVDQU32 768(DI), Z12; VMOVDQU32 832(DI), Z13; VMOVDQU32 896(DI), Z14; VMOVDQU32 960(DI), Z15

#define STOREACC512 \
	VMOVDQU32 Z0, (DI); VMOVDQU32 Z1, 64(DI); VMOVDQU32 Z2, 128(DI); VMOVDQU32 Z3, 192(DI); \
	VMOVDQU32 Z4, 256(DI); VMOVDQU32 Z5, 320(DI); VMOVDQU32 Z6, 384(DI); VMOVDQU32 Z7, 448(DI); \
	VMOVDQU32 Z8, 512(DI); VMOVDQU32 Z9, 576(DI); VMOVDQU32 Z10, 640(DI); VMOVDQU32 Z11, 704(DI); \
	VMOVDQU32 Z12, 768(DI); VMOVDQU32 Z13, 832(DI); VMOVDQU32 Z14, 896(DI); VMOVDQU32 Z15, 960(DI)

#define KERNEL512(OP) \
	MOVQ    a+0(FP), DX; \
	MOVQ    c+16(FP), DI; \
	MOVQ    salt+24(FP), R8; \
	MOVQ    bias+40(FP), R13; \
	MOVQ    aStride+48(FP), R10; \
	MOVQ    groups+64(FP), R11; \
	TESTQ   R11, R11; \
	JLE     done; \
	MOVQ    chunks+72(FP), R12; \
	TESTQ   R12, R12; \
	JLE     done; \
group: \
	LOADACC512; \
	MOVQ    DX, SI; \
	MOVQ    b+8(FP), BX; \
	MOVQ    z+32(FP), R9; \
	MOVQ    chunks+72(FP), R12; \
chunk: \
	MOVQ    steps+80(FP), CX; \
	TESTQ   CX, CX; \
	JLE     mix; \
step: \
	STEP512(OP); \
	ADDQ    $16, SI; \
	ADDQ    $256, BX; \
	DECQ    CX; \
	JNZ     step; \
mix: \
	TESTQ   R8, R8; \
	JZ      nextchunk; \
	TESTQ   R13, R13; \
	JZ      nobias; \
	BIAS512(0, Z0, Z1, Z2, Z3); \
	BIAS512(4, Z4, Z5, Z6, Z7); \
	BIAS512(8, Z8, Z9, Z10, Z11); \
	BIAS512(12, Z12, Z13, Z14, Z15); \
	ADDQ    $16, R13; \
nobias: \
	VPXORQ  Z28, Z28, Z28; \
	MIX512(Z0, 0); MIX512(Z1, 64); MIX512(Z2, 128); MIX512(Z3, 192); \
	MIX512(Z4, 256); MIX512(Z5, 320); MIX512(Z6, 384); MIX512(Z7, 448); \
	MIX512(Z8, 512); MIX512(Z9, 576); MIX512(Z10, 640); MIX512(Z11, 704); \
	MIX512(Z12, 768); MIX512(Z13, 832); MIX512(Z14, 896); MIX512(Z15, 960); \
	VEXTRACTI64X4 $1, Z28, Y29; \
	VPADDD  Y29, Y28, Y28; \
	VEXTRACTI32X4 $1, Y28, X29; \
	VPADDD  X29, X28, X28; \
	VPSHUFD $0x4E, X28, X29; \
	VPADDD  X29, X28, X28; \
	VPSHUFD $0xB1, X28, X29; \
	VPADDD  X29, X28, X28; \
	VMOVD   X28, AX; \
	ADDL    AX, (R9); \
nextchunk: \
	ADDQ    $4, R9; \
	DECQ    R12; \
	JNZ     chunk; \
	STOREACC512; \
	ADDQ    $1024, DI; \
	TESTQ   R8, R8; \
	JZ      nosalt; \
	ADDQ    $1024, R8; \
	TESTQ   R13, R13; \
	JZ      nosalt; \
	MOVQ    biasStride+56(FP), AX; \
	ADDQ    AX, R13; \
	MOVQ    chunks+72(FP), AX; \
	SHLQ    $4, AX; \
	SUBQ    AX, R13; \
nosalt: \
	ADDQ    R10, DX; \
	DECQ    R11; \
	JNZ     group; \
done: \
	VZEROUPPER; \
	RET

// func dotQuads512(a, b *byte, c *int32, salt *uint32, z *uint32, bias *int32, aStride, biasStride, groups, chunks, steps int)
// VPDPBUSD: a holds signed bytes, b unsigned bytes.
TEXT ·dotQuads512(SB), NOSPLIT, $0-88
	KERNEL512(VPDPBUSD)

// ---- AVX2: 4 rows × 2 ymm (16 columns), four column blocks per group ------
// Accumulators Y0–Y7 (row r, half h in Y(2r+h)); AX is the column block's
// byte offset (0, 64, 128, 192) into a 256-byte row or step.

#define ROW256(off, y0, y1) \
	VPBROADCASTD off(SI), Y10; \
	VPMADDWD     Y8, Y10, Y11; \
	VPADDD       Y11, y0, y0; \
	VPMADDWD     Y9, Y10, Y11; \
	VPADDD       Y11, y1, y1

#define MIX256(acc, off) \
	VPXOR    off(R13), acc, Y12; \
	VPMULLD  Y12, Y12, Y12; \
	VPADDD   Y12, Y14, Y14

// func dotPairs256(a, b *byte, c *int32, salt *uint32, z *uint32, bias *int32, aStride, biasStride, groups, chunks, steps int)
// (bias is not used: int16 pairs are exact.)
TEXT ·dotPairs256(SB), NOSPLIT, $0-88
	MOVQ    a+0(FP), DX
	MOVQ    c+16(FP), DI
	MOVQ    salt+24(FP), R8
	MOVQ    aStride+48(FP), R10
	MOVQ    groups+64(FP), R11
	TESTQ   R11, R11
	JLE     done
	MOVQ    chunks+72(FP), R12
	TESTQ   R12, R12
	JLE     done

group:
	XORQ    AX, AX

block:
	LEAQ    (DI)(AX*1), R13
	VMOVDQU (R13), Y0
	VMOVDQU 32(R13), Y1
	VMOVDQU 256(R13), Y2
	VMOVDQU 288(R13), Y3
	VMOVDQU 512(R13), Y4
	VMOVDQU 544(R13), Y5
	VMOVDQU 768(R13), Y6
	VMOVDQU 800(R13), Y7
	MOVQ    DX, SI
	MOVQ    b+8(FP), BX
	ADDQ    AX, BX
	MOVQ    z+32(FP), R9
	MOVQ    chunks+72(FP), R12

chunk:
	MOVQ    steps+80(FP), CX
	TESTQ   CX, CX
	JLE     mix

step:
	VMOVDQU (BX), Y8
	VMOVDQU 32(BX), Y9
	ROW256(0, Y0, Y1)
	ROW256(4, Y2, Y3)
	ROW256(8, Y4, Y5)
	ROW256(12, Y6, Y7)
	ADDQ    $16, SI
	ADDQ    $256, BX
	DECQ    CX
	JNZ     step

mix:
	TESTQ   R8, R8
	JZ      nextchunk
	LEAQ    (R8)(AX*1), R13
	VPXOR   Y14, Y14, Y14
	MIX256(Y0, 0)
	MIX256(Y1, 32)
	MIX256(Y2, 256)
	MIX256(Y3, 288)
	MIX256(Y4, 512)
	MIX256(Y5, 544)
	MIX256(Y6, 768)
	MIX256(Y7, 800)
	VEXTRACTI128 $1, Y14, X15
	VPADDD  X15, X14, X14
	VPSHUFD $0x4E, X14, X15
	VPADDD  X15, X14, X14
	VPSHUFD $0xB1, X14, X15
	VPADDD  X15, X14, X14
	VMOVD   X14, R13
	ADDL    R13, (R9)

nextchunk:
	ADDQ    $4, R9
	DECQ    R12
	JNZ     chunk

	LEAQ    (DI)(AX*1), R13
	VMOVDQU Y0, (R13)
	VMOVDQU Y1, 32(R13)
	VMOVDQU Y2, 256(R13)
	VMOVDQU Y3, 288(R13)
	VMOVDQU Y4, 512(R13)
	VMOVDQU Y5, 544(R13)
	VMOVDQU Y6, 768(R13)
	VMOVDQU Y7, 800(R13)
	ADDQ    $64, AX
	CMPQ    AX, $256
	JLT     block

	ADDQ    $1024, DI
	TESTQ   R8, R8
	JZ      nosalt
	ADDQ    $1024, R8

nosalt:
	ADDQ    R10, DX
	DECQ    R11
	JNZ     group

done:
	VZEROUPPER
	RET
