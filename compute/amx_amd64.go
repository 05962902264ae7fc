package compute

import (
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The amx-int8 backend: plain MatMul on AMX tiles (TDPBSSD, int8·int8 → int32,
// exact since K ≤ MaxK keeps every sum inside int32). Transcripts and tile
// digests run on the avx512-vnni kernels: an AMX transcript (amxAcc64 per
// chunk, then the mix) is not built because no AMX machine was at hand to
// prove it bit-exact (docs/benchmarks.md); a noised product's C is AMX's.
//
// Layout (amx_amd64.s): K is padded with zeros to kpad, a multiple of 64.
//   - A, when K is a multiple of 64, is read in place (rows K bytes apart)
//     for every full 32-row block. Otherwise it is cut into 16-row panels of kpad·16 bytes: tile kb (1 KiB) holds
//     rows 0..15, bytes [64·kb, 64·kb+64) of each, row-major.
//   - B is cut into 16-column panels of kpad·16 bytes, amxPanelPad apart: tile kb holds K-quads
//     16·kb..16·kb+15, each 16 columns × 4 consecutive K (the VNNI layout).
//
// Padding rows, columns and K are zero. Tile configuration is per thread and
// goroutines move between threads, so each assembly call loads the
// configuration on entry and releases the tiles before it returns.

//go:noescape
func amxDot32(cfg, a *byte, lda, aPanel, aStep int, b *byte, panel int, c *int32, ldc, kblocks, nblocks int)

//go:noescape
func packQuadsBT(dst, r0, r1, r2, r3 *byte, n, stride int)

//go:noescape
func amxBody(cfg, a, b *byte, iters int)

//go:noescape
func copyRowT(dst, src *byte, n, stride int)

// amxTileCfg is the LDTILECFG block: palette 1, tiles 0–7 all 16 rows × 64 bytes.
var amxTileCfg = func() (cfg [64]byte) {
	cfg[0] = 1
	for t := 0; t < 8; t++ {
		cfg[16+2*t] = 64
		cfg[48+t] = 16
	}
	return
}()

// amxAvail reports whether this process may run the AMX backend, and if the
// CPU has AMX-INT8 but it may not, why (for Describe and logs).
var amxAvail = sync.OnceValues(func() (bool, string) {
	x := cpu.X86
	if !x.HasAMXTile || !x.HasAMXInt8 {
		return false, ""
	}
	if !(x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI) {
		return false, "amx-int8 off: CPU has AMX-INT8 but not the AVX-512 VNNI its noised path uses"
	}
	if err := amxPermit(); err != nil {
		return false, "amx-int8 off: " + err.Error()
	}
	return true, ""
})

// amxSlab is the B slab one MatMul task sweeps (its column blocks × K):
// it stays in L2 while the task's A rows stream past. Best of 12
// alternating runs here (2 vCPU Sapphire Rapids): 512 KiB gave 1632 GMAC/s
// at 1024³ and 1010 at 4096×4096×1024, against 1262 and 886 for 256 KiB,
// 1384 and 971 for 1 MiB. A variable so it can be tuned.
var amxSlab = 512 << 10

// amxPanelPad spaces B's 16-column panels: kpad·16 bytes is a multiple of
// 4 KiB whenever K is, and the packer's 16 stores per quad (one per panel)
// then all hit one L1 set. A variable so it can be tuned.
var amxPanelPad = 64

// amxSerialMACs: a product of fewer M·N·K runs on the caller's goroutine
// alone. Waking and feeding a helper costs more than it saves there: best
// of 2 alternating runs of MatMulInto here (2 vCPU), one goroutine against
// two: 256³ 16 µs against 26, 384³ 40 against 55, but 512³ 99 against 87;
// at 2²⁶ MACs it depends on the shape (256×256×1024: 55 against 69,
// 1024×256×256: 57 against 50), so the threshold sits just below.
var amxSerialMACs = 1 << 26

const (
	amxBlock    = 32   // rows and columns of one kernel block (2×2 tiles)
	amxCallWork = 2048 // at most this many kblocks·nblocks per kernel call (~60 µs)
)

type amxBackend struct{ vnni *simd }

var _ Backend = (*amxBackend)(nil)

func (*amxBackend) Name() string { return "amx-int8" }
func (*amxBackend) describe() string {
	return "CPU has AMX-INT8 and the kernel granted tile data (TDPBSSD MatMul; transcripts on AVX-512 VNNI)"
}

func (x *amxBackend) TileDigest(a, b I8, nz *Noise, g Geometry, ti, tj int) [32]byte {
	return x.vnni.TileDigest(a, b, nz, g, ti, tj)
}

func (x *amxBackend) NoisedTranscript(a, b I8, nz *Noise, g Geometry, visit TileVisitor) bool {
	return x.vnni.NoisedTranscript(a, b, nz, g, visit)
}

func (x *amxBackend) NoisedMatMul(a, b I8, nz *Noise, g Geometry, visit TileVisitor) (I32, bool) {
	if !x.vnni.NoisedTranscript(a, b, nz, g, visit) {
		return I32{}, false
	}
	return x.MatMul(a, b), true
}

func bptr(s []byte) *byte  { return unsafe.SliceData(s) }
func i8ptr(s []int8) *byte { return (*byte)(unsafe.Pointer(unsafe.SliceData(s))) }

// amxBufs recycles packing buffers: at these speeds allocating and zeroing
// them costs as much as the product.
var amxBufs sync.Pool

func getAMXBuf(n int, zero bool) *[]byte {
	if p, ok := amxBufs.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		if zero {
			clear(*p)
		}
		return p
	}
	b := make([]byte, n)
	return &b
}

var _ IntoMatMuler = (*amxBackend)(nil)

func (x *amxBackend) MatMul(a, b I8) I32 {
	mustProductShape(a, b)
	return x.mul(I32{}, a, b)
}

// MatMulInto overwrites c with A·B: full blocks are stored straight into C
// (TILEZERO starts each one), edge blocks are copied whole from scratch.
func (x *amxBackend) MatMulInto(c I32, a, b I8) {
	mustIntoShape(c, a, b)
	x.mul(c, a, b)
}

// mul writes A·B into c, or with c.Data nil into a fresh C that the first
// packing task allocates (zeroing it then runs beside the packing).
func (x *amxBackend) mul(c I32, a, b I8) I32 {
	m, k, n := a.Rows, a.Cols, b.Cols
	if m == 0 || n == 0 || k == 0 {
		if c.Data == nil {
			return NewI32(m, n)
		}
		clear(c.Data)
		return c
	}
	kblocks := (k + 63) / 64
	kpad := kblocks * 64
	panel := kpad * 16
	mb, nb := (m+amxBlock-1)/amxBlock, (n+amxBlock-1)/amxBlock
	// With K a multiple of 64, full row blocks are read from A in place and
	// only a partial last block is packed; otherwise every block is.
	rbPack := 0
	if k%64 == 0 {
		rbPack = m / amxBlock
	}
	aBuf := getAMXBuf((mb-rbPack)*2*panel, k%64 != 0 || m%amxBlock != 0)
	bPanel := panel + amxPanelPad
	bBuf := getAMXBuf(nb*2*bPanel, k%64 != 0 || n%amxBlock != 0)
	defer amxBufs.Put(aBuf)
	defer amxBufs.Put(bBuf)
	aT, bT := *aBuf, *bBuf

	// Packing tasks: A in 16-row panels, B in slabs of 16 K-quads.
	p0 := rbPack * 2
	aTasks := mb*2 - p0
	quads := (k + 3) / 4
	const quadsPerTask = 16
	bTasks := (quads + quadsPerTask - 1) / quadsPerTask
	zero := make([]int8, max(n, 16))
	nw := runtime.GOMAXPROCS(0)
	if m*n*k < amxSerialMACs {
		nw = 1
	}
	// Task 0 allocates C when the caller gave none: zeroing it (a quarter
	// of a 1024³ product here) runs beside the packing instead of before it.
	parallelForOn(nw, 1+aTasks+bTasks, func(_, t int) bool {
		if t == 0 {
			if c.Data == nil {
				c = NewI32(m, n)
			}
			return true
		}
		t--
		if t < aTasks {
			full := k / 64
			for i := (p0 + t) * 16; i < min(m, (p0+t)*16+16); i++ {
				row := a.Row(i)
				dst := aT[t*panel+(i%16)*64:]
				copyRowT(bptr(dst), i8ptr(row), full, 1024)
				if full*64 < k {
					copy(unsafe.Slice((*int8)(unsafe.Pointer(&dst[full*1024])), 64), row[full*64:])
				}
			}
			return true
		}
		t -= aTasks
		fullCols := n / 16
		var tail [4][16]int8
		var rp [4]*byte
		for q := t * quadsPerTask; q < min(quads, (t+1)*quadsPerTask); q++ {
			for r := range 4 {
				if kk := 4*q + r; kk < k {
					rp[r] = i8ptr(b.Row(kk))
				} else {
					rp[r] = i8ptr(zero)
				}
			}
			packQuadsBT(bptr(bT[q*64:]), rp[0], rp[1], rp[2], rp[3], fullCols, bPanel)
			if fullCols*16 < n {
				for r := range 4 {
					tail[r] = [16]int8{}
					if kk := 4*q + r; kk < k {
						copy(tail[r][:], b.Row(kk)[fullCols*16:])
					}
				}
				packQuadsBT(bptr(bT[fullCols*bPanel+q*64:]), i8ptr(tail[0][:]), i8ptr(tail[1][:]), i8ptr(tail[2][:]), i8ptr(tail[3][:]), 1, bPanel)
			}
		}
		return true
	})

	cfg := &amxTileCfg[0]
	perCall := max(1, amxCallWork/kblocks)
	colBlks := max(1, min(nb, amxSlab/(2*bPanel)))
	ncc := (nb + colBlks - 1) / colBlks
	scratches := make([][]int32, min(nw, workers(mb*ncc)))
	parallelForOn(nw, mb*ncc, func(wk, t int) bool {
		cc, rb := t/mb, t%mb
		i0 := rb * amxBlock
		h := min(amxBlock, m-i0)
		jb0, jb1 := cc*colBlks, min(nb, (cc+1)*colBlks)
		var ap *byte
		var lda, aPanel, aStep int
		if rb < rbPack {
			ap, lda, aPanel, aStep = i8ptr(a.Data[i0*k:]), k, 16*k, 64
		} else {
			ap, lda, aPanel, aStep = bptr(aT[(rb-rbPack)*2*panel:]), 64, panel, 1024
		}
		jb := jb0
		if h == amxBlock {
			// Full blocks straight into C.
			full := min(jb1, n/amxBlock)
			for jb < full {
				nbk := min(perCall, full-jb)
				amxDot32(cfg, ap, lda, aPanel, aStep, bptr(bT[jb*2*bPanel:]), bPanel, &c.Data[i0*n+jb*amxBlock], n*4, kblocks, nbk)
				jb += nbk
			}
		}
		if jb == jb1 {
			return true
		}
		if scratches[wk] == nil {
			scratches[wk] = make([]int32, amxBlock*amxBlock)
		}
		sc := scratches[wk]
		for ; jb < jb1; jb++ {
			amxDot32(cfg, ap, lda, aPanel, aStep, bptr(bT[jb*2*bPanel:]), bPanel, &sc[0], amxBlock*4, kblocks, 1)
			j0 := jb * amxBlock
			w := min(amxBlock, n-j0)
			for ii := 0; ii < h; ii++ {
				copy(c.Data[(i0+ii)*n+j0:(i0+ii)*n+j0+w], sc[ii*amxBlock:ii*amxBlock+w])
			}
		}
		return true
	})
	return c
}
