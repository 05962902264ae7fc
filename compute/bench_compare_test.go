package compute

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/cpu"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Side-by-side benchmarks (issue 3): on the same shapes and in one run, every
// backend's plain and noised GEMM, gonum's float64 Dgemm (what a Go user would
// reach for), and the machine's theoretical int8 peak. scripts/bench.sh runs
// them beside oneDNN and OpenBLAS (shared/tools/anchor-gemm) and tabulates.

// compareShape is an M×N×K product.
type compareShape struct{ m, n, k int }

func (s compareShape) String() string { return fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k) }
func (s compareShape) macs() float64  { return float64(s.m) * float64(s.n) * float64(s.k) }

// compareShapes are issue 3's shapes. The last is 17 GMAC: run it with
// -benchtime 1x (scripts/bench.sh does).
var compareShapes = []compareShape{{256, 256, 256}, {1024, 1024, 1024}, {4096, 4096, 1024}}

// The devnet's geometries (docs/protocol.md §4): synthetic puzzles (no
// noise: their operands are new with every seed) use κ_s = 512; job products
// use κ = r = 256 with the noise of noise.go.
var (
	devnetSynthetic = Geometry{Tile: 64, Chunk: 512}
	devnetJob       = Geometry{Tile: 64, Chunk: 256}
)

// benchBackends is every backend this machine runs, the portable one included.
func benchBackends() []Backend {
	out := []Backend{}
	seen := map[string]bool{}
	for _, be := range append(Backends(), Portable()) {
		if !seen[be.Name()] {
			seen[be.Name()] = true
			out = append(out, be)
		}
	}
	return out
}

// BenchmarkCompare is the side-by-side tree: for each shape, each backend's
// MatMul (<backend>/plain), MatMulInto a C reused across iterations
// (<backend>/plain-into), a paid job's mining (<backend>/noised-job: one
// nonce's transcript in the job geometry, noise applied, no C: what a miner
// grinds), the first product of a job (<backend>/noised: the same plus C),
// synthetic mining (<backend>/transcript: the synthetic geometry's transcript
// on operands already drawn), then gonum's Dgemm on float64 copies. The
// mining rows report overhead-% against plain-into and noised-job reports
// vs-synthetic = its rate over the transcript's.
func BenchmarkCompare(b *testing.B) {
	visit := func(int, int, [32]byte) bool { return true }
	for _, sh := range compareShapes {
		b.Run(sh.String(), func(b *testing.B) {
			x := clampI8(RandomI8([32]byte{1}, sh.m, sh.k))
			y := clampI8(RandomI8([32]byte{2}, sh.k, sh.n))
			for _, be := range benchBackends() {
				var plain, synth float64 // ns/op
				perOp := func(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }
				overhead := func(b *testing.B) {
					if plain > 0 {
						b.ReportMetric(100*(perOp(b)/plain-1), "overhead-%")
					}
				}
				b.Run(be.Name()+"/plain", func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						be.MatMul(x, y)
					}
					reportGMACs(b, sh.macs())
				})
				// The same product into one C allocated before the loop.
				b.Run(be.Name()+"/plain-into", func(b *testing.B) {
					c := NewI32(sh.m, sh.n)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						MatMulInto(be, c, x, y)
					}
					reportGMACs(b, sh.macs())
					plain = perOp(b)
				})
				b.Run(be.Name()+"/transcript", func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						NoisedTranscript(be, x, y, nil, devnetSynthetic, visit)
					}
					reportGMACs(b, sh.macs())
					overhead(b)
					synth = perOp(b)
				})
				b.Run(be.Name()+"/noised-job", func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						nz := NewNoise([32]byte{3, byte(i)}, sh.m, sh.k, sh.n, devnetJob)
						NoisedTranscript(be, x, y, nz, devnetJob, visit)
					}
					reportGMACs(b, sh.macs())
					overhead(b)
					if synth > 0 {
						b.ReportMetric(synth/perOp(b), "vs-synthetic")
					}
				})
				b.Run(be.Name()+"/noised", func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						nz := NewNoise([32]byte{3, byte(i)}, sh.m, sh.k, sh.n, devnetJob)
						be.NoisedMatMul(x, y, nz, devnetJob, visit)
					}
					reportGMACs(b, sh.macs())
					overhead(b)
				})
			}
			b.Run("gonum-dgemm-f64", func(b *testing.B) {
				fa, fb := toGeneral(x), toGeneral(y)
				fc := blas64.General{Rows: sh.m, Cols: sh.n, Stride: sh.n, Data: make([]float64, sh.m*sh.n)}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, fa, fb, 0, fc)
				}
				reportGMACs(b, sh.macs())
			})
		})
	}
}

func toGeneral(m I8) blas64.General {
	g := blas64.General{Rows: m.Rows, Cols: m.Cols, Stride: m.Cols, Data: make([]float64, len(m.Data))}
	for i, v := range m.Data {
		g.Data[i] = float64(v)
	}
	return g
}

// BenchmarkPeak reports the machine's THEORETICAL int8 peak, an
// assumption-based number, not a measurement:
//
//	peak = cores × clock × int8 MACs per cycle per core
//
// cores is GOMAXPROCS (the threads every benchmark here uses; on a VM these
// are vCPUs, possibly hyperthreads of fewer cores); clock is cpuinfo_max_freq,
// else /proc/cpuinfo "cpu MHz" (under KVM: the nominal TSC clock, no turbo).
// MACs per cycle per core, per ISA:
//   - avx512-vnni: 64 MACs per VPDPBUSD zmm × 2 issued per cycle on Xeon
//     (server) parts with two 512-bit FMA ports (ports 0 and 5, as on
//     Sapphire Rapids), × 1 on client parts;
//   - avx2: 16 MACs per VPMADDWD ymm (int16 pairs) × 2 per cycle;
//   - amx-int8 (shown when present, oneDNN uses it): one TDPBSSD (16×16×64 =
//     16384 MACs) per 16 cycles = 1024 MACs per cycle.
//
// The measured ceiling of the VPDPBUSD loop comes from anchor-gemm's peak_vnni.
func BenchmarkPeak(b *testing.B) {
	cores := runtime.GOMAXPROCS(0)
	ghz, clockSrc := cpuClockGHz()
	server := strings.Contains(cpuModel(), "Xeon") || strings.Contains(cpuModel(), "EPYC")
	type isa struct {
		name       string
		have       bool
		macsPerCyc float64
	}
	vnniPorts := 1.0
	if server {
		vnniPorts = 2
	}
	isas := []isa{
		{"amx-int8", cpu.X86.HasAMXInt8 && cpu.X86.HasAMXTile, 1024},
		{fmt.Sprintf("avx512-vnni-%gx-zmm-per-cycle", vnniPorts), cpu.X86.HasAVX512VNNI, 64 * vnniPorts},
		{"avx2-vpmaddwd-2x-ymm-per-cycle", cpu.X86.HasAVX2, 16 * 2},
	}
	for _, is := range isas {
		if !is.have {
			continue
		}
		b.Run(is.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
			}
			b.ReportMetric(float64(cores), "cores")
			b.ReportMetric(ghz, "GHz("+clockSrc+")")
			b.ReportMetric(is.macsPerCyc, "MAC/cycle/core")
			b.ReportMetric(float64(cores)*ghz*is.macsPerCyc, "peak-GMAC/s")
		})
	}
}

// cpuClockGHz returns the maximum clock and where it was read.
func cpuClockGHz() (float64, string) {
	if raw, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"); err == nil {
		if khz, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64); err == nil && khz > 0 {
			return khz / 1e6, "cpuinfo_max_freq"
		}
	}
	if mhz := cpuinfoField("cpu MHz"); mhz != "" {
		if v, err := strconv.ParseFloat(mhz, 64); err == nil && v > 0 {
			return v / 1e3, "proc-cpuinfo-MHz"
		}
	}
	return 0, "unknown"
}

func cpuModel() string { return cpuinfoField("model name") }

// cpuinfoField returns the first value of key in /proc/cpuinfo ("" if none).
func cpuinfoField(key string) string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
