#include "textflag.h"

// Kernels of the int8 noised transcript (option (b), noised_amd64.go).
// P'(t) = (A+E)(B+F) summed over k < tκ is built as A·(B+128) (VPDPBUSD, as
// in MatMul) plus, after every chunk, csteps int16 pair steps (VPDPWSSD) that
// add that chunk's low-rank terms ΔCX'·FR + EL·ΔCYB − 128·Δrowsum(A).

#define LOADACC \
	VMOVDQU32 (DI), Z0; VMOVDQU32 64(DI), Z1; VMOVDQU32 128(DI), Z2; VMOVDQU32 192(DI), Z3; \
	VMOVDQU32 256(DI), Z4; VMOVDQU32 320(DI), Z5; VMOVDQU32 384(DI), Z6; VMOVDQU32 448(DI), Z7; \
	VMOVDQU32 512(DI), Z8; VMOVDQU32 576(DI), Z9; VMOVDQU32 640(DI), Z10; VMOVDQU32 704(DI), Z11; \
	VMOVDQU32 768(DI), Z12; VMOVDQU32 832(DI), Z13; VMOVDQU32 896(DI), Z14; VMOVDQU32 960(DI), Z15

#define STOREACC \
	VMOVDQU32 Z0, (DI); VMOVDQU32 Z1, 64(DI); VMOVDQU32 Z2, 128(DI); VMOVDQU32 Z3, 192(DI); \
	VMOVDQU32 Z4, 256(DI); VMOVDQU32 Z5, 320(DI); VMOVDQU32 Z6, 384(DI); VMOVDQU32 Z7, 448(DI); \
	VMOVDQU32 Z8, 512(DI); VMOVDQU32 Z9, 576(DI); VMOVDQU32 Z10, 640(DI); VMOVDQU32 Z11, 704(DI); \
	VMOVDQU32 Z12, 768(DI); VMOVDQU32 Z13, 832(DI); VMOVDQU32 Z14, 896(DI); VMOVDQU32 Z15, 960(DI)

#define ROWX(OP, bc, z0, z1, z2, z3) \
	OP bc, Z16, z0; \
	OP bc, Z17, z1; \
	OP bc, Z18, z2; \
	OP bc, Z19, z3

#define STEPX(OP, PA, PB) \
	VMOVDQU32     (PB), Z16; \
	VMOVDQU32     64(PB), Z17; \
	VMOVDQU32     128(PB), Z18; \
	VMOVDQU32     192(PB), Z19; \
	VPBROADCASTD  (PA), Z20; \
	VPBROADCASTD  4(PA), Z21; \
	VPBROADCASTD  8(PA), Z22; \
	VPBROADCASTD  12(PA), Z23; \
	ROWX(OP, Z20, Z0, Z1, Z2, Z3); \
	ROWX(OP, Z21, Z4, Z5, Z6, Z7); \
	ROWX(OP, Z22, Z8, Z9, Z10, Z11); \
	ROWX(OP, Z23, Z12, Z13, Z14, Z15)

#define MIXX(acc, off) \
	VPXORD   off(R8), acc, Z24; \
	VPMULUDQ Z24, Z24, Z25; \
	VPSRLQ   $32, Z24, Z24; \
	VPMULUDQ Z24, Z24, Z24; \
	VPADDQ   Z25, Z28, Z28; \
	VPADDQ   Z24, Z29, Z29

// func noisedQuads512(a, b *byte, c *int32, salt *uint32, z *uint64, aStride, groups, chunks, steps int, ca, cb *byte, caStride, csteps int)
// Per group of 4 rows and per chunk: steps VPDPBUSD steps from a/b, then
// csteps VPDPWSSD steps from ca/cb (same layouts: 16 bytes per A step, 256
// per B step), then z[chunk] += Σ (uint32(acc) ^ salt)² unless z is nil (a
// chunk split across calls). salt must not be nil.
TEXT ·noisedQuads512(SB), NOSPLIT, $0-104
	MOVQ    a+0(FP), DX
	MOVQ    c+16(FP), DI
	MOVQ    salt+24(FP), R8
	MOVQ    ca+72(FP), AX
	MOVQ    groups+48(FP), R11
	TESTQ   R11, R11
	JLE     done
	MOVQ    chunks+56(FP), R12
	TESTQ   R12, R12
	JLE     done

group:
	LOADACC
	MOVQ    DX, SI
	MOVQ    AX, R13
	MOVQ    b+8(FP), BX
	MOVQ    cb+80(FP), R15
	MOVQ    z+32(FP), R9
	MOVQ    chunks+56(FP), R12

chunk:
	MOVQ    steps+64(FP), CX
	TESTQ   CX, CX
	JLE     corr

step:
	STEPX(VPDPBUSD, SI, BX)
	ADDQ    $16, SI
	ADDQ    $256, BX
	DECQ    CX
	JNZ     step

corr:
	MOVQ    csteps+96(FP), CX
	TESTQ   CX, CX
	JLE     mix

cstep:
	STEPX(VPDPWSSD, R13, R15)
	ADDQ    $16, R13
	ADDQ    $256, R15
	DECQ    CX
	JNZ     cstep

mix:
	CMPQ    z+32(FP), $0
	JEQ     nomix
	VPXORQ  Z28, Z28, Z28
	VPXORQ  Z29, Z29, Z29
	MIXX(Z0, 0); MIXX(Z1, 64); MIXX(Z2, 128); MIXX(Z3, 192)
	MIXX(Z4, 256); MIXX(Z5, 320); MIXX(Z6, 384); MIXX(Z7, 448)
	MIXX(Z8, 512); MIXX(Z9, 576); MIXX(Z10, 640); MIXX(Z11, 704)
	MIXX(Z12, 768); MIXX(Z13, 832); MIXX(Z14, 896); MIXX(Z15, 960)
	VPADDQ  Z29, Z28, Z28
	VEXTRACTI64X4 $1, Z28, Y29
	VPADDQ  Y29, Y28, Y28
	VEXTRACTI32X4 $1, Y28, X29
	VPADDQ  X29, X28, X28
	VPSHUFD $0x4E, X28, X29
	VPADDQ  X29, X28, X28
	VMOVQ   X28, CX
	ADDQ    CX, (R9)

nomix:
	ADDQ    $8, R9
	DECQ    R12
	JNZ     chunk

	STOREACC
	ADDQ    $1024, DI
	ADDQ    $1024, R8
	ADDQ    aStride+40(FP), DX
	ADDQ    caStride+88(FP), AX
	DECQ    R11
	JNZ     group

done:
	VZEROUPPER
	RET

// func noiseRows512(a *byte, aStride int, fl, elp, gt *byte, bias, out *int32, chunks, steps, pairs int)
// For 16 rows (4 packed quad groups, aStride apart) and each of chunks chunks
// of steps steps: out[chunk][q][row] = bias[chunk][q] + Σ_s (A+128)·fl[s][q]
// + Σ_p elp[p][row]·g[chunk][p][q], q < 9 (q = 8 takes no g term). fl holds
// 9 signed quads per step (36 bytes), elp 16 int16 pairs per p (64 bytes), g
// 8 int16 pairs per p per chunk, bias 9 int32 per chunk; out 9×16 int32 per chunk.
TEXT ·noiseRows512(SB), NOSPLIT, $0-80
	MOVQ    a+0(FP), R8
	MOVQ    aStride+8(FP), DX
	LEAQ    (DX)(DX*2), R12
	MOVQ    fl+16(FP), SI
	MOVQ    elp+24(FP), R11
	MOVQ    gt+32(FP), BX
	MOVQ    bias+40(FP), CX
	MOVQ    out+48(FP), DI
	MOVQ    chunks+56(FP), R9
	TESTQ   R9, R9
	JLE     rdone
	MOVL    $0x80808080, AX
	VPBROADCASTD AX, Z31

rchunk:
	VPBROADCASTD (CX), Z0
	VPBROADCASTD 4(CX), Z1
	VPBROADCASTD 8(CX), Z2
	VPBROADCASTD 12(CX), Z3
	VPBROADCASTD 16(CX), Z4
	VPBROADCASTD 20(CX), Z5
	VPBROADCASTD 24(CX), Z6
	VPBROADCASTD 28(CX), Z7
	VPBROADCASTD 32(CX), Z8
	MOVQ    steps+64(FP), R10
	TESTQ   R10, R10
	JLE     rpairs

rstep:
	VMOVDQU32    (R8), X16
	VINSERTI32X4 $1, (R8)(DX*1), Z16, Z16
	VINSERTI32X4 $2, (R8)(DX*2), Z16, Z16
	VINSERTI32X4 $3, (R8)(R12*1), Z16, Z16
	VPXORD       Z31, Z16, Z16
	VPDPBUSD.BCST (SI), Z16, Z0
	VPDPBUSD.BCST 4(SI), Z16, Z1
	VPDPBUSD.BCST 8(SI), Z16, Z2
	VPDPBUSD.BCST 12(SI), Z16, Z3
	VPDPBUSD.BCST 16(SI), Z16, Z4
	VPDPBUSD.BCST 20(SI), Z16, Z5
	VPDPBUSD.BCST 24(SI), Z16, Z6
	VPDPBUSD.BCST 28(SI), Z16, Z7
	VPDPBUSD.BCST 32(SI), Z16, Z8
	ADDQ    $16, R8
	ADDQ    $36, SI
	DECQ    R10
	JNZ     rstep

rpairs:
	MOVQ    pairs+72(FP), R10
	MOVQ    R11, AX
	TESTQ   R10, R10
	JLE     rstore

rpair:
	VMOVDQU32 (AX), Z16
	VPDPWSSD.BCST (BX), Z16, Z0
	VPDPWSSD.BCST 4(BX), Z16, Z1
	VPDPWSSD.BCST 8(BX), Z16, Z2
	VPDPWSSD.BCST 12(BX), Z16, Z3
	VPDPWSSD.BCST 16(BX), Z16, Z4
	VPDPWSSD.BCST 20(BX), Z16, Z5
	VPDPWSSD.BCST 24(BX), Z16, Z6
	VPDPWSSD.BCST 28(BX), Z16, Z7
	ADDQ    $64, AX
	ADDQ    $32, BX
	DECQ    R10
	JNZ     rpair

rstore:
	VMOVDQU32 Z0, (DI)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z3, 192(DI)
	VMOVDQU32 Z4, 256(DI)
	VMOVDQU32 Z5, 320(DI)
	VMOVDQU32 Z6, 384(DI)
	VMOVDQU32 Z7, 448(DI)
	VMOVDQU32 Z8, 512(DI)
	ADDQ    $576, DI
	ADDQ    $36, CX
	DECQ    R9
	JNZ     rchunk

rdone:
	VZEROUPPER
	RET

// func noiseCols512(b, er *byte, bias, out *int32, chunks, steps int)
// For one 64-column quad panel (B+128 unsigned, 256 bytes per step) and each
// chunk of steps steps: out[chunk][q][col] = bias[chunk][q] + Σ_s (B+128)·er[s][q],
// q < 8. er holds 8 signed quads per step (32 bytes), bias 8 int32 per chunk,
// out 8×64 int32 per chunk.
TEXT ·noiseCols512(SB), NOSPLIT, $0-48
	XORQ    DX, DX

cblock:
	MOVQ    b+0(FP), R8
	ADDQ    DX, R8
	MOVQ    er+8(FP), SI
	MOVQ    bias+16(FP), CX
	MOVQ    out+24(FP), DI
	ADDQ    DX, DI
	MOVQ    chunks+32(FP), R9
	TESTQ   R9, R9
	JLE     cdone

cchunk:
	VPBROADCASTD (CX), Z0
	VPBROADCASTD 4(CX), Z1
	VPBROADCASTD 8(CX), Z2
	VPBROADCASTD 12(CX), Z3
	VPBROADCASTD 16(CX), Z4
	VPBROADCASTD 20(CX), Z5
	VPBROADCASTD 24(CX), Z6
	VPBROADCASTD 28(CX), Z7
	MOVQ    steps+40(FP), R10
	TESTQ   R10, R10
	JLE     cstore

cstep:
	VMOVDQU32 (R8), Z16
	VPDPBUSD.BCST (SI), Z16, Z0
	VPDPBUSD.BCST 4(SI), Z16, Z1
	VPDPBUSD.BCST 8(SI), Z16, Z2
	VPDPBUSD.BCST 12(SI), Z16, Z3
	VPDPBUSD.BCST 16(SI), Z16, Z4
	VPDPBUSD.BCST 20(SI), Z16, Z5
	VPDPBUSD.BCST 24(SI), Z16, Z6
	VPDPBUSD.BCST 28(SI), Z16, Z7
	ADDQ    $256, R8
	ADDQ    $32, SI
	DECQ    R10
	JNZ     cstep

cstore:
	VMOVDQU32 Z0, (DI)
	VMOVDQU32 Z1, 256(DI)
	VMOVDQU32 Z2, 512(DI)
	VMOVDQU32 Z3, 768(DI)
	VMOVDQU32 Z4, 1024(DI)
	VMOVDQU32 Z5, 1280(DI)
	VMOVDQU32 Z6, 1536(DI)
	VMOVDQU32 Z7, 1792(DI)
	ADDQ    $2048, DI
	ADDQ    $32, CX
	DECQ    R9
	JNZ     cchunk

	ADDQ    $64, DX
	CMPQ    DX, $256
	JLT     cblock

cdone:
	VZEROUPPER
	RET
