package cuda

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/quern-chain/quern/compute"
)

// This file checks the arithmetic the GPU kernels rely on without a GPU: a
// Go transcription of kernels.cu (pack_a, pack_b, the product over packed
// operands with its mix points, the epilogue), run on the same plan, must
// match compute.Portable() and the golden vectors bit for bit. It proves the
// decomposition (correction columns, base-127 digits, prefix sums per
// segment, padding, edge masks, salts, bands); it cannot prove the CUDA
// code's thread and fragment indexing, which only the GPU tests do.

func floorDiv(v int32) int32 {
	if v >= 0 {
		return v / digitBase
	}
	return -((-v + digitBase - 1) / digitBase)
}

func toI8(t testing.TB, v int32, what string) int8 {
	if v < -128 || v > 127 {
		t.Fatalf("%s = %d does not fit int8", what, v)
	}
	return int8(v)
}

// refPackA is quern_pack_a for every (row, segment).
func refPackA(t testing.TB, p plan, a []int8, fl, el []int8) (ap []int8, cx []int32) {
	ap = make([]int8, p.mp*p.kq)
	cx = make([]int32, p.m*rankSlots)
	for i := 0; i < p.mp; i++ {
		for s := 0; s < p.segs; s++ {
			dst := ap[(i*p.segs+s)*p.width:]
			var x [rankSlots]int32
			for c := 0; c < segK; c++ {
				kk := s*segK + c
				var v int32
				if i < p.m && kk < p.k {
					v = int32(a[i*p.k+kk])
					if p.noised {
						for q := range x {
							x[q] += v * int32(fl[kk*rankSlots+q])
						}
					}
				}
				dst[c] = int8(v)
			}
			if !p.noised {
				continue
			}
			for q := range x {
				hi := floorDiv(x[q])
				var e int32
				if i < p.m {
					e = int32(el[i*rankSlots+q])
					cx[i*rankSlots+q] += x[q]
				}
				dst[segK+q] = toI8(t, x[q]-digitBase*hi, "X0")
				dst[segK+rankSlots+q] = toI8(t, hi, "X1")
				dst[segK+2*rankSlots+q] = toI8(t, e, "EL")
				dst[segK+3*rankSlots+q] = toI8(t, digitBase*e, "127·EL")
			}
		}
	}
	return ap, cx
}

// refPackB is quern_pack_b for every (column, segment).
func refPackB(t testing.TB, p plan, b []int8, f factors) (bp []int8, cy []int32) {
	bp = make([]int8, p.np*p.kq)
	cy = make([]int32, rankSlots*p.n)
	for j := 0; j < p.np; j++ {
		for s := 0; s < p.segs; s++ {
			dst := bp[(j*p.segs+s)*p.width:]
			var fr, y [rankSlots]int32
			if p.noised && j < p.n {
				for q := range fr {
					fr[q] = int32(f.fr[q*p.n+j])
				}
			}
			for c := 0; c < segK; c++ {
				kk := s*segK + c
				var v int32
				if j < p.n && kk < p.k {
					v = int32(b[kk*p.n+j])
					if p.noised {
						bn := v
						for q := range fr {
							bn += int32(f.fl[kk*rankSlots+q]) * fr[q]
						}
						for q := range y {
							y[q] += int32(f.er[q*p.k+kk]) * bn
						}
					}
				}
				dst[c] = int8(v)
			}
			if !p.noised {
				continue
			}
			for q := range y {
				hi := floorDiv(y[q])
				if j < p.n {
					cy[q*p.n+j] += y[q]
				}
				dst[segK+q] = toI8(t, fr[q], "FR")
				dst[segK+rankSlots+q] = toI8(t, digitBase*fr[q], "127·FR")
				dst[segK+2*rankSlots+q] = toI8(t, y[q]-digitBase*hi, "Y0")
				dst[segK+3*rankSlots+q] = toI8(t, hi, "Y1")
			}
		}
	}
	return bp, cy
}

// mixSchedule is kernels.cu's MixSchedule: counters that say after which
// k-step a transcript chunk ends.
type mixSchedule struct {
	width, spc, segs, step        int
	inSeg, seg, segInChunk, chunk int
}

func (s *mixSchedule) advance() int {
	s.inSeg += s.step
	if s.inSeg < s.width {
		return -1
	}
	s.inSeg = 0
	s.seg++
	if s.segInChunk++; s.segInChunk < s.spc && s.seg < s.segs {
		return -1
	}
	s.segInChunk = 0
	s.chunk++
	return s.chunk - 1
}

// refBand runs one band the way the kernels do: 32-column k-steps over the
// packed operands, the mix after every chunk's last step (two partial words
// per tile, columns 0–31 and 32–63, as the tensor-core kernel's two warps
// write them), then the epilogue. It returns C of the band and the z words.
func refBand(t testing.TB, p plan, a, b []int8, f factors, el []int8) (c []int32, zpart []uint64) {
	ap, cx := refPackA(t, p, a, f.fl, el)
	bp, cy := refPackB(t, p, b, f)
	acc := make([]int32, p.mp*p.np)
	zpart = make([]uint64, p.zWords())
	const step = 32
	sched := mixSchedule{width: p.width, spc: p.spc, segs: p.segs, step: step}
	mixes := 0
	for k0 := 0; k0 < p.kq; k0 += step {
		// Padded rows and columns hold zeros and are never mixed or stored.
		for i := 0; i < p.m; i++ {
			ar := ap[i*p.kq+k0 : i*p.kq+k0+step]
			for j := 0; j < p.n; j++ {
				br := bp[j*p.kq+k0 : j*p.kq+k0+step]
				s := acc[i*p.np+j]
				for kk, v := range ar {
					s += int32(v) * int32(br[kk])
				}
				acc[i*p.np+j] = s
			}
		}
		chunk := sched.advance()
		if !p.noised || chunk < 0 {
			continue
		}
		if chunk != mixes {
			t.Fatalf("chunk %d mixed after %d chunks", chunk, mixes)
		}
		mixes++
		for ti := 0; ti < p.tilesM; ti++ {
			for tj := 0; tj < p.tilesN; tj++ {
				for ii := 0; ii < tileEdge && ti*tileEdge+ii < p.m; ii++ {
					for jj := 0; jj < tileEdge && tj*tileEdge+jj < p.n; jj++ {
						v := acc[(ti*tileEdge+ii)*p.np+tj*tileEdge+jj]
						x := uint64(uint32(v) ^ uint32(ii*tileEdge+jj+1)*0x9E3779B1)
						zpart[((ti*p.tilesN+tj)*p.chunks+chunk)*2+jj/32] += x * x
					}
				}
			}
		}
	}
	if p.noised && mixes != p.chunks {
		t.Fatalf("%d chunks mixed, want %d", mixes, p.chunks)
	}
	c = make([]int32, p.m*p.n)
	for i := 0; i < p.m; i++ {
		for j := 0; j < p.n; j++ {
			v := acc[i*p.np+j]
			if p.noised {
				for q := 0; q < rankSlots; q++ {
					v -= cx[i*rankSlots+q]*int32(f.fr[q*p.n+j]) + int32(el[i*rankSlots+q])*cy[q*p.n+j]
				}
			}
			c[i*p.n+j] = v
		}
	}
	return c, zpart
}

// refProduct runs the reference over count bands as run does over devices.
func refProduct(t testing.TB, x, y compute.I8, nz *compute.Noise, g compute.Geometry, count int) (compute.I32, map[[2]int][32]byte) {
	m, k, n := x.Rows, x.Cols, y.Cols
	var f factors
	if nz != nil {
		f = padFactors(nz, m, k, n)
	}
	c := compute.NewI32(m, n)
	digests := map[[2]int][32]byte{}
	for _, band := range bands(m, count) {
		r0, r1 := band[0], band[1]
		p := newPlan(r1-r0, k, n, nz != nil, g)
		var el []int8
		if nz != nil {
			el = f.el[r0*rankSlots : r1*rankSlots]
		}
		cb, zpart := refBand(t, p, x.Data[r0*k:r1*k], y.Data, f, el)
		copy(c.Data[r0*n:r1*n], cb)
		for ti := 0; ti < p.tilesM; ti++ {
			for tj := 0; tj < p.tilesN; tj++ {
				digests[[2]int{r0/tileEdge + ti, tj}] = p.digest(zpart, ti, tj)
			}
		}
	}
	return c, digests
}

// portableDigests runs compute.Portable() and collects every visited digest.
func portableDigests(x, y compute.I8, nz *compute.Noise, g compute.Geometry) (compute.I32, map[[2]int][32]byte) {
	return collect(compute.Portable(), x, y, nz, g)
}

func collect(be compute.Backend, x, y compute.I8, nz *compute.Noise, g compute.Geometry) (compute.I32, map[[2]int][32]byte) {
	var mu sync.Mutex
	out := map[[2]int][32]byte{}
	c, ok := be.NoisedMatMul(x, y, nz, g, func(ti, tj int, d [32]byte) bool {
		mu.Lock()
		out[[2]int{ti, tj}] = d
		mu.Unlock()
		return true
	})
	if !ok {
		panic("incomplete")
	}
	return c, out
}

func equalI32(a, b compute.I32) error {
	if a.Rows != b.Rows || a.Cols != b.Cols || len(a.Data) != len(b.Data) {
		return fmt.Errorf("shape %d×%d vs %d×%d", a.Rows, a.Cols, b.Rows, b.Cols)
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return fmt.Errorf("C[%d][%d] = %d, want %d", i/a.Cols, i%a.Cols, a.Data[i], b.Data[i])
		}
	}
	return nil
}

func equalDigests(got, want map[[2]int][32]byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d digests, want %d", len(got), len(want))
	}
	for at, d := range want {
		if g := got[at]; g != d {
			return fmt.Errorf("tile %v: digest %x, want %x", at, g[:6], d[:6])
		}
	}
	return nil
}

func randomI8(rng *rand.Rand, rows, cols int) compute.I8 {
	m := compute.NewI8(rows, cols)
	for i := range m.Data {
		m.Data[i] = int8(rng.IntN(255) - 127)
	}
	return m
}

func fillI8(rows, cols int, v int8) compute.I8 {
	m := compute.NewI8(rows, cols)
	for i := range m.Data {
		m.Data[i] = v
	}
	return m
}

type shape struct{ m, k, n, chunk, rank int }

// referenceShapes covers edge tiles, K below, at and between multiples of
// 32 and 64, chunks of several segments, low ranks and rank 0.
var referenceShapes = []shape{
	{64, 64, 64, 64, 8}, {1, 1, 1, 64, 8}, {65, 33, 63, 64, 8}, {130, 200, 70, 64, 8},
	{100, 129, 130, 128, 8}, {70, 191, 129, 192, 3}, {64, 300, 200, 64, 1}, {33, 95, 17, 64, 0},
	{200, 64, 1, 128, 8}, {129, 257, 65, 256, 5},
}

func TestReferenceDecomposition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range referenceShapes {
		for _, count := range []int{1, 3} {
			t.Run(fmt.Sprintf("%dx%dx%d_c%d_r%d_bands%d", s.m, s.k, s.n, s.chunk, s.rank, count), func(t *testing.T) {
				x, y := randomI8(rng, s.m, s.k), randomI8(rng, s.k, s.n)
				nz := compute.NewNoise([32]byte{byte(s.m), byte(s.k), byte(s.n)}, s.m, s.k, s.n, s.rank)
				g := compute.Geometry{Tile: 64, Chunk: s.chunk}
				if !supported(g, s.rank) {
					t.Fatal("shape not covered by the kernels")
				}
				wantC, wantD := portableDigests(x, y, nz, g)
				gotC, gotD := refProduct(t, x, y, nz, g, count)
				if err := equalI32(gotC, wantC); err != nil {
					t.Fatal(err)
				}
				if err := equalDigests(gotD, wantD); err != nil {
					t.Fatal(err)
				}
				plainC, _ := refProduct(t, x, y, nil, g, count)
				if err := equalI32(plainC, wantC); err != nil {
					t.Fatalf("plain product: %v", err)
				}
			})
		}
	}
}

// TestReferenceExtremes drives the correction digits to their largest
// magnitudes: constant ±127 inputs against all-one and alternating factors.
func TestReferenceExtremes(t *testing.T) {
	for _, fa := range []int8{127, -127} {
		for _, fb := range []int8{127, -127} {
			m, k, n := 70, 130, 66
			x, y := fillI8(m, k, fa), fillI8(k, n, fb)
			nz := compute.NewNoise([32]byte{7}, m, k, n, 8)
			for _, f := range [][]int8{nz.EL, nz.ER, nz.FL, nz.FR} {
				for i := range f {
					f[i] = int8(1 - 2*(i/8%2)) // runs of eight equal signs
				}
			}
			g := compute.Geometry{Tile: 64, Chunk: 64}
			wantC, wantD := portableDigests(x, y, nz, g)
			gotC, gotD := refProduct(t, x, y, nz, g, 2)
			if err := equalI32(gotC, wantC); err != nil {
				t.Fatal(err)
			}
			if err := equalDigests(gotD, wantD); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestDigitRange: every segment correction |v| ≤ 64·135 splits into int8
// digits v = lo + 127·hi with lo ∈ [0, 126].
func TestDigitRange(t *testing.T) {
	for v := int32(-segK * 135); v <= segK*135; v++ {
		hi := floorDiv(v)
		lo := v - digitBase*hi
		if lo < 0 || lo >= digitBase || hi < -128 || hi > 127 || lo+digitBase*hi != v {
			t.Fatalf("%d: lo %d hi %d", v, lo, hi)
		}
	}
}

func TestBands(t *testing.T) {
	for _, c := range []struct{ m, count int }{{1, 4}, {64, 2}, {65, 2}, {1000, 3}, {8192, 8}, {130, 1}} {
		bs := bands(c.m, c.count)
		next := 0
		for _, b := range bs {
			if b[0] != next || b[0]%tileEdge != 0 || b[1] <= b[0] {
				t.Fatalf("m %d over %d: bands %v", c.m, c.count, bs)
			}
			next = b[1]
		}
		if next != c.m || len(bs) > c.count {
			t.Fatalf("m %d over %d: bands %v", c.m, c.count, bs)
		}
	}
}

// golden mirrors compute/golden_test.go's file format.
type goldenFile struct {
	Cases []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name     string `json:"name"`
	M        int    `json:"m"`
	K        int    `json:"k"`
	N        int    `json:"n"`
	Tile     int    `json:"tile"`
	Chunk    int    `json:"chunk"`
	Rank     int    `json:"rank"`
	NoiseKey string `json:"noise_key"`
	A, B     struct {
		Key  string `json:"key"`
		Fill *int8  `json:"fill"`
	}
	CKeccak string `json:"c_keccak"`
	Tiles   []struct {
		I      int    `json:"i"`
		J      int    `json:"j"`
		Digest string `json:"digest"`
	} `json:"tiles"`
}

const goldenPath = "../../testdata/golden/transcript_v1.json"

func loadGolden(t testing.TB) []goldenCase {
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run from compute/cuda)", err)
	}
	var f goldenFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no golden cases")
	}
	return f.Cases
}

func hexKey(t testing.TB, s string) [32]byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad key %q", s)
	}
	return [32]byte(b)
}

// inputs rebuilds a golden case's operands, noise and geometry.
func (c goldenCase) inputs(t testing.TB) (compute.I8, compute.I8, *compute.Noise, compute.Geometry) {
	mat := func(key string, fill *int8, rows, cols int) compute.I8 {
		if fill != nil {
			return fillI8(rows, cols, *fill)
		}
		return compute.RandomI8(hexKey(t, key), rows, cols)
	}
	return mat(c.A.Key, c.A.Fill, c.M, c.K), mat(c.B.Key, c.B.Fill, c.K, c.N),
		compute.NewNoise(hexKey(t, c.NoiseKey), c.M, c.K, c.N, c.Rank), compute.Geometry{Tile: c.Tile, Chunk: c.Chunk}
}

// check compares a product and its digests with the golden case.
func (c goldenCase) check(prod compute.I32, digests map[[2]int][32]byte) error {
	buf := make([]byte, 4*len(prod.Data))
	for i, v := range prod.Data {
		buf[4*i], buf[4*i+1], buf[4*i+2], buf[4*i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	if got := hex.EncodeToString(crypto.Keccak256(buf)); got != c.CKeccak {
		return fmt.Errorf("%s: c_keccak %s, golden %s", c.Name, got, c.CKeccak)
	}
	if len(digests) != len(c.Tiles) {
		return fmt.Errorf("%s: %d tiles, golden %d", c.Name, len(digests), len(c.Tiles))
	}
	for _, w := range c.Tiles {
		d := digests[[2]int{w.I, w.J}]
		if got := hex.EncodeToString(d[:]); got != w.Digest {
			return fmt.Errorf("%s: tile (%d, %d) %s, golden %s", c.Name, w.I, w.J, got, w.Digest)
		}
	}
	return nil
}

func TestReferenceGolden(t *testing.T) {
	ran := 0
	for _, c := range loadGolden(t) {
		x, y, nz, g := c.inputs(t)
		if !supported(g, c.Rank) {
			continue // the CPU fallback's geometry; compute's own golden test covers it
		}
		prod, digests := refProduct(t, x, y, nz, g, 2)
		if err := c.check(prod, digests); err != nil {
			t.Error(err)
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("no golden case has the kernels' geometry")
	}
	t.Logf("%d golden cases through the kernel decomposition", ran)
}
