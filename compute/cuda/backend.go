//go:build cgo && linux

package cuda

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/quern-chain/quern/compute"
)

// Backend runs products on every usable NVIDIA GPU of the machine.
type Backend struct {
	log  *slog.Logger
	cpu  compute.Backend
	devs []*device
	name string
}

var _ compute.Backend = (*Backend)(nil)

// device is one GPU: its own context, stream and module, used by one
// product at a time.
type device struct {
	mu           sync.Mutex
	index        int
	handle       cuDevice
	ctx          cuContext
	stream       cuStream
	name         string
	major, minor int
	sms          int
	mem          uint64
	tensorCores  bool   // mma.sync kernels (sm_80+) rather than dp4a
	image        []byte // CUBIN or PTX from NVRTC
	target       string
	mod          cuModule // loaded on first use
	fns          map[string]cuFunction
}

// Open finds every GPU with compute capability ≥ 6.1, compiles the kernels
// for each architecture with NVRTC and makes a context per device. It fails
// with a reason (no driver, no GPU, no NVRTC, a compile error) and never
// panics, so a caller can log why and carry on with the CPU.
func Open(log *slog.Logger) (*Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lib, version, err := loadDriver()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	count, err := deviceCount()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if count == 0 {
		return nil, fmt.Errorf("cuda: driver %s (%s) reports no GPU", driverVersion(version), lib)
	}
	nvrtcLib, nvMajor, nvMinor, err := loadNVRTC()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	forceDP4A := os.Getenv("QUERN_CUDA_KERNEL") == "dp4a"
	b := &Backend{log: log, cpu: compute.Portable()}
	type compiled struct {
		image  []byte
		target string
	}
	images := map[int]compiled{}
	for i := 0; i < count; i++ {
		d, err := probe(i)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("cuda: device %d: %w", i, err)
		}
		arch := d.major*10 + d.minor
		if arch < 61 {
			log.Warn("cuda: skipping GPU older than sm_61 (no dp4a)", "device", i, "name", d.name, "arch", arch)
			continue
		}
		d.tensorCores = arch >= 80 && !forceDP4A
		img, ok := images[arch]
		if !ok {
			img.image, img.target, err = compileImage(d.major, d.minor)
			if err != nil {
				b.Close()
				return nil, fmt.Errorf("cuda: NVRTC %d.%d (%s): %w", nvMajor, nvMinor, nvrtcLib, err)
			}
			images[arch] = img
		}
		d.image, d.target = img.image, img.target
		if err := d.createContext(); err != nil {
			b.Close()
			return nil, fmt.Errorf("cuda: device %d (%s): %w", i, d.name, err)
		}
		d.index = len(b.devs)
		b.devs = append(b.devs, d)
	}
	if len(b.devs) == 0 {
		return nil, fmt.Errorf("cuda: none of %d GPUs has compute capability 6.1 or later", count)
	}
	b.name = backendName(b.devs)
	log.Info("cuda: backend ready", "backend", b.name, "devices", strings.Join(b.Devices(), "; "),
		"driver", driverVersion(version), "nvrtc", fmt.Sprintf("%d.%d", nvMajor, nvMinor))
	return b, nil
}

// SetFallback replaces the CPU backend used for products the kernels do not
// cover and for products whose GPU run failed (Open sets compute.Portable()).
// Call it before the backend is shared.
func (b *Backend) SetFallback(cpu compute.Backend) { b.cpu = cpu }

func driverVersion(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

func backendName(devs []*device) string {
	var parts []string
	for i := 0; i < len(devs); {
		j := i
		for j < len(devs) && devs[j].name == devs[i].name {
			j++
		}
		if j-i > 1 {
			parts = append(parts, fmt.Sprintf("%d× %s", j-i, devs[i].name))
		} else {
			parts = append(parts, devs[i].name)
		}
		i = j
	}
	return "cuda: " + strings.Join(parts, " + ")
}

// Devices describes each GPU in use: name, compute capability, memory, and
// which kernel it runs.
func (b *Backend) Devices() []string {
	var out []string
	for _, d := range b.devs {
		kernel := "dp4a"
		if d.tensorCores {
			kernel = "mma.sync int8"
		}
		out = append(out, fmt.Sprintf("%d: %s, sm_%d%d, %.1f GiB, %d SMs, %s (%s)",
			d.index, d.name, d.major, d.minor, float64(d.mem)/(1<<30), d.sms, kernel, d.target))
	}
	return out
}

// Close releases every context; the backend must not be used afterwards.
func (b *Backend) Close() {
	for _, d := range b.devs {
		d.close()
	}
	b.devs = nil
}

// Name says which GPUs the backend drives, e.g. "cuda: 2× NVIDIA H100 80GB HBM3".
func (b *Backend) Name() string { return b.name }

// MatMul returns the exact A·B, split by rows over the GPUs. A failing GPU
// run is logged and redone on the CPU.
func (b *Backend) MatMul(x, y compute.I8) compute.I32 {
	if !productOK(x, y) || x.Rows == 0 || x.Cols == 0 || y.Cols == 0 {
		return b.cpu.MatMul(x, y)
	}
	c := compute.NewI32(x.Rows, y.Cols)
	if _, err := b.run(x, y, nil, false, compute.Geometry{}, c); err != nil {
		b.log.Warn("cuda: product failed on the GPU, computing it on the CPU",
			"m", x.Rows, "k", x.Cols, "n", y.Cols, "cpu", b.cpu.Name(), "err", err)
		return b.cpu.MatMul(x, y)
	}
	return c
}

// NoisedMatMul runs the noised product's transcript (A' = A+E, B' = B+F
// built on the host) and the plain product C = A·B on the GPUs and hashes
// the tile digests on the host. Geometries other than b = 64, κ a multiple
// of 64 run on the CPU fallback.
func (b *Backend) NoisedMatMul(x, y compute.I8, nz *compute.Noise, g compute.Geometry, visit compute.TileVisitor) (compute.I32, bool) {
	m, k, n := x.Rows, x.Cols, y.Cols
	if !productOK(x, y) || g.Validate() != nil || !noiseOK(nz, m, k, n) || !supported(g, nz) ||
		m == 0 || k == 0 || n == 0 {
		return b.cpu.NoisedMatMul(x, y, nz, g, visit)
	}
	c := compute.NewI32(m, n)
	parts, err := b.run(x, y, nz, true, g, c)
	if err != nil {
		b.log.Warn("cuda: noised product failed on the GPU, computing it on the CPU",
			"m", m, "k", k, "n", n, "cpu", b.cpu.Name(), "err", err)
		return b.cpu.NoisedMatMul(x, y, nz, g, visit)
	}
	if !visitAll(parts, visit) {
		return compute.I32{}, false
	}
	return c, true
}

var _ compute.Transcriber = (*Backend)(nil)

// NoisedTranscript visits every tile digest of the noised product without
// computing C.
func (b *Backend) NoisedTranscript(x, y compute.I8, nz *compute.Noise, g compute.Geometry, visit compute.TileVisitor) bool {
	m, k, n := x.Rows, x.Cols, y.Cols
	if !productOK(x, y) || g.Validate() != nil || !noiseOK(nz, m, k, n) || !supported(g, nz) ||
		m == 0 || k == 0 || n == 0 {
		return compute.NoisedTranscript(b.cpu, x, y, nz, g, visit)
	}
	parts, err := b.run(x, y, nz, true, g, compute.I32{})
	if err != nil {
		b.log.Warn("cuda: noised transcript failed on the GPU, computing it on the CPU",
			"m", m, "k", k, "n", n, "cpu", b.cpu.Name(), "err", err)
		return compute.NoisedTranscript(b.cpu, x, y, nz, g, visit)
	}
	return visitAll(parts, visit)
}

// visitAll hashes every tile's z words into its digest and visits it, spread
// over the cores; it reports false when visit stopped it.
func visitAll(parts []bandResult, visit compute.TileVisitor) bool {
	if visit == nil {
		return true
	}
	type task struct {
		p      plan
		zpart  []uint32
		ti0    int
		ti, tj int
	}
	var tasks []task
	for _, pt := range parts {
		for ti := 0; ti < pt.p.tilesM; ti++ {
			for tj := 0; tj < pt.p.tilesN; tj++ {
				tasks = append(tasks, task{pt.p, pt.zpart, pt.row0 / tileEdge, ti, tj})
			}
		}
	}
	var next atomic.Int64
	var stopped atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < min(len(tasks), runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(tasks) {
					return
				}
				t := tasks[i]
				if !visit(t.ti0+t.ti, t.tj, t.p.digest(t.zpart, t.ti, t.tj)) {
					stopped.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return !stopped.Load()
}

// TileDigest recomputes one tile on the CPU: b·b·K MACs are not worth a
// transfer to the GPU.
func (b *Backend) TileDigest(x, y compute.I8, nz *compute.Noise, g compute.Geometry, ti, tj int) [32]byte {
	return b.cpu.TileDigest(x, y, nz, g, ti, tj)
}

// bandResult is one device's share of a noised product.
type bandResult struct {
	p     plan
	row0  int
	zpart []uint32
}

// run computes, band by band (one band per device, all devices at once), C
// = A·B into c when c has data, and with noised set the transcript words of
// (A+E)(B+F) (nz nil: no noise, A' = A, B' = B).
func (b *Backend) run(x, y compute.I8, nz *compute.Noise, noised bool, g compute.Geometry, c compute.I32) ([]bandResult, error) {
	m, k, n := x.Rows, x.Cols, y.Cols
	xn, yn := x, y
	if noised && nz != nil {
		xn, yn = nz.NoisedOperands(x, y)
	}
	bs := bands(m, len(b.devs))
	results := make([]bandResult, len(bs))
	errs := make([]error, len(bs))
	var wg sync.WaitGroup
	for i, band := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r0, r1 := band[0], band[1]
			j := &job{p: newPlan(r1-r0, k, n, noised, g), r0: r0}
			if len(c.Data) > 0 {
				j.a, j.b, j.c = x.Data[r0*k:r1*k], y.Data, c.Data[r0*n:r1*n]
			}
			if noised {
				j.an, j.bn = xn.Data[r0*k:r1*k], yn.Data
			}
			d := b.devs[i]
			errs[i] = d.do(func() error {
				defer j.free()
				if err := j.upload(); err != nil {
					return err
				}
				if err := j.launch(d); err != nil {
					return err
				}
				return j.download(d)
			})
			if errs[i] != nil {
				errs[i] = fmt.Errorf("device %d (%s), rows %d–%d: %w", d.index, d.name, r0, r1, errs[i])
			}
			results[i] = bandResult{p: j.p, row0: r0, zpart: j.zpart}
		}()
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// job is one band of one product on one device, with its device buffers.
type job struct {
	p      plan
	a, b   []int8  // band rows of A, all of B: the plain product (nil: no C)
	c      []int32 // band rows of C (nil: no C)
	an, bn []int8  // band rows of A', all of B': the transcript (nil: none)
	r0     int     // first row of the band

	zpart []uint32

	bufs                       []devPtr
	dA, dB, dAn, dBn, dAp, dBp devPtr
	dC, dZ                     devPtr
}

func (j *job) alloc(bytes int) (devPtr, error) {
	p, err := memAlloc(max(bytes, 16))
	if err != nil {
		return 0, fmt.Errorf("%d bytes: %w", bytes, err)
	}
	j.bufs = append(j.bufs, p)
	return p, nil
}

func (j *job) free() {
	for _, p := range j.bufs {
		memFree(p)
	}
	j.bufs = nil
}

func toDevice[T int8 | int32](dst devPtr, src []T) error {
	if len(src) == 0 {
		return nil
	}
	return copyToDevice(dst, unsafe.Pointer(&src[0]), len(src)*int(unsafe.Sizeof(src[0])))
}

// upload allocates the band's buffers and copies its inputs to the device.
func (j *job) upload() error {
	p := j.p
	type buf struct {
		dst   *devPtr
		bytes int
		src   []int8
	}
	bufs := []buf{{&j.dAp, p.mp * p.kq, nil}, {&j.dBp, p.np * p.kq, nil}}
	if j.c != nil {
		bufs = append(bufs, buf{&j.dA, p.m * p.k, j.a}, buf{&j.dB, p.k * p.n, j.b}, buf{&j.dC, 4 * p.m * p.n, nil})
	}
	if p.noised {
		bufs = append(bufs, buf{&j.dAn, p.m * p.k, j.an}, buf{&j.dBn, p.k * p.n, j.bn}, buf{&j.dZ, 4 * p.zWords(), nil})
	}
	for _, u := range bufs {
		var err error
		if *u.dst, err = j.alloc(u.bytes); err != nil {
			return err
		}
		if err := toDevice(*u.dst, u.src); err != nil {
			return err
		}
	}
	return nil
}

// launch enqueues, on the device's stream (so in order), pack A', pack B' and
// the transcript kernel, then pack A, pack B and the plain product. With no
// noise (A' = A) one noised kernel also stores C.
func (j *job) launch(d *device) error {
	p := j.p
	packA, err := d.function("quern_pack_a")
	if err != nil {
		return err
	}
	packB, err := d.function("quern_pack_b")
	if err != nil {
		return err
	}
	grid := func(items int) int { return (items + threads - 1) / threads }
	name, edge := "quern_gemm_dp4a_", dp4aEdge
	if d.tensorCores {
		name, edge = "quern_gemm_mma_", ctaEdge
	}
	gemm := func(kind string, a, b, c, z devPtr) error {
		if err := d.launchPackA(packA, grid(p.mp*p.segs), a, p.m, p.k, j.dAp, p.mp, p.segs); err != nil {
			return fmt.Errorf("quern_pack_a: %w", err)
		}
		if err := d.launchPackB(packB, grid(p.np*p.segs), b, p.k, p.n, j.dBp, p.np, p.segs); err != nil {
			return fmt.Errorf("quern_pack_b: %w", err)
		}
		f, err := d.function(name + kind)
		if err != nil {
			return err
		}
		if err := d.launchGemm(f, p.np/edge, p.mp/edge, j.dAp, j.dBp, p.kq, p.m, p.n, c, p.width, p.spc, p.segs,
			z, p.chunks, p.tilesN); err != nil {
			return fmt.Errorf("%s%s: %w", name, kind, err)
		}
		return nil
	}
	plainDone := false
	if p.noised {
		var c devPtr
		if j.c != nil && sameOperands(j.a, j.an) && sameOperands(j.b, j.bn) {
			c, plainDone = j.dC, true
		}
		if err := d.zero32(j.dZ, p.zWords()); err != nil {
			return err
		}
		if err := gemm("noised", j.dAn, j.dBn, c, j.dZ); err != nil {
			return err
		}
	}
	if j.c != nil && !plainDone {
		return gemm("plain", j.dA, j.dB, j.dC, 0)
	}
	return nil
}

// sameOperands reports whether x and y are the same slice (no noise).
func sameOperands(x, y []int8) bool {
	return len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
}

// download waits for the kernels and copies C and the transcript words back.
func (j *job) download(d *device) error {
	if err := d.sync(); err != nil {
		return err
	}
	if len(j.c) > 0 {
		if err := copyFromDevice(unsafe.Pointer(&j.c[0]), j.dC, 4*len(j.c)); err != nil {
			return err
		}
	}
	if j.p.noised {
		j.zpart = make([]uint32, j.p.zWords())
		if len(j.zpart) > 0 {
			if err := copyFromDevice(unsafe.Pointer(&j.zpart[0]), j.dZ, 4*len(j.zpart)); err != nil {
				return err
			}
		}
	}
	return nil
}
