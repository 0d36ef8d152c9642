package vpdq

import (
	"os"
	"syscall"
)

// fSetPipeSize is F_SETPIPE_SZ from <fcntl.h>; package syscall lacks it.
const fSetPipeSize = 1031

// setPipeSize asks for a larger pipe buffer, so that ffmpeg writes a frame
// in a few large chunks instead of many 64 KiB ones, each a context
// switch. It is best effort: past /proc/sys/fs/pipe-max-size the kernel
// refuses and the default stays.
func setPipeSize(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, uintptr(size))
	})
}
