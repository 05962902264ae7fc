package cuda

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/quern-chain/quern/compute"
)

// TestOpenWithoutDriver: a libcuda path that does not exist is a clear
// error, not a crash (in a build without cgo, Open says so instead).
func TestOpenWithoutDriver(t *testing.T) {
	t.Setenv("QUERN_CUDA_LIB", "/nonexistent/libcuda.so.1")
	be, err := Open(slog.New(slog.DiscardHandler))
	if err == nil {
		be.Close()
		t.Fatal("Open succeeded with a nonexistent driver library")
	}
	msg := err.Error()
	t.Logf("Open: %v", err)
	if !strings.Contains(msg, "without cgo") && !strings.Contains(msg, "linux only") &&
		!strings.Contains(msg, "/nonexistent/libcuda.so.1") {
		t.Fatalf("error does not say what is missing: %v", err)
	}
}

// TestOpenHere: on this machine Open either works (a GPU is there) or fails
// with a reason; it never panics.
func TestOpenHere(t *testing.T) {
	be, err := sharedBackend()
	if err != nil {
		if !strings.HasPrefix(err.Error(), "cuda: ") {
			t.Fatalf("error without the package prefix: %v", err)
		}
		t.Logf("no CUDA here, the CPU would be used: %v", err)
		return
	}
	t.Logf("%s", be.Name())
	for _, d := range be.Devices() {
		t.Logf("  %s", d)
	}
}

var shared struct {
	once sync.Once
	be   *Backend
	err  error
}

// sharedBackend opens the GPUs once per test binary: NVRTC compiles at Open.
func sharedBackend() (*Backend, error) {
	shared.once.Do(func() {
		shared.be, shared.err = Open(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	})
	return shared.be, shared.err
}

func gpuOrSkip(t testing.TB) *Backend {
	be, err := sharedBackend()
	if err != nil {
		t.Skipf("no usable GPU: %v", err)
	}
	return be
}

// TestGoldenCUDA: the GPU reproduces every golden product hash and tile
// digest (cases outside the kernels' geometry go through the fallback).
func TestGoldenCUDA(t *testing.T) {
	be := gpuOrSkip(t)
	for _, c := range loadGolden(t) {
		x, y, nz, g := c.inputs(t)
		prod, digests := collect(be, x, y, nz, g)
		if err := c.check(prod, digests); err != nil {
			t.Error(err)
			continue
		}
		if err := equalI32(be.MatMul(x, y), prod); err != nil {
			t.Errorf("%s: MatMul: %v", c.Name, err)
		}
		on := "GPU"
		var mu sync.Mutex
		only := map[[2]int][32]byte{}
		if !be.NoisedTranscript(x, y, nz, g, func(ti, tj int, d [32]byte) bool {
			mu.Lock()
			only[[2]int{ti, tj}] = d
			mu.Unlock()
			return true
		}) {
			t.Errorf("%s: NoisedTranscript incomplete", c.Name)
		} else if err := equalDigests(only, digests); err != nil {
			t.Errorf("%s: NoisedTranscript: %v", c.Name, err)
		}
		if !supported(g, nz) {
			on = "CPU fallback"
		}
		t.Logf("%-12s %5d×%5d×%5d  ok (%s)", c.Name, c.M, c.K, c.N, on)
	}
}

// TestRandomCUDA compares the GPU with compute.Portable() bit for bit on
// shapes with edge tiles, odd K and several chunk sizes and ranks.
func TestRandomCUDA(t *testing.T) {
	be := gpuOrSkip(t)
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := append([]shape{
		{512, 512, 512, 64}, {1000, 777, 333, 64}, {257, 1025, 513, 128}, {3, 65536, 5, 64},
		{129, 4096, 1, 64}, {1, 300, 1000, 256},
	}, referenceShapes...)
	for _, s := range shapes {
		t.Run(fmt.Sprintf("%dx%dx%d_c%d", s.m, s.k, s.n, s.chunk), func(t *testing.T) {
			x, y := randomI8(rng, s.m, s.k, compute.OperandMax), randomI8(rng, s.k, s.n, compute.OperandMax)
			g := compute.Geometry{Tile: 64, Chunk: s.chunk}
			nz := compute.NewNoise([32]byte{byte(s.m), byte(s.k), 9}, s.m, s.k, s.n, g)
			wantC, wantD := portableDigests(x, y, nz, g)
			gotC, gotD := collect(be, x, y, nz, g)
			if err := equalI32(gotC, wantC); err != nil {
				t.Fatalf("noised: %v", err)
			}
			if err := equalDigests(gotD, wantD); err != nil {
				t.Fatal(err)
			}
			if err := equalI32(be.MatMul(x, y), wantC); err != nil {
				t.Fatalf("MatMul: %v", err)
			}
		})
	}
}

// TestVisitStopsCUDA: a visitor that says stop gets complete = false.
func TestVisitStopsCUDA(t *testing.T) {
	be := gpuOrSkip(t)
	x, y := compute.RandomI8([32]byte{1}, 256, 256), compute.RandomI8([32]byte{2}, 256, 256)
	g := compute.Geometry{Tile: 64, Chunk: 64}
	nz := compute.NewNoise([32]byte{3}, 256, 256, 256, g)
	c, ok := be.NoisedMatMul(x, y, nz, g, func(int, int, [32]byte) bool { return false })
	if ok || len(c.Data) != 0 {
		t.Fatalf("complete %v with %d entries after the visitor stopped", ok, len(c.Data))
	}
}

func reportGMACs(b *testing.B, macs float64) {
	b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

// BenchmarkCUDAEndToEnd is the whole call as a miner makes it: host to
// device, kernels on every GPU, device to host, tile digests on the host.
func BenchmarkCUDAEndToEnd(b *testing.B) {
	be := gpuOrSkip(b)
	for _, kind := range []string{"matmul", "noised"} {
		for _, n := range []int{1024, 4096} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				x, y := compute.RandomI8([32]byte{1}, n, n), compute.RandomI8([32]byte{2}, n, n)
				g := compute.Geometry{Tile: 64, Chunk: 64}
				nz := compute.NewNoise([32]byte{3}, n, n, n, g)
				visit := func(int, int, [32]byte) bool { return true }
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if kind == "matmul" {
						be.MatMul(x, y)
					} else {
						be.NoisedMatMul(x, y, nz, g, visit)
					}
				}
				reportGMACs(b, float64(n)*float64(n)*float64(n))
			})
		}
	}
}
