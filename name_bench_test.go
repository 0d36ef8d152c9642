package vigil_test

import (
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
)

// controlFree is the check entry fields had before Printable: valid UTF-8
// without control characters. It is the baseline of BenchmarkPrintable.
func controlFree(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// BenchmarkPrintable measures the check every imported entry's source,
// source entry id and category goes through, against the old check.
func BenchmarkPrintable(b *testing.B) {
	inputs := map[string]string{
		"ascii":   "ncmec-hotline-list-2026",
		"unicode": "Équipe de modération — 審査チーム",
	}
	for name, s := range inputs {
		b.Run(name+"/baseline", func(b *testing.B) {
			for b.Loop() {
				if !controlFree(s) {
					b.Fatal("refused")
				}
			}
		})
		b.Run(name+"/Printable", func(b *testing.B) {
			for b.Loop() {
				if !vigil.Printable(s) {
					b.Fatal("refused")
				}
			}
		})
	}
}
