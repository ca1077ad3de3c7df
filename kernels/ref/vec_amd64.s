#include "textflag.h"

// Vector loops over n float32s, n a multiple of 8 (the Go wrappers in vec.go do the tail).

// func axpy8(n int, a float32, x, y *float32)
// y[i] += a * x[i]
TEXT ·axpy8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	VBROADCASTSS a+8(FP), Y0
	MOVQ x+16(FP), SI
	MOVQ y+24(FP), DI
	SHRQ $3, CX
	JZ axdone
	CMPQ CX, $4
	JB axone

axfour:
	VMOVUPS (DI), Y1
	VMOVUPS 32(DI), Y2
	VMOVUPS 64(DI), Y3
	VMOVUPS 96(DI), Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JAE axfour
	TESTQ CX, CX
	JZ axdone

axone:
	VMOVUPS (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ axone

axdone:
	VZEROUPPER
	RET

// func clamp8(n int, x, y *float32, b, lo, hi float32)
// y[i] = min(max(x[i]+b, lo), hi); NaN stays NaN.
TEXT ·clamp8(SB), NOSPLIT, $0-36
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VBROADCASTSS b+24(FP), Y0
	VBROADCASTSS lo+28(FP), Y1
	VBROADCASTSS hi+32(FP), Y2
	SHRQ $3, CX
	JZ cldone

clloop:
	VADDPS (SI), Y0, Y3
	VMAXPS Y3, Y1, Y3
	VMINPS Y3, Y2, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ clloop

cldone:
	VZEROUPPER
	RET

// func scaleShift8(n int, x, y *float32, a, b float32)
// y[i] = x[i]*a + b
TEXT ·scaleShift8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VBROADCASTSS a+24(FP), Y0
	VBROADCASTSS b+28(FP), Y1
	SHRQ $3, CX
	JZ ssdone

ssloop:
	VMOVUPS (SI), Y3
	VFMADD213PS Y1, Y0, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ ssloop

ssdone:
	VZEROUPPER
	RET

// Elementwise binary ops: c[i] = a[i] op b[i] (VV) or c[i] = a[i] op s (VS).

// func addVV8(n int, a, b, c *float32)
TEXT ·addVV8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ addvvdone

addvvloop:
	VMOVUPS (SI), Y0
	VADDPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ addvvloop

addvvdone:
	VZEROUPPER
	RET

// func addVS8(n int, a *float32, s float32, c *float32)
TEXT ·addVS8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Y1
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ addvsdone

addvsloop:
	VMOVUPS (SI), Y0
	VADDPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ addvsloop

addvsdone:
	VZEROUPPER
	RET

// func subVV8(n int, a, b, c *float32)
TEXT ·subVV8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ subvvdone

subvvloop:
	VMOVUPS (SI), Y0
	VSUBPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ subvvloop

subvvdone:
	VZEROUPPER
	RET

// func subVS8(n int, a *float32, s float32, c *float32)
TEXT ·subVS8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Y1
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ subvsdone

subvsloop:
	VMOVUPS (SI), Y0
	VSUBPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ subvsloop

subvsdone:
	VZEROUPPER
	RET

// func mulVV8(n int, a, b, c *float32)
TEXT ·mulVV8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ mulvvdone

mulvvloop:
	VMOVUPS (SI), Y0
	VMULPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ mulvvloop

mulvvdone:
	VZEROUPPER
	RET

// func mulVS8(n int, a *float32, s float32, c *float32)
TEXT ·mulVS8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Y1
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ mulvsdone

mulvsloop:
	VMOVUPS (SI), Y0
	VMULPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ mulvsloop

mulvsdone:
	VZEROUPPER
	RET

// func divVV8(n int, a, b, c *float32)
TEXT ·divVV8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ divvvdone

divvvloop:
	VMOVUPS (SI), Y0
	VDIVPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ divvvloop

divvvdone:
	VZEROUPPER
	RET

// func divVS8(n int, a *float32, s float32, c *float32)
TEXT ·divVS8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Y1
	MOVQ c+24(FP), DI
	SHRQ $3, CX
	JZ divvsdone

divvsloop:
	VMOVUPS (SI), Y0
	VDIVPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ divvsloop

divvsdone:
	VZEROUPPER
	RET

// func dwConv16(n, taps int, offs *int, w, src, dst *float32, b, lo, hi float32)
// For j < n (a multiple of 16): dst[j] = clamp(b + sum_t w[t]*src[offs[t]+j], lo, hi).
TEXT ·dwConv16(SB), NOSPLIT, $0-60
	MOVQ n+0(FP), CX
	MOVQ src+32(FP), SI
	MOVQ dst+40(FP), DI
	VBROADCASTSS b+48(FP), Y13
	VBROADCASTSS lo+52(FP), Y14
	VBROADCASTSS hi+56(FP), Y15
	SHRQ $4, CX
	JZ dwdone

dwouter:
	VMOVAPS Y13, Y0
	VMOVAPS Y13, Y1
	MOVQ taps+8(FP), R8
	MOVQ offs+16(FP), R9
	MOVQ w+24(FP), R10

dwinner:
	MOVQ (R9), R11
	LEAQ (SI)(R11*4), R12
	VBROADCASTSS (R10), Y2
	VFMADD231PS (R12), Y2, Y0
	VFMADD231PS 32(R12), Y2, Y1
	ADDQ $8, R9
	ADDQ $4, R10
	DECQ R8
	JNZ dwinner

	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y15, Y0
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y15, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ dwouter

dwdone:
	VZEROUPPER
	RET

// func dot32(n int, x, y *float32) float32
// sum of x[i]*y[i] for i < n, n a multiple of 32.
TEXT ·dot32(SB), NOSPLIT, $0-28
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	SHRQ $5, CX
	JZ dtsum

dtloop:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ dtloop

dtsum:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func leaky8(n int, x, y *float32, b, alpha float32)
// v = x[i]+b; y[i] = max(v, 0) + alpha*min(v, 0)
TEXT ·leaky8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VBROADCASTSS b+24(FP), Y0
	VBROADCASTSS alpha+28(FP), Y1
	VXORPS Y2, Y2, Y2
	SHRQ $3, CX
	JZ lkdone

lkloop:
	VADDPS (SI), Y0, Y3
	VMAXPS Y3, Y2, Y4
	VMINPS Y3, Y2, Y5
	VFMADD231PS Y5, Y1, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ lkloop

lkdone:
	VZEROUPPER
	RET

// func hardSigmoid8(n int, x, y *float32, b, alpha, beta float32, swish int)
// v = x[i]+b; h = min(max(alpha*v+beta, 0), 1); y[i] = h, or v*h when swish != 0
TEXT ·hardSigmoid8(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VBROADCASTSS b+24(FP), Y0
	VBROADCASTSS alpha+28(FP), Y1
	VBROADCASTSS beta+32(FP), Y2
	MOVQ swish+40(FP), DX
	VXORPS Y6, Y6, Y6
	MOVL $0x3f800000, AX
	MOVL AX, X7
	VBROADCASTSS X7, Y7
	SHRQ $3, CX
	JZ hsdone

hsloop:
	VADDPS (SI), Y0, Y3
	VMOVAPS Y3, Y4
	VFMADD213PS Y2, Y1, Y4
	VMAXPS Y4, Y6, Y4
	VMINPS Y4, Y7, Y4
	TESTQ DX, DX
	JZ hsstore
	VMULPS Y3, Y4, Y4

hsstore:
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ hsloop

hsdone:
	VZEROUPPER
	RET
