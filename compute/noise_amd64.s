#include "textflag.h"

// Noise application (noise_amd64.go): dst = a + sign(s)·e, 32 bytes a step
// (VPSIGNB, VPADDB). Operands plus noise stay inside int8, so byte adds are
// exact.

// func signAdd32(dst, a, e, s *byte, blocks int)
TEXT ·signAdd32(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ e+16(FP), DX
	MOVQ s+24(FP), BX
	MOVQ blocks+32(FP), CX
	TESTQ CX, CX
	JLE  done
loop:
	VMOVDQU (DX), Y0
	VMOVDQU (BX), Y1
	VPSIGNB Y1, Y0, Y0
	VPADDB  (SI), Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, BX
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func signAddRows32(dst, src *byte, ld int, fr *byte, idx *uint16, s *int8, rows, blocks int)
// For each row kk: dst (blocks·32 bytes, rows packed) = src (rows ld apart)
// + s[kk]·fr row idx[kk] (rows blocks·32 apart).
TEXT ·signAddRows32(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ fr+24(FP), R9
	MOVQ idx+32(FP), R10
	MOVQ s+40(FP), R11
	MOVQ rows+48(FP), R12
	MOVQ blocks+56(FP), R13
	TESTQ R12, R12
	JLE  rdone
rrow:
	MOVWQZX (R10), AX
	IMULQ R13, AX
	SHLQ $5, AX             // idx · row bytes
	LEAQ (R9)(AX*1), DX     // fr row
	VPBROADCASTB (R11), Y1
	MOVQ SI, BX
	MOVQ R13, CX
rblk:
	VMOVDQU (DX), Y0
	VPSIGNB Y1, Y0, Y0
	VPADDB  (BX), Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, BX
	ADDQ $32, DX
	DECQ CX
	JNZ  rblk
	ADDQ R8, SI
	ADDQ $2, R10
	INCQ R11
	DECQ R12
	JNZ  rrow
rdone:
	VZEROUPPER
	RET
