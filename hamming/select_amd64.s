#include "textflag.h"

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT|NOFRAME, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func selectPairPdep(x, r1, r2 uint64) (p1, p2 uint64)
TEXT ·selectPairPdep(SB), NOSPLIT|NOFRAME, $0-40
	MOVQ x+0(FP), AX
	MOVQ r1+8(FP), CX
	MOVQ $1, DX
	SHLQ CX, DX
	PDEPQ AX, DX, BX
	TZCNTQ BX, BX
	MOVQ BX, p1+24(FP)
	MOVQ r2+16(FP), CX
	MOVQ $1, DX
	SHLQ CX, DX
	PDEPQ AX, DX, BX
	TZCNTQ BX, BX
	MOVQ BX, p2+32(FP)
	RET
