package phmsdk

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/phm/phmtest"
)

func TestVoucher(t *testing.T) {
	acct, err := NewAccount(3, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	review := phmtest.ReviewKey(t).PublicKey().Bytes()
	c, err := NewClient(acct, review)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for y := range 60 {
		for x := range 80 {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 4), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	if _, err := c.Voucher(buf.Bytes(), "a"); err != ErrNoTable {
		t.Fatalf("voucher without a table: %v", err)
	}
	c.SetTable(phmtest.NewTable(t))
	v, err := c.Voucher(buf.Bytes(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(v)) != c.VoucherSize() {
		t.Fatalf("voucher %d bytes, size %d", len(v), c.VoucherSize())
	}
	saved, err := c.Account()
	if err != nil || len(saved) <= len(acct) {
		t.Fatalf("account after a voucher: %d bytes (%v); the repeat set should have grown", len(saved), err)
	}
	if _, err := NewClient(acct[:10], review); err == nil {
		t.Fatal("a truncated account was accepted")
	}
	if _, err := NewClient(acct, review[:10]); err == nil {
		t.Fatal("a truncated review key was accepted")
	}
}

// TestGomobileTypes checks every exported function and method uses only
// the types gomobile binds simply: []byte, string, int64, error and the
// package's own Client and Verifier. SetTable is the documented exception.
func TestGomobileTypes(t *testing.T) {
	allowed := map[string]bool{"[]byte": true, "string": true, "int64": true, "error": true, "*Client": true, "*Verifier": true}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "phmsdk.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !fn.Name.IsExported() || fn.Name.Name == "SetTable" {
			continue
		}
		for _, list := range []*ast.FieldList{fn.Type.Params, fn.Type.Results} {
			if list == nil {
				continue
			}
			for _, p := range list.List {
				var b strings.Builder
				if err := writeType(&b, p.Type); err != nil || !allowed[b.String()] {
					t.Errorf("%s uses type %s", fn.Name.Name, b.String())
				}
			}
		}
	}
}

func writeType(b *strings.Builder, e ast.Expr) error {
	switch e := e.(type) {
	case *ast.Ident:
		b.WriteString(e.Name)
	case *ast.ArrayType:
		b.WriteString("[]")
		return writeType(b, e.Elt)
	case *ast.StarExpr:
		b.WriteString("*")
		return writeType(b, e.X)
	default:
		b.WriteString("?")
	}
	return nil
}

// TestCrossBuilds compiles the client and this facade for the browser
// (js/wasm) without cgo, as the design promises. (wasip1/wasm,
// android/arm64 and ios/arm64 compile too; they are left out here because
// each cold cross-build costs minutes on a shared CI core.)
func TestCrossBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles")
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, target := range [][2]string{{"js", "wasm"}} {
		cmd := exec.Command(goTool, "build", "./phm/client", "./mobile/phmsdk")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "GOOS="+target[0], "GOARCH="+target[1], "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s/%s: %v\n%s", target[0], target[1], err, out)
		}
	}
}
