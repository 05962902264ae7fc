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
// operands with its mix points), run on the same plan over the host-built
// noised operands, must match compute.Portable() and the golden vectors bit
// for bit. It proves the layout (segments, padding, mix schedule, edge masks,
// salts, 32-bit z words, bands); it cannot prove the CUDA code's thread and
// fragment indexing, which only the GPU tests do.

// refPack is quern_pack_a (rows of A, M×K) or quern_pack_b (columns of B,
// K×N, with transposed set) for every (row, segment), padded to padded rows.
func refPack(p plan, src []int8, rows, padded int, transposed bool) []int8 {
	out := make([]int8, padded*p.kq)
	for i := 0; i < rows; i++ {
		for kk := 0; kk < p.k; kk++ {
			if transposed {
				out[i*p.kq+kk] = src[kk*rows+i]
			} else {
				out[i*p.kq+kk] = src[i*p.k+kk]
			}
		}
	}
	return out
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
// packed operands, the mix after every chunk's last step (two partial 32-bit
// words per tile, columns 0–31 and 32–63, as the tensor-core kernel's two
// warps write them). It returns the band's final accumulator (the product of
// its operands) and the z words.
func refBand(t testing.TB, p plan, a, b []int8) (c []int32, zpart []uint32) {
	ap := refPack(p, a, p.m, p.mp, false)
	bp := refPack(p, b, p.n, p.np, true)
	acc := make([]int32, p.mp*p.np)
	zpart = make([]uint32, p.zWords())
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
						x := uint32(v) ^ uint32(ii*tileEdge+jj+1)*0x9E3779B1
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
		copy(c[i*p.n:(i+1)*p.n], acc[i*p.np:i*p.np+p.n])
	}
	return c, zpart
}

// refProduct runs the reference over count bands as run does over devices:
// the transcript over A' = A+E, B' = B+F (built on the host as run builds
// them), C from the plain product of A and B.
func refProduct(t testing.TB, x, y compute.I8, nz *compute.Noise, g compute.Geometry, count int) (compute.I32, map[[2]int][32]byte) {
	m, k, n := x.Rows, x.Cols, y.Cols
	xn, yn := x, y
	if nz != nil {
		xn, yn = nz.NoisedOperands(x, y)
	}
	c := compute.NewI32(m, n)
	digests := map[[2]int][32]byte{}
	for _, band := range bands(m, count) {
		r0, r1 := band[0], band[1]
		p := newPlan(r1-r0, k, n, true, g)
		_, zpart := refBand(t, p, xn.Data[r0*k:r1*k], yn.Data)
		cb, _ := refBand(t, newPlan(r1-r0, k, n, false, g), x.Data[r0*k:r1*k], y.Data)
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

// randomI8 draws entries in [−lim, lim].
func randomI8(rng *rand.Rand, rows, cols, lim int) compute.I8 {
	m := compute.NewI8(rows, cols)
	for i := range m.Data {
		m.Data[i] = int8(rng.IntN(2*lim+1) - lim)
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

type shape struct{ m, k, n, chunk int }

// referenceShapes covers edge tiles, K below, at and between multiples of
// 32 and 64, and chunks (= noise ranks) of several segments.
var referenceShapes = []shape{
	{64, 64, 64, 64}, {1, 1, 1, 64}, {65, 33, 63, 64}, {130, 200, 70, 64},
	{100, 129, 130, 128}, {70, 191, 129, 192}, {64, 300, 200, 64}, {33, 95, 17, 64},
	{200, 64, 1, 128}, {129, 257, 65, 256},
}

func TestReferenceDecomposition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range referenceShapes {
		for _, count := range []int{1, 3} {
			for _, noised := range []bool{true, false} {
				t.Run(fmt.Sprintf("%dx%dx%d_c%d_bands%d_noise%v", s.m, s.k, s.n, s.chunk, count, noised), func(t *testing.T) {
					g := compute.Geometry{Tile: 64, Chunk: s.chunk}
					lim := 127
					var nz *compute.Noise
					if noised {
						lim = compute.OperandMax
						nz = compute.NewNoise([32]byte{byte(s.m), byte(s.k), byte(s.n)}, s.m, s.k, s.n, g)
					}
					if !supported(g, nz) {
						t.Fatal("shape not covered by the kernels")
					}
					x, y := randomI8(rng, s.m, s.k, lim), randomI8(rng, s.k, s.n, lim)
					wantC, wantD := portableDigests(x, y, nz, g)
					gotC, gotD := refProduct(t, x, y, nz, g, count)
					if err := equalI32(gotC, wantC); err != nil {
						t.Fatal(err)
					}
					if err := equalDigests(gotD, wantD); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// TestReferenceExtremes: constant ±112 inputs, so that A' and B' reach ±127.
func TestReferenceExtremes(t *testing.T) {
	for _, fa := range []int8{compute.OperandMax, -compute.OperandMax} {
		for _, fb := range []int8{compute.OperandMax, -compute.OperandMax} {
			m, k, n := 70, 130, 66
			x, y := fillI8(m, k, fa), fillI8(k, n, fb)
			g := compute.Geometry{Tile: 64, Chunk: 64}
			nz := compute.NewNoise([32]byte{7}, m, k, n, g)
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
	Name     string      `json:"name"`
	M        int         `json:"m"`
	K        int         `json:"k"`
	N        int         `json:"n"`
	Tile     int         `json:"tile"`
	Chunk    int         `json:"chunk"`
	NoiseKey string      `json:"noise_key"` // "": no noise
	A        goldenInput `json:"a"`
	B        goldenInput `json:"b"`
	CKeccak  string      `json:"c_keccak"`
	Tiles    []struct {
		I      int    `json:"i"`
		J      int    `json:"j"`
		Digest string `json:"digest"`
	} `json:"tiles"`
}

// goldenInput is RandomI8(Key) clipped to ±Clip (when Clip is set) or a
// constant Fill.
type goldenInput struct {
	Key  string `json:"key"`
	Fill *int8  `json:"fill"`
	Clip int    `json:"clip"`
}

const goldenPath = "../../testdata/golden/transcript_v2.json"

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

// inputs rebuilds a golden case's operands, noise (nil without a key) and
// geometry.
func (c goldenCase) inputs(t testing.TB) (compute.I8, compute.I8, *compute.Noise, compute.Geometry) {
	mat := func(in goldenInput, rows, cols int) compute.I8 {
		if in.Fill != nil {
			return fillI8(rows, cols, *in.Fill)
		}
		m := compute.RandomI8(hexKey(t, in.Key), rows, cols)
		if in.Clip > 0 {
			for i, v := range m.Data {
				m.Data[i] = int8(max(-in.Clip, min(in.Clip, int(v))))
			}
		}
		return m
	}
	g := compute.Geometry{Tile: c.Tile, Chunk: c.Chunk}
	var nz *compute.Noise
	if c.NoiseKey != "" {
		nz = compute.NewNoise(hexKey(t, c.NoiseKey), c.M, c.K, c.N, g)
	}
	return mat(c.A, c.M, c.K), mat(c.B, c.K, c.N), nz, g
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
		if !supported(g, nz) {
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
