#include "textflag.h"

// func prefetch(p unsafe.Pointer)
TEXT ·prefetch(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	RET

// func prefetchSpan(p, q unsafe.Pointer)
//
// Prefetches the lines from p's to q's, at most 4.
TEXT ·prefetchSpan(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ p+0(FP), AX
	MOVQ q+8(FP), BX
	ANDQ $-64, AX
	LEAQ 192(AX), CX
	CMPQ BX, CX
	CMOVQCC CX, BX // at most 3 lines past p's
	PREFETCHT0 (AX)
span:
	ADDQ $64, AX
	CMPQ AX, BX
	JA done
	PREFETCHT0 (AX)
	JMP span
done:
	RET
