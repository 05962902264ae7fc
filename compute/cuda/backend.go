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
	if _, err := b.run(x, y, nil, compute.Geometry{}, c); err != nil {
		b.log.Warn("cuda: product failed on the GPU, computing it on the CPU",
			"m", x.Rows, "k", x.Cols, "n", y.Cols, "cpu", b.cpu.Name(), "err", err)
		return b.cpu.MatMul(x, y)
	}
	return c
}

// NoisedMatMul runs the noised product with its fused transcript on the GPUs
// and hashes the tile digests on the host. Geometries other than b = 64,
// κ a multiple of 64, rank ≤ 8 run on the CPU fallback.
func (b *Backend) NoisedMatMul(x, y compute.I8, nz *compute.Noise, g compute.Geometry, visit compute.TileVisitor) (compute.I32, bool) {
	m, k, n := x.Rows, x.Cols, y.Cols
	if !productOK(x, y) || g.Validate() != nil || !noiseOK(nz, m, k, n) || !supported(g, nz.Rank) ||
		m == 0 || k == 0 || n == 0 {
		return b.cpu.NoisedMatMul(x, y, nz, g, visit)
	}
	c := compute.NewI32(m, n)
	parts, err := b.run(x, y, nz, g, c)
	if err != nil {
		b.log.Warn("cuda: noised product failed on the GPU, computing it on the CPU",
			"m", m, "k", k, "n", n, "cpu", b.cpu.Name(), "err", err)
		return b.cpu.NoisedMatMul(x, y, nz, g, visit)
	}
	if visit == nil {
		return c, true
	}
	// Digests hash T words per tile: spread them over the cores.
	type task struct {
		p      plan
		zpart  []uint64
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
	if stopped.Load() {
		return compute.I32{}, false
	}
	return c, true
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
	zpart []uint64
}

// run computes C (and, when nz is set, the transcript words) band by band,
// one band per device, all devices at once.
func (b *Backend) run(x, y compute.I8, nz *compute.Noise, g compute.Geometry, c compute.I32) ([]bandResult, error) {
	m, k, n := x.Rows, x.Cols, y.Cols
	var f factors
	if nz != nil {
		f = padFactors(nz, m, k, n)
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
			j := &job{
				p:  newPlan(r1-r0, k, n, nz != nil, g),
				a:  x.Data[r0*k : r1*k],
				b:  y.Data,
				c:  c.Data[r0*n : r1*n],
				f:  f,
				r0: r0,
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
	p  plan
	a  []int8  // band rows of A
	b  []int8  // all of B
	c  []int32 // band rows of C (nil: leave the result on the device)
	f  factors // zero value for a plain product
	r0 int     // first row of the band

	zpart []uint64

	bufs                         []devPtr
	dA, dB, dAp, dBp, dC, dZ     devPtr
	dFL, dFR, dER, dEL, dCX, dCY devPtr
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
	var err error
	allocs := []struct {
		dst   *devPtr
		bytes int
	}{
		{&j.dA, p.m * p.k}, {&j.dB, p.k * p.n}, {&j.dAp, p.mp * p.kq}, {&j.dBp, p.np * p.kq}, {&j.dC, 4 * p.m * p.n},
	}
	if p.noised {
		allocs = append(allocs, []struct {
			dst   *devPtr
			bytes int
		}{
			{&j.dZ, 8 * p.zWords()}, {&j.dFL, p.k * rankSlots}, {&j.dFR, rankSlots * p.n},
			{&j.dER, rankSlots * p.k}, {&j.dEL, p.m * rankSlots}, {&j.dCX, 4 * p.m * rankSlots}, {&j.dCY, 4 * rankSlots * p.n},
		}...)
	}
	for _, a := range allocs {
		if *a.dst, err = j.alloc(a.bytes); err != nil {
			return err
		}
	}
	if err := toDevice(j.dA, j.a); err != nil {
		return err
	}
	if err := toDevice(j.dB, j.b); err != nil {
		return err
	}
	if p.noised {
		for _, u := range []struct {
			dst devPtr
			src []int8
		}{
			{j.dFL, j.f.fl}, {j.dFR, j.f.fr}, {j.dER, j.f.er}, {j.dEL, j.f.el[j.r0*rankSlots : (j.r0+p.m)*rankSlots]},
		} {
			if err := toDevice(u.dst, u.src); err != nil {
				return err
			}
		}
	}
	return nil
}

// launch enqueues pack A, pack B and the product on the device's stream.
func (j *job) launch(d *device) error {
	p := j.p
	aug := 0
	if p.noised {
		aug = augK
		for _, z := range []struct {
			ptr   devPtr
			words int
		}{{j.dCX, p.m * rankSlots}, {j.dCY, rankSlots * p.n}, {j.dZ, 2 * p.zWords()}} {
			if err := d.zero32(z.ptr, z.words); err != nil {
				return err
			}
		}
	}
	packA, err := d.function("quern_pack_a")
	if err != nil {
		return err
	}
	packB, err := d.function("quern_pack_b")
	if err != nil {
		return err
	}
	grid := func(items int) int { return (items + threads - 1) / threads }
	if err := d.launchPackA(packA, grid(p.mp*p.segs), j.dA, p.m, p.k, j.dFL, j.dEL, j.dAp, p.mp, p.segs, aug, j.dCX); err != nil {
		return fmt.Errorf("quern_pack_a: %w", err)
	}
	if err := d.launchPackB(packB, grid(p.np*p.segs), j.dB, p.k, p.n, j.dFL, j.dFR, j.dER, j.dBp, p.np, p.segs, aug, j.dCY); err != nil {
		return fmt.Errorf("quern_pack_b: %w", err)
	}
	name, edge := "quern_gemm_dp4a_", dp4aEdge
	if d.tensorCores {
		name, edge = "quern_gemm_mma_", ctaEdge
	}
	if p.noised {
		name += "noised"
	} else {
		name += "plain"
	}
	gemm, err := d.function(name)
	if err != nil {
		return err
	}
	if err := d.launchGemm(gemm, p.np/edge, p.mp/edge, j.dAp, j.dBp, p.kq, p.m, p.n, j.dC, p.width, p.spc, p.segs,
		j.dZ, p.chunks, p.tilesN, j.dCX, j.dFR, j.dEL, j.dCY); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
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
		j.zpart = make([]uint64, j.p.zWords())
		if err := copyFromDevice(unsafe.Pointer(&j.zpart[0]), j.dZ, 8*len(j.zpart)); err != nil {
			return err
		}
	}
	return nil
}
