#include "textflag.h"

// Offsets in decodeArgs (decode_amd64.go).
#define A_BITS 0
#define A_NW1 8
#define A_LB 16
#define A_H 24
#define A_SH 32
#define A_LOWMASK 40
#define A_G 48
#define A_VALS 56
#define A_POS 64
#define A_LENS 72
#define A_N 80
#define A_PF 88
#define A_NPF 96
#define A_OUT 104
#define A_OUTB 112
#define A_ROOM 120
#define A_SLOW 128
#define A_DONE 136
#define A_NOUT 144
#define A_NSLOW 152
#define A_POS2 160
#define A_LENS2 168

// func decodeBlocks(a *decodeArgs)
//
// For each bucket i from a.done to a.n: its groups, as appendInAt finds
// them when the bucket's high parts are in one block and close within
// the 64 bits from the block's start or from their own start, written to
// out and its value to outb (a bucket across two blocks as two parts,
// the second block from pos2 and lens2); any other bucket (across more
// blocks, or a run longer than a word) is written to slow instead. The
// prefetch addresses pf[2(i+16)] and pf[2(i+16)+1] (clamped to the last
// bucket) are prefetched in bucket i's turn. It stops early, done < n,
// when fewer than 128 places are left in out; done = -1 means a read past
// the stream (a bug). Locals: 0(SP) o, 8(SP) t2 then the count, 16(SP)
// the bucket's value, 24(SP) lo, 32(SP) for a bucket across two blocks
// the second block's t2 + 1 (else 0), 40(SP) that block's first high
// part, 48(SP) nk, 56(SP) the groups written before the bucket.
TEXT ·decodeBlocks(SB), NOSPLIT, $64-8
	MOVQ a+0(FP), R8
	MOVQ A_BITS(R8), SI
	MOVQ A_DONE(R8), R9
	MOVQ A_N(R8), R10
	MOVQ A_NOUT(R8), DI
	MOVQ A_LB(R8), R13

bucket:
	CMPQ R9, R10
	JAE end
	MOVQ A_ROOM(R8), AX
	SUBQ DI, AX
	CMPQ AX, $128
	JB end
	MOVQ DI, 56(SP)

	// Prefetch bucket i+16's lines.
	LEAQ 16(R9), AX
	MOVQ A_NPF(R8), BX
	DECQ BX
	CMPQ AX, BX
	CMOVQGT BX, AX
	SHLQ $4, AX
	ADDQ A_PF(R8), AX
	MOVQ (AX), BX
	PREFETCHT0 (BX)
	MOVQ 8(AX), BX
	PREFETCHT0 (BX)

	// lo = val·g, hlo and hhi its first and last high parts.
	MOVQ A_VALS(R8), BX
	MOVL (BX)(R9*4), AX
	MOVQ AX, 16(SP)
	IMULQ A_G(R8), AX
	MOVQ AX, 24(SP)
	SHRXQ R13, AX, R14 // hlo, also h0
	ADDQ A_G(R8), AX
	DECQ AX
	SHRXQ R13, AX, DX // hhi
	MOVQ A_SH(R8), CX
	MOVQ R14, AX
	SHRQ CX, AX // block of hlo
	MOVQ DX, BX
	SHRQ CX, BX // block of hhi
	MOVQ $0, 32(SP)
	CMPQ AX, BX
	JE oneblock
	// Across two blocks: first to the end of block k, then from the
	// start of block k+1 (pos2, lens2) to hhi.
	LEAQ 1(AX), R11
	CMPQ R11, BX
	JNE slow
	SHLQ CX, BX // block k+1's first high part
	MOVQ BX, 40(SP)
	SUBQ BX, DX
	INCQ DX
	MOVQ DX, 32(SP)
	LEAQ -1(BX), DX // hhi within block k
oneblock:
	SHLQ CX, AX // base
	MOVQ R14, BX
	SUBQ AX, BX // t1
	SUBQ AX, DX // t2
	MOVQ DX, 8(SP)
	MOVQ A_POS(R8), AX
	MOVQ (AX)(R9*8), AX
	MOVQ AX, 0(SP)
	MOVQ A_LENS(R8), CX
	MOVL (CX)(R9*4), CX
	MOVQ CX, 48(SP)

window:
	// w: the 64 bits from the block's start o.
	MOVQ 0(SP), AX
	MOVQ AX, CX
	SHRQ $6, CX
	CMPQ CX, A_NW1(R8)
	JAE bad
	MOVQ (SI)(CX*8), R15
	MOVQ 8(SI)(CX*8), DX
	MOVQ AX, CX
	SHRQ CX, DX, R15 // R15 = w

	// zz = ^w<<1 | 1: high part t starts after its t-th set bit.
	MOVQ R15, DX
	NOTQ DX
	SHLQ $1, DX
	ORQ $1, DX
	POPCNTQ DX, AX
	MOVQ 8(SP), CX
	INCQ CX
	CMPQ AX, CX
	JLS walk

	// p2 = select(zz, t2+1) - 1, p1 = select(zz, t1).
	MOVQ $1, AX
	SHLQ CX, AX
	PDEPQ DX, AX, AX
	TZCNTQ AX, AX
	DECQ AX
	MOVQ AX, R11 // p2
	MOVQ BX, CX
	MOVQ $1, AX
	SHLQ CX, AX
	PDEPQ DX, AX, AX
	TZCNTQ AX, AX // p1

	// win = w>>p1, its low p2-p1 bits; cnt = p2-p1-(t2-t1).
	MOVQ AX, CX
	SHRQ CX, R15
	SUBQ AX, R11
	BZHIQ R11, R15, R15
	MOVQ 8(SP), CX
	SUBQ BX, CX
	SUBQ CX, R11 // cnt
	MOVQ R11, 8(SP)
	SUBQ BX, AX // first = p1 - t1

emit:
	// q: the first element's low bits, at o + H + nk + first·L. Here
	// AX is first, R11 and 8(SP) the count, R15 the window.
	MOVQ 0(SP), BX
	ADDQ A_H(R8), BX
	ADDQ 48(SP), BX
	IMULQ R13, AX
	ADDQ AX, BX

	TESTQ R11, R11
	JE next
elem:
	// v = (h0 + b - r)<<L | the L bits at q; R14 is h0 - r.
	TZCNTQ R15, AX
	BLSRQ R15, R15
	ADDQ R14, AX
	SHLXQ R13, AX, AX
	MOVQ BX, CX
	SHRQ $6, CX
	CMPQ CX, A_NW1(R8)
	JAE bad
	MOVQ (SI)(CX*8), R11
	MOVQ 8(SI)(CX*8), R12
	MOVQ BX, CX
	SHRQ CX, R12, R11
	ANDQ A_LOWMASK(R8), R11
	ORQ R11, AX
	SUBQ 24(SP), AX // v - lo
	// Written always, counted if v - lo < g (unsigned: v below lo wraps).
	MOVQ A_OUT(R8), CX
	MOVL AX, (CX)(DI*4)
	MOVQ A_OUTB(R8), CX
	MOVQ 16(SP), R11
	MOVL R11, (CX)(DI*4)
	CMPQ AX, A_G(R8)
	ADCQ $0, DI
	ADDQ R13, BX
	DECQ R14
	DECQ 8(SP)
	JNE elem

next:
	MOVQ 32(SP), DX
	TESTQ DX, DX
	JE advance
	// The second block of a bucket across two: t1 = 0, h0 its first
	// high part.
	DECQ DX
	MOVQ DX, 8(SP)
	MOVQ $0, 32(SP)
	XORQ BX, BX
	MOVQ 40(SP), R14
	MOVQ A_POS2(R8), AX
	MOVQ (AX)(R9*8), AX
	MOVQ AX, 0(SP)
	MOVQ A_LENS2(R8), CX
	MOVL (CX)(R9*4), CX
	MOVQ CX, 48(SP)
	JMP window
advance:
	INCQ R9
	JMP bucket

walk:
	// The block's unary is longer than 64 bits: as appendInAt, walk it a
	// word at a time to the start p of high part t1 (R11; R12 counts the
	// zeros passed), then take the window from p if the bucket's high
	// parts close within its 64 bits.
	MOVQ 0(SP), R11
	TESTQ BX, BX
	JE walked
	XORQ R12, R12
walkword:
	MOVQ R11, CX
	SHRQ $6, CX
	CMPQ CX, A_NW1(R8)
	JAE bad
	MOVQ (SI)(CX*8), R15
	MOVQ 8(SI)(CX*8), DX
	MOVQ R11, CX
	SHRQ CX, DX, R15
	NOTQ R15
	POPCNTQ R15, AX
	LEAQ (R12)(AX*1), DX
	CMPQ DX, BX
	JAE walkfound
	MOVQ DX, R12
	ADDQ $64, R11
	JMP walkword
walkfound:
	MOVQ BX, CX
	SUBQ R12, CX
	DECQ CX // t1 - t - 1
	MOVQ $1, AX
	SHLQ CX, AX
	PDEPQ R15, AX, AX
	TZCNTQ AX, AX
	LEAQ 1(R11)(AX*1), R11
walked:
	MOVQ R11, R12
	SUBQ 0(SP), R12
	SUBQ BX, R12 // first = p - o - t1
	MOVQ R11, CX
	SHRQ $6, CX
	CMPQ CX, A_NW1(R8)
	JAE bad
	MOVQ (SI)(CX*8), R15
	MOVQ 8(SI)(CX*8), DX
	MOVQ R11, CX
	SHRQ CX, DX, R15 // w2
	MOVQ R15, DX
	NOTQ DX
	MOVQ 8(SP), CX
	SUBQ BX, CX // need = t2 - t1
	POPCNTQ DX, AX
	CMPQ AX, CX
	JLS slow
	MOVQ $1, AX
	SHLQ CX, AX
	PDEPQ DX, AX, AX
	TZCNTQ AX, AX // p2
	BZHIQ AX, R15, R15
	SUBQ CX, AX // cnt = p2 - need
	MOVQ AX, R11
	MOVQ AX, 8(SP)
	MOVQ R12, AX
	JMP emit

slow:
	// Whatever the bucket wrote is dropped: appendInAt redoes it all.
	MOVQ 56(SP), DI
	MOVQ A_SLOW(R8), CX
	MOVQ A_NSLOW(R8), AX
	MOVL R9, (CX)(AX*4)
	INCQ AX
	MOVQ AX, A_NSLOW(R8)
	INCQ R9
	JMP bucket

end:
	MOVQ R9, A_DONE(R8)
	MOVQ DI, A_NOUT(R8)
	RET

bad:
	MOVQ $-1, A_DONE(R8)
	MOVQ DI, A_NOUT(R8)
	RET
