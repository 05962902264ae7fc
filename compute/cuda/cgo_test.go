//go:build cgo && linux

package cuda

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quern-chain/quern/compute"
)

// TestNVRTCCompile compiles the embedded kernels with NVRTC exactly as Open
// does, for every architecture the backend targets. NVRTC needs no GPU, so
// this runs wherever libnvrtc is installed and is skipped elsewhere.
func TestNVRTCCompile(t *testing.T) {
	lib, major, minor, err := loadNVRTC()
	if err != nil {
		t.Skip(err)
	}
	t.Logf("NVRTC %d.%d from %s", major, minor, lib)
	// A CUBIN runs NVRTC's front end and ptxas: both must accept the source.
	// sm_61 is the dp4a-only path, sm_80 and sm_90 the tensor-core one.
	archs := []int{61, 80, 90}
	if testing.Short() {
		archs = []int{90}
	}
	for _, arch := range archs {
		t.Run(fmt.Sprintf("sm_%d", arch), func(t *testing.T) {
			image, err := nvrtcCompile(kernelSource, []string{fmt.Sprintf("--gpu-architecture=sm_%d", arch)}, true)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"quern_pack_a", "quern_pack_b", "quern_gemm_dp4a_plain", "quern_gemm_dp4a_noised"}
			if arch >= 80 {
				want = append(want, "quern_gemm_mma_plain", "quern_gemm_mma_noised")
			}
			for _, w := range want {
				if !strings.Contains(string(image), w) {
					t.Errorf("CUBIN lacks %s", w)
				}
			}
		})
	}
}

// TestNVCCKernels compiles kernels.cu with nvcc and assembles it with ptxas
// for sm_80 and sm_90 when the CUDA toolkit is on PATH, logs register use and
// fails on register spills.
func TestNVCCKernels(t *testing.T) {
	nvcc, err := exec.LookPath("nvcc")
	if err != nil {
		t.Skip("nvcc not on PATH")
	}
	dir := t.TempDir()
	for _, arch := range []string{"sm_80", "sm_90"} {
		ptx := filepath.Join(dir, arch+".ptx")
		out, err := exec.Command(nvcc, "-ptx", "-arch="+arch, "-o", ptx, "kernels.cu").CombinedOutput()
		if err != nil {
			t.Fatalf("nvcc %s: %v\n%s", arch, err, out)
		}
		ptxas, err := exec.LookPath("ptxas")
		if err != nil {
			continue
		}
		out, err = exec.Command(ptxas, "-v", "-arch="+arch, "-o", os.DevNull, ptx).CombinedOutput()
		if err != nil {
			t.Fatalf("ptxas %s: %v\n%s", arch, err, out)
		}
		for _, line := range regexp.MustCompile(`(?m)Compiling entry function '(\w+)'[^\n]*\n(?:[^\n]*\n)*?[^\n]*Used (\d+) registers`).FindAllStringSubmatch(string(out), -1) {
			t.Logf("%s %-24s %s registers", arch, line[1], line[2])
		}
		if m := regexp.MustCompile(`([1-9]\d*) bytes spill stores`).FindString(string(out)); m != "" {
			t.Errorf("%s: %s\n%s", arch, m, out)
		}
	}
}

// BenchmarkCUDA times the kernels on device-resident data (packing and the
// product, no host transfers), the figure to compare with cuBLAS; GMAC/s
// counts the n³ useful MACs of the product.
func BenchmarkCUDA(b *testing.B) {
	be := gpuOrSkip(b)
	d := be.devs[0]
	for _, kind := range []string{"matmul", "noised"} {
		for _, n := range []int{1024, 4096, 8192} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				x, y := compute.RandomI8([32]byte{1}, n, n), compute.RandomI8([32]byte{2}, n, n)
				g := compute.Geometry{Tile: 64, Chunk: 64}
				j := &job{p: newPlan(n, n, n, kind == "noised", g), a: x.Data, b: y.Data, c: make([]int32, n*n)}
				if kind == "noised" {
					xn, yn := compute.NewNoise([32]byte{3}, n, n, n, g).NoisedOperands(x, y)
					j.an, j.bn = xn.Data, yn.Data
				}
				err := d.do(func() error {
					defer j.free()
					if err := j.upload(); err != nil {
						return err
					}
					if err := j.launch(d); err != nil { // warm-up
						return err
					}
					if err := d.sync(); err != nil {
						return err
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := j.launch(d); err != nil {
							return err
						}
					}
					err := d.sync()
					b.StopTimer()
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				reportGMACs(b, float64(n)*float64(n)*float64(n))
			})
		}
	}
}
