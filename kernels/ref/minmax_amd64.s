#include "textflag.h"

// Elementwise Max/Min over n float32s, n a multiple of 8; a NaN in either operand gives NaN.

// func maxVV8(n int, a, b, c *float32)
TEXT ·maxVV8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ maxvvdone

maxvvloop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VMAXPS Y0, Y1, Y2         // max(b, a); a where either is NaN
	VCMPPS $3, Y1, Y1, Y3     // b is NaN
	VBLENDVPS Y3, Y1, Y2, Y2  // then b
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ maxvvloop

maxvvdone:
	VZEROUPPER
	RET

// func minVV8(n int, a, b, c *float32)
TEXT ·minVV8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ minvvdone

minvvloop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VMINPS Y0, Y1, Y2
	VCMPPS $3, Y1, Y1, Y3
	VBLENDVPS Y3, Y1, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ minvvloop

minvvdone:
	VZEROUPPER
	RET

// func maxVS8(n int, a *float32, s float32, c *float32)
// s must not be NaN; a NaN in a stays NaN.
TEXT ·maxVS8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Y1
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ maxvsdone
	CMPQ CX, $4
	JB maxvsone

maxvsfour:
	VMAXPS (SI), Y1, Y2
	VMAXPS 32(SI), Y1, Y3
	VMAXPS 64(SI), Y1, Y4
	VMAXPS 96(SI), Y1, Y5
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	VMOVUPS Y4, 64(DI)
	VMOVUPS Y5, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JAE maxvsfour
	TESTQ CX, CX
	JZ maxvsdone

maxvsone:
	VMAXPS (SI), Y1, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ maxvsone

maxvsdone:
	VZEROUPPER
	RET

// func minVS8(n int, a *float32, s float32, c *float32)
TEXT ·minVS8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Y1
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ minvsdone
	CMPQ CX, $4
	JB minvsone

minvsfour:
	VMINPS (SI), Y1, Y2
	VMINPS 32(SI), Y1, Y3
	VMINPS 64(SI), Y1, Y4
	VMINPS 96(SI), Y1, Y5
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	VMOVUPS Y4, 64(DI)
	VMOVUPS Y5, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JAE minvsfour
	TESTQ CX, CX
	JZ minvsdone

minvsone:
	VMINPS (SI), Y1, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ minvsone

minvsdone:
	VZEROUPPER
	RET

// func maxPairs8(n int, x, y, dst *float32)
// dst[i] = max(x[2i], x[2i+1], y[2i], y[2i+1]) for i < n (n a multiple of 8): a 2x2 (or,
// with y == x, 1x2) max pool with stride 2 over two input rows. NaN in any gives NaN.
TEXT ·maxPairs8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ dst+24(FP), DI
	SHRQ $3, CX
	JZ mpdone

mploop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2 // x evens (lanes interleaved)
	VSHUFPS $0xDD, Y1, Y0, Y3 // x odds
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VSHUFPS $0x88, Y1, Y0, Y4 // y evens
	VSHUFPS $0xDD, Y1, Y0, Y5 // y odds
	VMAXPS Y2, Y3, Y6         // max(x odd, x even): x even where either is NaN
	VCMPPS $3, Y3, Y3, Y7
	VBLENDVPS Y7, Y3, Y6, Y6  // x odd where it is NaN
	VMAXPS Y4, Y5, Y8
	VCMPPS $3, Y5, Y5, Y7
	VBLENDVPS Y7, Y5, Y8, Y8
	VMAXPS Y6, Y8, Y9         // max of the two rows, NaN kept the same way
	VCMPPS $3, Y8, Y8, Y7
	VBLENDVPS Y7, Y8, Y9, Y9
	VPERMPD $0xD8, Y9, Y9     // lanes back in order
	VMOVUPS Y9, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $32, DI
	DECQ CX
	JNZ mploop

mpdone:
	VZEROUPPER
	RET
