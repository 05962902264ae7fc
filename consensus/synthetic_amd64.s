#include "textflag.h"

// AVX-512 synthetic operand kernels (synthetic_amd64.go): 16 line streams at
// once, xoshiro256** in the 64-bit lanes of two zmm sets, lanes 0–7 (set A:
// Z0–Z3 = s0–s3) and 8–15 (set B: Z4–Z7). State s is [4][16]uint64,
// s[w][lane]; it is written back on return.
//
// Values without multiplies, per 32-bit half h of a draw (both halves at
// once, as dwords): with h = q·2^24 + f, h·255 = q·2^32 + (f·256 − h) and
// |f·256 − h| < 2^32, so
//	(h·255) >> 32 = q − [f·256 < h],  f·256 = h<<8 mod 2^32,
// i.e. byte 3 of h − [h<<8 < h]·2^24. A draw's low half's value is its byte
// 3, the high half's byte 7; VPERMT2B (VBMI) gathers them, VPSUBB takes 127.

// Constants: Z27 = 127 per byte, Z26 = 2^24 per dword.
#define CONSTS \
	MOVL         $127, DX; \
	VPBROADCASTB DX, Z27; \
	MOVL         $0x1000000, DX; \
	VPBROADCASTD DX, Z26

#define LOADSTATE \
	VMOVDQU64 (AX), Z0; VMOVDQU64 64(AX), Z4; \
	VMOVDQU64 128(AX), Z1; VMOVDQU64 192(AX), Z5; \
	VMOVDQU64 256(AX), Z2; VMOVDQU64 320(AX), Z6; \
	VMOVDQU64 384(AX), Z3; VMOVDQU64 448(AX), Z7

#define STORESTATE \
	VMOVDQU64 Z0, (AX); VMOVDQU64 Z4, 64(AX); \
	VMOVDQU64 Z1, 128(AX); VMOVDQU64 Z5, 192(AX); \
	VMOVDQU64 Z2, 256(AX); VMOVDQU64 Z6, 320(AX); \
	VMOVDQU64 Z3, 384(AX); VMOVDQU64 Z7, 448(AX)

// GEN advances one set (s0–s3) one step; r = result = rotl(5·s1, 7)·9 (×5,
// ×9 as shift+add) with both halves' values in bytes 3 and 7 (127 not yet
// taken); t scratch, k a mask register. State: t = s1<<17; s3 ^= s1;
// s1 ^= s2 ^ s0; s2 ^= s0 ^ t; s0 ^= s3; s3 = rotl(s3, 45) — the
// reference's order, XOR3 as VPTERNLOGQ 0x96.
#define GEN(s0, s1, s2, s3, r, t, k) \
	VPSLLQ     $2, s1, t; \
	VPADDQ     s1, t, t; \
	VPROLQ     $7, t, t; \
	VPSLLQ     $3, t, r; \
	VPADDQ     t, r, r; \
	VPSLLQ     $17, s1, t; \
	VPXORQ     s1, s3, s3; \
	VPTERNLOGQ $0x96, s0, s2, s1; \
	VPTERNLOGQ $0x96, t, s0, s2; \
	VPXORQ     s3, s0, s0; \
	VPROLQ     $45, s3, s3; \
	VPSLLD     $8, r, t; \
	VPCMPUD    $1, r, t, k; \
	VPSUBD     Z26, r, k, r

#define GENA(r) GEN(Z0, Z1, Z2, Z3, r, Z9, K3)
#define GENB(r) GEN(Z4, Z5, Z6, Z7, r, Z11, K4)

// B kernel index: bytes 0–15 = byte 3 of table 1's then table 2's qwords
// (low halves, lanes 0–15), bytes 16–31 = their byte 7 (high halves).
DATA synthIdxB<>+0(SB)/8, $0x3b332b231b130b03
DATA synthIdxB<>+8(SB)/8, $0x7b736b635b534b43
DATA synthIdxB<>+16(SB)/8, $0x3f372f271f170f07
DATA synthIdxB<>+24(SB)/8, $0x7f776f675f574f47
GLOBL synthIdxB<>(SB), RODATA|NOPTR, $64

// func synthB(s *[4][16]uint64, dst *int8, stride, k, mask int)
// Lane l is column l of a 16-column group of B: step i gives rows 2i (low
// halves) and 2i+1 (high halves), 16 contiguous bytes each, stored at
// dst+row·stride under byte mask (bit l = lane l). k rows; odd k uses the
// last draw's low half only.
TEXT ·synthB(SB), NOSPLIT, $0-40
	MOVQ          s+0(FP), AX
	MOVQ          dst+8(FP), DI
	MOVQ          stride+16(FP), BX
	MOVQ          k+24(FP), CX
	MOVQ          mask+32(FP), DX
	KMOVW         DX, K1
	CONSTS
	VMOVDQU64     synthIdxB<>(SB), Z30
	LOADSTATE
	LEAQ          (BX)(BX*1), R9
	MOVQ          CX, R8
	SHRQ          $1, R8
	JZ            btail

bloop:
	GENA(Z8)
	GENB(Z10)
	VPERMT2B      Z10, Z30, Z8
	VPSUBB        Y27, Y8, Y8
	VEXTRACTI32X4 $1, Y8, X10
	VMOVDQU8      X8, K1, (DI)
	VMOVDQU8      X10, K1, (DI)(BX*1)
	ADDQ          R9, DI
	DECQ          R8
	JNZ           bloop

btail:
	TESTQ         $1, CX
	JZ            bdone
	GENA(Z8)
	GENB(Z10)
	VPERMT2B      Z10, Z30, Z8
	VPSUBB        X27, X8, X8
	VMOVDQU8      X8, K1, (DI)

bdone:
	STORESTATE
	VZEROUPPER
	RET

// A kernel: lane l is row l of a 16-row group of A; a block of 8 steps (16
// columns) is transposed in registers, per set, by a VPERMT2B tree (row r =
// qword r of a draw vector, its 2 values in bytes 3, 7):
//	L2 = (r, r') of 2 steps:    dword r = row r, 4 columns  (Z29)
//	L3 = (L2, L2') of 4 steps:  qword r = row r, 8 columns  (Z28)
// then VPUNPCK{L,H}QDQ of the two L3 halves leaves rows 0,2,4,6 and 1,3,5,7
// as 16-byte 128-bit lanes.
DATA synthIdx2<>+0(SB)/8, $0x4f4b0f0b47430703
DATA synthIdx2<>+8(SB)/8, $0x5f5b1f1b57531713
DATA synthIdx2<>+16(SB)/8, $0x6f6b2f2b67632723
DATA synthIdx2<>+24(SB)/8, $0x7f7b3f3b77733733
GLOBL synthIdx2<>(SB), RODATA|NOPTR, $64

DATA synthIdx3<>+0(SB)/8, $0x4342414003020100
DATA synthIdx3<>+8(SB)/8, $0x4746454407060504
DATA synthIdx3<>+16(SB)/8, $0x4b4a49480b0a0908
DATA synthIdx3<>+24(SB)/8, $0x4f4e4d4c0f0e0d0c
DATA synthIdx3<>+32(SB)/8, $0x5352515013121110
DATA synthIdx3<>+40(SB)/8, $0x5756555417161514
DATA synthIdx3<>+48(SB)/8, $0x5b5a59581b1a1918
DATA synthIdx3<>+56(SB)/8, $0x5f5e5d5c1f1e1d1c
GLOBL synthIdx3<>(SB), RODATA|NOPTR, $64

// L2 of two steps into la (set A), lb (set B); Z8, Z10 scratch.
#define STEP2(la, lb) \
	GENA(la); \
	GENB(lb); \
	GENA(Z8); \
	GENB(Z10); \
	VPERMT2B Z8, Z29, la; \
	VPERMT2B Z10, Z29, lb

// BLOCK: 8 steps; leaves rows 0,2,4,6 in Z18, 1,3,5,7 in Z16, 8,10,12,14
// in Z21, 9,11,13,15 in Z19 (128-bit lane i = the i-th of them).
#define BLOCK \
	STEP2(Z16, Z19); \
	STEP2(Z17, Z20); \
	VPERMT2B    Z17, Z28, Z16; \
	VPERMT2B    Z20, Z28, Z19; \
	STEP2(Z17, Z20); \
	STEP2(Z18, Z21); \
	VPERMT2B    Z18, Z28, Z17; \
	VPERMT2B    Z21, Z28, Z20; \
	VPSUBB      Z27, Z16, Z16; \
	VPSUBB      Z27, Z17, Z17; \
	VPSUBB      Z27, Z19, Z19; \
	VPSUBB      Z27, Z20, Z20; \
	VPUNPCKLQDQ Z17, Z16, Z18; \
	VPUNPCKHQDQ Z17, Z16, Z16; \
	VPUNPCKLQDQ Z20, Z19, Z21; \
	VPUNPCKHQDQ Z20, Z19, Z19

// Row r of a set at base p: (p)(BX·r) with R10 = 3·stride, R11 = 5·stride,
// R12 = 7·stride.
#define STORE8(p, xev, ev, xod, od) \
	VMOVDQU64     xev, (p); \
	VEXTRACTI32X4 $1, ev, (p)(BX*2); \
	VEXTRACTI32X4 $2, ev, (p)(BX*4); \
	VEXTRACTI32X4 $3, ev, (p)(R10*2); \
	VMOVDQU64     xod, (p)(BX*1); \
	VEXTRACTI32X4 $1, od, (p)(R10*1); \
	VEXTRACTI32X4 $2, od, (p)(R11*1); \
	VEXTRACTI32X4 $3, od, (p)(R12*1)

// The same under byte mask K2 (a partial last block).
#define STORE8M(p, xev, ev, xod, od) \
	VMOVDQU8      xev, K2, (p); \
	VEXTRACTI32X4 $1, ev, X8; \
	VMOVDQU8      X8, K2, (p)(BX*2); \
	VEXTRACTI32X4 $2, ev, X8; \
	VMOVDQU8      X8, K2, (p)(BX*4); \
	VEXTRACTI32X4 $3, ev, X8; \
	VMOVDQU8      X8, K2, (p)(R10*2); \
	VMOVDQU8      xod, K2, (p)(BX*1); \
	VEXTRACTI32X4 $1, od, X8; \
	VMOVDQU8      X8, K2, (p)(R10*1); \
	VEXTRACTI32X4 $2, od, X8; \
	VMOVDQU8      X8, K2, (p)(R11*1); \
	VEXTRACTI32X4 $3, od, X8; \
	VMOVDQU8      X8, K2, (p)(R12*1)

// func synthA(s *[4][16]uint64, dst *int8, stride, k int)
// Writes k values to each of the 16 rows dst+l·stride, l = 0..15.
TEXT ·synthA(SB), NOSPLIT, $0-32
	MOVQ      s+0(FP), AX
	MOVQ      dst+8(FP), DI
	MOVQ      stride+16(FP), BX
	MOVQ      k+24(FP), CX
	CONSTS
	VMOVDQU64 synthIdx2<>(SB), Z29
	VMOVDQU64 synthIdx3<>(SB), Z28
	LOADSTATE
	LEAQ      (BX)(BX*2), R10
	LEAQ      (BX)(BX*4), R11
	LEAQ      (R10)(BX*4), R12
	LEAQ      (DI)(BX*8), R13
	MOVQ      CX, R8
	SHRQ      $4, R8
	JZ        atail

aloop:
	BLOCK
	STORE8(DI, X18, Z18, X16, Z16)
	STORE8(R13, X21, Z21, X19, Z19)
	ADDQ      $16, DI
	ADDQ      $16, R13
	DECQ      R8
	JNZ       aloop

atail:
	ANDQ      $15, CX
	JZ        adone
	MOVQ      $1, DX
	SHLQ      CX, DX
	DECQ      DX
	KMOVW     DX, K2
	BLOCK
	STORE8M(DI, X18, Z18, X16, Z16)
	STORE8M(R13, X21, Z21, X19, Z19)

adone:
	STORESTATE
	VZEROUPPER
	RET
