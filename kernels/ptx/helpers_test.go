package ptx

import (
	"context"
	"errors"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ptx/ptxas"
)

// archs are the targets every rendered kernel is assembled for.
var archs = []string{"sm_80", "sm_90"}

// needPtxas returns ptxas's path, skipping the test when it is missing (failing instead when
// ELASTICROOM_REQUIRE_PTXAS=1).
func needPtxas(t *testing.T) string {
	t.Helper()
	p, err := ptxas.Find()
	if err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_PTXAS") == "1" {
			t.Fatalf("ELASTICROOM_REQUIRE_PTXAS=1 but %v", err)
		}
		if errors.Is(err, ptxas.ErrNotFound) {
			t.Skipf("skipping: %v", err)
		}
		t.Fatal(err)
	}
	return p
}

// assemble renders ks into one module for arch and runs ptxas on it; it returns the PTX and
// ptxas's figures per kernel (every kernel must be there, as an entry).
func assemble(t *testing.T, bin, arch string, ks ...*kir.Kernel) (string, map[string]ptxas.Result) {
	t.Helper()
	src, err := RenderModule(ks, arch)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := ptxas.Assemble(ctx, src, arch, ptxas.Options{Path: bin})
	if err != nil {
		t.Fatalf("%s: %v", arch, err)
	}
	for _, k := range ks {
		r, ok := res[k.Name]
		if !ok || !r.Entry {
			t.Fatalf("%s: ptxas reports no entry %q (got %v)", arch, k.Name, res)
		}
	}
	return src, res
}

func build(t *testing.T, b *kir.Builder) *kir.Kernel {
	t.Helper()
	k, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func render(t *testing.T, k *kir.Kernel) string {
	t.Helper()
	s, err := Render(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// asmcheck asserts that every pattern in want matches src and none in never does (Go's
// test/codegen style, on PTX).
func asmcheck(t *testing.T, name, src string, want, never []string) {
	t.Helper()
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(src) {
			t.Errorf("%s: PTX lacks %q\n%s", name, w, src)
		}
	}
	for _, n := range never {
		if m := regexp.MustCompile(n).FindString(src); m != "" {
			t.Errorf("%s: PTX has %q (%q)\n%s", name, n, m, src)
		}
	}
}
