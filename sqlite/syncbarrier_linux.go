package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// fdatasync syncs f's data and the metadata needed to read it back (its
// size), not its times: as SQLite itself syncs the log.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
