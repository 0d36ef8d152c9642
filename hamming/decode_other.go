//go:build !amd64

package hamming

// decodeArgs is decodeBlocks' frame (decode_amd64.go); unused off amd64.
type decodeArgs struct {
	bits                       *uint64
	nw1, lb, h, sh, lowMask, g uint64
	vals                       *uint32
	pos                        *uint64
	lens                       *uint32
	n                          uint64
	pf                         *uintptr
	npf                        uint64
	out, outb                  *uint32
	room                       uint64
	slow                       *uint32
	done, nout, nslow          uint64
	pos2                       *uint64
	lens2                      *uint32
}

// hasDecodeAsm is false off amd64: the probe decodes with appendInAt.
func hasDecodeAsm() bool { return false }

// decodeBlocks is not called off amd64.
func decodeBlocks(a *decodeArgs) { panic("hamming: decodeBlocks off amd64") }
