package media_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-oss/vigil/internal/cputime"
)

// BenchmarkPutGet measures sealing and writing a blob, then reading and
// opening it, next to the baseline of the same bytes written and read as a
// plain file (also synced): the cost of the encryption and the header.
func BenchmarkPutGet(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{64 << 10, 4 << 20} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		name := fmt.Sprintf("%dKiB", size>>10)
		b.Run("plain-file/"+name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "blob")
			b.SetBytes(int64(size))
			cputime.PerOp(b, func() {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				f.Close()
				if _, err := os.ReadFile(path); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("sealed/"+name, func(b *testing.B) {
			s := mustOpen(b, b.TempDir(), mustKeyring(b, "k1:"+testKey(1)))
			b.SetBytes(int64(size))
			cputime.PerOp(b, func() {
				id, err := s.Put(ctx, data)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Get(ctx, id); err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(ctx, id); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
