#include "textflag.h"

// Micro-kernels of the amd64 backends. Operands come packed (see simd_amd64.go):
// per K-step, an A group holds one dword per row (4 rows, 16 bytes) and a B
// panel 64 dwords, one per column (256 bytes). A dword is four int8 (quads,
// VPDPBUSD: B side unsigned) or two int16 (pairs, VPDPWSSD / VPMADDWD).
// Accumulators live in c, 4 rows × 64 int32 per group (row stride 256 bytes),
// loaded on entry and stored on exit. After each chunk of `steps` steps, when
// salt is not nil, z[chunk] += Σ (uint32(acc) ^ salt)² over the group.
//
// func(a, b *byte, c *int32, salt *uint32, z *uint64, aStride, groups, chunks, steps int)

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
	VPXORD   off(R8), acc, Z24; \
	VPMULUDQ Z24, Z24, Z25; \
	VPSRLQ   $32, Z24, Z24; \
	VPMULUDQ Z24, Z24, Z24; \
	VPADDQ   Z25, Z28, Z28; \
	VPADDQ   Z24, Z29, Z29

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
	MOVQ    aStride+40(FP), R10; \
	MOVQ    groups+48(FP), R11; \
	TESTQ   R11, R11; \
	JLE     done; \
	MOVQ    chunks+56(FP), R12; \
	TESTQ   R12, R12; \
	JLE     done; \
group: \
	LOADACC512; \
	MOVQ    DX, SI; \
	MOVQ    b+8(FP), BX; \
	MOVQ    z+32(FP), R9; \
	MOVQ    chunks+56(FP), R12; \
chunk: \
	MOVQ    steps+64(FP), CX; \
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
	VPXORQ  Z28, Z28, Z28; \
	VPXORQ  Z29, Z29, Z29; \
	MIX512(Z0, 0); MIX512(Z1, 64); MIX512(Z2, 128); MIX512(Z3, 192); \
	MIX512(Z4, 256); MIX512(Z5, 320); MIX512(Z6, 384); MIX512(Z7, 448); \
	MIX512(Z8, 512); MIX512(Z9, 576); MIX512(Z10, 640); MIX512(Z11, 704); \
	MIX512(Z12, 768); MIX512(Z13, 832); MIX512(Z14, 896); MIX512(Z15, 960); \
	VPADDQ  Z29, Z28, Z28; \
	VEXTRACTI64X4 $1, Z28, Y29; \
	VPADDQ  Y29, Y28, Y28; \
	VEXTRACTI32X4 $1, Y28, X29; \
	VPADDQ  X29, X28, X28; \
	VPSHUFD $0x4E, X28, X29; \
	VPADDQ  X29, X28, X28; \
	VMOVQ   X28, AX; \
	ADDQ    AX, (R9); \
nextchunk: \
	ADDQ    $8, R9; \
	DECQ    R12; \
	JNZ     chunk; \
	STOREACC512; \
	ADDQ    $1024, DI; \
	TESTQ   R8, R8; \
	JZ      nosalt; \
	ADDQ    $1024, R8; \
nosalt: \
	ADDQ    R10, DX; \
	DECQ    R11; \
	JNZ     group; \
done: \
	VZEROUPPER; \
	RET

// func dotQuads512(a, b *byte, c *int32, salt *uint32, z *uint64, aStride, groups, chunks, steps int)
// VPDPBUSD: a holds signed bytes, b unsigned bytes.
TEXT ·dotQuads512(SB), NOSPLIT, $0-72
	KERNEL512(VPDPBUSD)

// func dotPairs512(a, b *byte, c *int32, salt *uint32, z *uint64, aStride, groups, chunks, steps int)
TEXT ·dotPairs512(SB), NOSPLIT, $0-72
	KERNEL512(VPDPWSSD)

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
	VPMULUDQ Y12, Y12, Y13; \
	VPSRLQ   $32, Y12, Y12; \
	VPMULUDQ Y12, Y12, Y12; \
	VPADDQ   Y13, Y14, Y14; \
	VPADDQ   Y12, Y15, Y15

// func dotPairs256(a, b *byte, c *int32, salt *uint32, z *uint64, aStride, groups, chunks, steps int)
TEXT ·dotPairs256(SB), NOSPLIT, $0-72
	MOVQ    a+0(FP), DX
	MOVQ    c+16(FP), DI
	MOVQ    salt+24(FP), R8
	MOVQ    aStride+40(FP), R10
	MOVQ    groups+48(FP), R11
	TESTQ   R11, R11
	JLE     done
	MOVQ    chunks+56(FP), R12
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
	MOVQ    chunks+56(FP), R12

chunk:
	MOVQ    steps+64(FP), CX
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
	VPXOR   Y15, Y15, Y15
	MIX256(Y0, 0)
	MIX256(Y1, 32)
	MIX256(Y2, 256)
	MIX256(Y3, 288)
	MIX256(Y4, 512)
	MIX256(Y5, 544)
	MIX256(Y6, 768)
	MIX256(Y7, 800)
	VPADDQ  Y15, Y14, Y14
	VEXTRACTI128 $1, Y14, X15
	VPADDQ  X15, X14, X14
	VPSHUFD $0x4E, X14, X15
	VPADDQ  X15, X14, X14
	VMOVQ   X14, R13
	ADDQ    R13, (R9)

nextchunk:
	ADDQ    $8, R9
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
