#include "textflag.h"

// Popcounts of the nibbles 0 to 15, in both 128-bit lanes.
DATA nibblePop<>+0(SB)/8, $0x0302020102010100
DATA nibblePop<>+8(SB)/8, $0x0403030203020201
DATA nibblePop<>+16(SB)/8, $0x0302020102010100
DATA nibblePop<>+24(SB)/8, $0x0403030203020201
GLOBL nibblePop<>(SB), RODATA|NOPTR, $32

DATA lowNibbles<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibbles<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibbles<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibbles<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL lowNibbles<>(SB), RODATA|NOPTR, $32

// func xgetbv0() uint32
TEXT ·xgetbv0(SB), NOSPLIT|NOFRAME, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, ret+0(FP)
	RET

// func frontFilterAVX2(quads *quad, nquads int, groups *uint32, n int, q *words, radius int, out *uint32) int
//
// For c in [0, n): g = groups[c]; the front distances of group g's four
// rows (words 0 and 1 of each, in quads[g]'s first 64 bytes) to q[0], q[1];
// c is written to out[k++] if any is at most radius. The group
// groups[c+48] (clamped to the last) is prefetched in the same turn. A
// group not below nquads stops it and returns -1.
TEXT ·frontFilterAVX2(SB), NOSPLIT, $0-64
	MOVQ quads+0(FP), SI
	MOVQ nquads+8(FP), R12
	MOVQ groups+16(FP), R9
	MOVQ n+24(FP), R10
	MOVQ q+32(FP), AX
	MOVQ out+48(FP), DI
	XORQ R8, R8 // survivors
	TESTQ R10, R10
	JLE done
	VBROADCASTI128 (AX), Y15
	VPBROADCASTQ radius+40(FP), Y12
	VMOVDQU nibblePop<>(SB), Y14
	VMOVDQU lowNibbles<>(SB), Y13
	VPXOR Y11, Y11, Y11
	LEAQ -1(R10), R11 // last index
	XORQ CX, CX
loop:
	// Prefetch groups[min(c+48, n-1)].
	LEAQ 48(CX), DX
	CMPQ DX, R11
	CMOVQGT R11, DX
	MOVL (R9)(DX*4), DX
	SHLQ $7, DX
	PREFETCHT0 (SI)(DX*1)

	MOVL (R9)(CX*4), AX
	CMPQ AX, R12
	JAE bad
	SHLQ $7, AX
	VPXOR (SI)(AX*1), Y15, Y0   // rows 0 and 1
	VPXOR 32(SI)(AX*1), Y15, Y1 // rows 2 and 3
	VPSRLW $4, Y0, Y2
	VPSRLW $4, Y1, Y3
	VPAND Y13, Y0, Y0
	VPAND Y13, Y1, Y1
	VPAND Y13, Y2, Y2
	VPAND Y13, Y3, Y3
	VPSHUFB Y0, Y14, Y0
	VPSHUFB Y1, Y14, Y1
	VPSHUFB Y2, Y14, Y2
	VPSHUFB Y3, Y14, Y3
	VPADDB Y2, Y0, Y0
	VPADDB Y3, Y1, Y1
	VPSADBW Y11, Y0, Y0 // word counts: r0w0 r0w1 r1w0 r1w1
	VPSADBW Y11, Y1, Y1 // r2w0 r2w1 r3w0 r3w1
	VPSHUFD $0x4e, Y0, Y2
	VPSHUFD $0x4e, Y1, Y3
	VPADDQ Y2, Y0, Y0 // r0 r0 r1 r1
	VPADDQ Y3, Y1, Y1 // r2 r2 r3 r3
	VPBLENDD $0xcc, Y1, Y0, Y0 // r0 r2 r1 r3
	VPCMPGTQ Y12, Y0, Y0 // distance > radius
	VMOVMSKPD Y0, BX
	// Kept if some row is within: written always, counted if kept.
	MOVL CX, (DI)(R8*4)
	XORL DX, DX
	CMPL BX, $15
	SETNE DX
	ADDQ DX, R8
	INCQ CX
	CMPQ CX, R10
	JLT loop
	VZEROUPPER
done:
	MOVQ R8, ret+56(FP)
	RET
bad:
	VZEROUPPER
	MOVQ $-1, ret+56(FP)
	RET
