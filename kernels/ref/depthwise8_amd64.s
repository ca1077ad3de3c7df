#include "textflag.h"

// Kernels of the channel-blocked depthwise convolution (depthwise8.go).

// func transpose8(nb int, src *float32, rs, rb int, dst *float32, ds, db int)
// For each block b < nb, transposes the 8x8 floats whose row j starts at src + j*rs + b*rb
// into rows starting at dst + j*ds + b*db (strides in floats).
TEXT ·transpose8(SB), NOSPLIT, $0-56
	MOVQ nb+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ rs+16(FP), R8
	SHLQ $2, R8
	MOVQ rb+24(FP), R9
	SHLQ $2, R9
	MOVQ dst+32(FP), DI
	MOVQ ds+40(FP), R10
	SHLQ $2, R10
	MOVQ db+48(FP), R11
	SHLQ $2, R11
	TESTQ CX, CX
	JZ trdone

trloop:
	MOVQ SI, AX
	VMOVUPS (AX), Y0
	ADDQ R8, AX
	VMOVUPS (AX), Y1
	ADDQ R8, AX
	VMOVUPS (AX), Y2
	ADDQ R8, AX
	VMOVUPS (AX), Y3
	ADDQ R8, AX
	VMOVUPS (AX), Y4
	ADDQ R8, AX
	VMOVUPS (AX), Y5
	ADDQ R8, AX
	VMOVUPS (AX), Y6
	ADDQ R8, AX
	VMOVUPS (AX), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ DI, AX
	VMOVUPS Y8, (AX)
	ADDQ R10, AX
	VMOVUPS Y9, (AX)
	ADDQ R10, AX
	VMOVUPS Y10, (AX)
	ADDQ R10, AX
	VMOVUPS Y11, (AX)
	ADDQ R10, AX
	VMOVUPS Y12, (AX)
	ADDQ R10, AX
	VMOVUPS Y13, (AX)
	ADDQ R10, AX
	VMOVUPS Y14, (AX)
	ADDQ R10, AX
	VMOVUPS Y15, (AX)
	ADDQ R9, SI
	ADDQ R11, DI
	DECQ CX
	JNZ trloop

trdone:
	VZEROUPPER
	RET

// func dwRows8(rows, rowStep, n, taps int, offs *int, w, src *float32, step int, dst, bias *float32, flags int, lo, hi float32)
// For each output row r < rows and pixel p < n of 8 interleaved channels, with
// s = src + r*rowStep + p*step: acc = bias[0:8] + sum over t of w[8t:8t+8] * s[offs[t]:+8]
// (FMA, in tap order), then min(max(acc, lo), hi) when flags&gemmClamp;
// dst[8(r*n+p):+8] = acc. Steps and offs are in floats. Pixels go four at a time.
TEXT ·dwRows8(SB), NOSPLIT, $0-96
	MOVQ src+48(FP), BX
	MOVQ dst+64(FP), DI
	MOVQ bias+72(FP), AX
	VMOVUPS (AX), Y15
	VBROADCASTSS lo+88(FP), Y13
	VBROADCASTSS hi+92(FP), Y14
	MOVQ flags+80(FP), DX

dwrow:
	MOVQ rows+0(FP), AX
	TESTQ AX, AX
	JZ dwdone
	DECQ AX
	MOVQ AX, rows+0(FP)
	MOVQ BX, SI
	MOVQ rowStep+8(FP), AX
	LEAQ (BX)(AX*4), BX
	MOVQ n+16(FP), CX
	MOVQ step+56(FP), R13
	SHLQ $2, R13
	LEAQ (R13)(R13*2), R14
	CMPQ CX, $4
	JB dwone

dwfour:
	VMOVAPS Y15, Y0
	VMOVAPS Y15, Y1
	VMOVAPS Y15, Y2
	VMOVAPS Y15, Y3
	MOVQ taps+24(FP), R8
	MOVQ offs+32(FP), R9
	MOVQ w+40(FP), R10

dwfourtap:
	MOVQ (R9), R11
	LEAQ (SI)(R11*4), R12
	VMOVUPS (R10), Y4
	VFMADD231PS (R12), Y4, Y0
	VFMADD231PS (R12)(R13*1), Y4, Y1
	VFMADD231PS (R12)(R13*2), Y4, Y2
	VFMADD231PS (R12)(R14*1), Y4, Y3
	ADDQ $8, R9
	ADDQ $32, R10
	DECQ R8
	JNZ dwfourtap

	TESTQ $8, DX
	JZ dwfourstore
	VMAXPS Y0, Y13, Y0
	VMINPS Y0, Y14, Y0
	VMAXPS Y1, Y13, Y1
	VMINPS Y1, Y14, Y1
	VMAXPS Y2, Y13, Y2
	VMINPS Y2, Y14, Y2
	VMAXPS Y3, Y13, Y3
	VMINPS Y3, Y14, Y3

dwfourstore:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	LEAQ (SI)(R13*4), SI
	ADDQ $128, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JAE dwfour

dwone:
	TESTQ CX, CX
	JZ dwrow

dwoneloop:
	VMOVAPS Y15, Y0
	MOVQ taps+24(FP), R8
	MOVQ offs+32(FP), R9
	MOVQ w+40(FP), R10

dwonetap:
	MOVQ (R9), R11
	LEAQ (SI)(R11*4), R12
	VMOVUPS (R10), Y4
	VFMADD231PS (R12), Y4, Y0
	ADDQ $8, R9
	ADDQ $32, R10
	DECQ R8
	JNZ dwonetap

	TESTQ $8, DX
	JZ dwonestore
	VMAXPS Y0, Y13, Y0
	VMINPS Y0, Y14, Y0

dwonestore:
	VMOVUPS Y0, (DI)
	ADDQ R13, SI
	ADDQ $32, DI
	DECQ CX
	JNZ dwoneloop
	JMP dwrow

dwdone:
	VZEROUPPER
	RET
