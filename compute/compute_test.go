package compute

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

// naiveMatMul is the reference product: a plain triple loop.
func naiveMatMul(a, b I8) I32 {
	c := NewI32(a.Rows, b.Cols)
	for i := 0; i < a.Rows; i++ {
		for j := 0; j < b.Cols; j++ {
			var s int32
			for k := 0; k < a.Cols; k++ {
				s += int32(a.At(i, k)) * int32(b.At(k, j))
			}
			c.Data[i*c.Cols+j] = s
		}
	}
	return c
}

// refTranscript computes every tile digest straight from the protocol's
// definitions (docs/protocol.md §3): dense E and F from the factors, the
// partial sums by a triple loop, the mix entry by entry.
func refTranscript(a, b I8, nz *Noise, g Geometry) map[[2]int][32]byte {
	m, k, n := a.Rows, a.Cols, b.Cols
	ap := make([]int32, m*k)
	bp := make([]int32, k*n)
	for i := range ap {
		ap[i] = int32(a.Data[i])
	}
	for i := range bp {
		bp[i] = int32(b.Data[i])
	}
	if nz != nil {
		r := nz.Rank
		el, fr := nz.Factors()
		for i := 0; i < m; i++ {
			for kk := 0; kk < k; kk++ {
				ap[i*k+kk] += int32(nz.SA[kk]) * int32(el[i*r+kk%r])
			}
		}
		for kk := 0; kk < k; kk++ {
			c := int(nz.Perm[kk/r][kk%r])
			for j := 0; j < n; j++ {
				bp[kk*n+j] += int32(nz.SB[kk]) * int32(fr[c*n+j])
			}
		}
	}
	out := map[[2]int][32]byte{}
	tb := g.Tile
	for I := 0; I*tb < m; I++ {
		for J := 0; J*tb < n; J++ {
			h, w := min(tb, m-I*tb), min(tb, n-J*tb)
			var buf []byte
			for t := 1; (t-1)*g.Chunk < k; t++ {
				var z uint32
				for ii := 0; ii < h; ii++ {
					for jj := 0; jj < w; jj++ {
						var p int32
						for kk := 0; kk < min(t*g.Chunk, k); kk++ {
							p += ap[(I*tb+ii)*k+kk] * bp[kk*n+J*tb+jj]
						}
						idx := ii*tb + jj
						salt := uint32(idx+1) * 0x9E3779B1
						x := uint32(p) ^ salt
						z += x * x
					}
				}
				buf = binary.BigEndian.AppendUint32(buf, z)
			}
			out[[2]int{I, J}] = [32]byte(crypto.Keccak256(buf))
		}
	}
	return out
}

func randI8(rng *rand.Rand, rows, cols int, lo, hi int) I8 {
	m := NewI8(rows, cols)
	for i := range m.Data {
		m.Data[i] = int8(lo + rng.IntN(hi-lo+1))
	}
	return m
}

// clampI8 clips a matrix into the noised products' operand range.
func clampI8(m I8) I8 {
	for i, v := range m.Data {
		m.Data[i] = max(-OperandMax, min(OperandMax, v))
	}
	return m
}

func fillI8(rows, cols int, v int8) I8 {
	m := NewI8(rows, cols)
	for i := range m.Data {
		m.Data[i] = v
	}
	return m
}

func equalI32(a, b I32) bool {
	if a.Rows != b.Rows || a.Cols != b.Cols || len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return false
		}
	}
	return true
}

func firstDiff(a, b I32) string {
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return fmt.Sprintf("C[%d][%d] = %d, want %d", i/a.Cols, i%a.Cols, a.Data[i], b.Data[i])
		}
	}
	return "shapes differ"
}

// awkward shapes for the SIMD kernels: edges off the 4-row group and the
// 64-column panel, K = 1, K off a multiple of 2, 4 and 64, M or N below 16.
var shapes = [][3]int{
	{1, 1, 1}, {3, 65, 7}, {64, 64, 64}, {130, 257, 67}, {5, 1, 9}, {67, 1, 131},
	{1, 300, 1}, {4, 63, 6}, {65, 64, 67}, {2, 129, 200}, {7, 1000, 5}, {17, 3, 129},
	{128, 130, 64}, {3, 4097, 2},
}

func TestMatMulMatchesNaive(t *testing.T) {
	for _, be := range Backends() {
		t.Run(be.Name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for _, s := range shapes {
				for _, src := range []string{"random", "+127", "-127", "-128", "mixed"} {
					var a, b I8
					switch src {
					case "random":
						a, b = randI8(rng, s[0], s[1], -127, 127), randI8(rng, s[1], s[2], -127, 127)
					case "+127":
						a, b = fillI8(s[0], s[1], 127), fillI8(s[1], s[2], 127)
					case "-127":
						a, b = fillI8(s[0], s[1], -127), fillI8(s[1], s[2], -127)
					case "-128": // outside the protocol's range, but MatMul stays exact for any int8
						a, b = fillI8(s[0], s[1], -128), fillI8(s[1], s[2], -128)
					case "mixed":
						a, b = fillI8(s[0], s[1], 127), fillI8(s[1], s[2], -127)
					}
					got, want := be.MatMul(a, b), naiveMatMul(a, b)
					if !equalI32(got, want) {
						t.Fatalf("%v %s: %s", s, src, firstDiff(got, want))
					}
				}
			}
		})
	}
}

func TestMatMulLargeK(t *testing.T) {
	for _, be := range Backends() {
		// K = MaxK with extreme values: the largest sums int32 must hold.
		a, b := fillI8(2, MaxK, -128), fillI8(MaxK, 3, -128)
		for _, v := range be.MatMul(a, b).Data {
			if v != 1<<30 { // 128·128·65536
				t.Fatalf("%s: got %d, want %d", be.Name(), v, 1<<30)
			}
		}
		a, b = fillI8(3, MaxK, 127), fillI8(MaxK, 5, -127)
		for _, v := range be.MatMul(a, b).Data {
			if v != -127*127*MaxK {
				t.Fatalf("%s: got %d, want %d", be.Name(), v, -127*127*MaxK)
			}
		}
		// Mixed signs along K: -128·-128 then 127·-128, alternating in runs.
		a, b = NewI8(5, MaxK), NewI8(MaxK, 17)
		for k := 0; k < MaxK; k++ {
			v := int8(-128)
			if (k/3)%2 == 1 {
				v = 127
			}
			for i := 0; i < 5; i++ {
				a.Data[i*MaxK+k] = v
			}
			for j := 0; j < 17; j++ {
				b.Data[k*17+j] = -128
			}
		}
		if got, want := be.MatMul(a, b), naiveMatMul(a, b); !equalI32(got, want) {
			t.Fatalf("%s: alternating K = MaxK: %s", be.Name(), firstDiff(got, want))
		}
	}
}

func TestMatMulEmpty(t *testing.T) {
	for _, be := range Backends() {
		t.Run(be.Name(), func(t *testing.T) { testMatMulEmpty(t, be.MatMul) })
	}
}

func testMatMulEmpty(t *testing.T, MatMul func(a, b I8) I32) {
	c := MatMul(NewI8(3, 0), NewI8(0, 4))
	if c.Rows != 3 || c.Cols != 4 || len(c.Data) != 12 {
		t.Fatalf("got %d×%d with %d entries", c.Rows, c.Cols, len(c.Data))
	}
	for _, v := range c.Data {
		if v != 0 {
			t.Fatal("K = 0 product is not zero")
		}
	}
	if c := MatMul(NewI8(0, 5), NewI8(5, 2)); c.Rows != 0 || len(c.Data) != 0 {
		t.Fatal("M = 0 product is not empty")
	}
}

func TestMatMulPanicsOnShapeMismatch(t *testing.T) {
	for name, f := range map[string]func(){
		"inner": func() { MatMul(NewI8(2, 3), NewI8(4, 2)) },
		"data":  func() { MatMul(I8{Rows: 2, Cols: 2, Data: make([]int8, 3)}, NewI8(2, 2)) },
		"maxK":  func() { MatMul(NewI8(1, MaxK+1), NewI8(MaxK+1, 1)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestXoshiroReference(t *testing.T) {
	// Reference outputs of xoshiro256** for state {1, 2, 3, 4} (from the
	// authors' C code).
	var key [32]byte
	for i := 0; i < 4; i++ {
		binary.LittleEndian.PutUint64(key[8*i:], uint64(i+1))
	}
	x := NewXoshiro(key)
	want := []uint64{11520, 0, 1509978240, 1215971899390074240}
	for i, w := range want {
		if got := x.Next(); got != w {
			t.Fatalf("output %d = %d, want %d", i, got, w)
		}
	}
	// The all-zero key is a fixed point; it must be replaced by s[0] = 1.
	z := NewXoshiro([32]byte{})
	var one [32]byte
	one[0] = 1
	o := NewXoshiro(one)
	for i := 0; i < 4; i++ {
		if a, b := z.Next(), o.Next(); a != b {
			t.Fatalf("zero key output %d = %d, want %d", i, a, b)
		}
	}
}

func TestNoiseEncoding(t *testing.T) {
	key := [32]byte{7}
	m, k, n := 70, 300, 5
	g := Geometry{Tile: 64, Chunk: 128}
	nz := NewNoise(key, m, k, n, g)
	// Signs and permutations: one stream, SA then SB, 64 signs a word, then
	// a Fisher–Yates shuffle per chunk.
	x := NewXoshiro(subKey(key, 'S', 0))
	for _, signs := range [][]int8{nz.SA, nz.SB} {
		for i := 0; i < k; i += 64 {
			w := x.Next()
			for b := 0; b < 64 && i+b < k; b++ {
				if want := int8(1 - 2*int(w>>b&1)); signs[i+b] != want {
					t.Fatalf("sign %d = %d, want %d", i+b, signs[i+b], want)
				}
			}
		}
	}
	if len(nz.Perm) != 3 || len(nz.Perm[2]) != 300-256 {
		t.Fatalf("%d chunks, last of %d", len(nz.Perm), len(nz.Perm[len(nz.Perm)-1]))
	}
	for t0, p := range nz.Perm {
		want := make([]uint8, len(p))
		for i := range want {
			want[i] = uint8(i)
		}
		for i := len(want) - 1; i > 0; i-- {
			j := x.Next() % uint64(i+1)
			want[i], want[j] = want[j], want[i]
		}
		if string(p) != string(want) {
			t.Fatalf("permutation %d differs", t0)
		}
	}
	// Factors: each tile row's EL and tile column's FR from its own stream,
	// eight entries a word, byte q giving (q & 15) − (q >> 4).
	check := func(got []int8, key [32]byte) {
		x := NewXoshiro(key)
		var w uint64
		for i, v := range got {
			if i%8 == 0 {
				w = x.Next()
			}
			q := uint8(w >> (8 * (i % 8)))
			if want := int8(q&15) - int8(q>>4); v != want {
				t.Fatalf("factor entry %d = %d, want %d", i, v, want)
			}
		}
	}
	check(nz.ELRows(1), subKey(key, 'E', 1))
	if len(nz.ELRows(1)) != 6*128 {
		t.Fatal("EL rows of the edge tile")
	}
	check(nz.FRCols(0), subKey(key, 'F', 0))
	seen := map[int8]bool{}
	for _, v := range nz.ELRows(0) {
		seen[v] = true
	}
	if len(seen) != 2*NoiseMax+1 {
		t.Fatalf("EL takes %d distinct values, want %d", len(seen), 2*NoiseMax+1)
	}
	r := RandomI8(key, 3, 4)
	x = NewXoshiro(key)
	for i, v := range r.Data {
		if want := int8(int(x.Next()%255) - 127); v != want {
			t.Fatalf("RandomI8 entry %d = %d, want %d", i, v, want)
		}
	}
}

// TestDenoise holds the protocol's statement that the noised product is the
// useful one: A·B = A'B' − (A·FL)·FR − EL·(ER·B'), exactly.
func TestDenoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct {
		m, k, n int
		g       Geometry
	}{{33, 300, 20, Geometry{16, 128}}, {64, 64, 64, Geometry{64, 64}}, {5, 7, 9, Geometry{4, 3}}} {
		a := randI8(rng, c.m, c.k, -OperandMax, OperandMax)
		b := randI8(rng, c.k, c.n, -OperandMax, OperandMax)
		nz := NewNoise([32]byte{5}, c.m, c.k, c.n, c.g)
		ap, bp := nz.NoisedOperands(a, b)
		for _, v := range append(append([]int8{}, ap.Data...), bp.Data...) {
			if v == -128 {
				t.Fatal("noised operand left int8's symmetric range")
			}
		}
		if got, want := nz.Denoise(naiveMatMul(ap, bp), a, b), naiveMatMul(a, b); !equalI32(got, want) {
			t.Fatalf("%+v: %s", c, firstDiff(got, want))
		}
	}
}

type noisedCase struct {
	m, k, n int
	g       Geometry
}

var noisedCases = []noisedCase{
	{1, 1, 1, Geometry{64, 64}},
	{64, 64, 64, Geometry{64, 64}},
	{100, 70, 130, Geometry{64, 64}},
	{37, 1, 45, Geometry{64, 64}},
	{13, 10, 11, Geometry{8, 4}},
	{20, 33, 17, Geometry{5, 7}},
	{70, 200, 66, Geometry{32, 64}},
	{9, 130, 9, Geometry{64, 1}},
	{30, 300, 40, Geometry{16, 64}},
	{30, 530, 40, Geometry{16, 128}},
	{10, 40, 12, Geometry{8, 8}},
	// b = 64 runs the SIMD kernels: chunks odd, off the step, longer than K,
	// the devnet's 128 and the largest rank.
	{70, 131, 65, Geometry{64, 7}},
	{3, 9, 130, Geometry{64, 3}},
	{129, 200, 5, Geometry{64, 128}},
	{64, 65, 64, Geometry{64, 256}},
	{65, 66, 70, Geometry{64, 64}},
	{20, 30, 80, Geometry{64, 5}},
	{66, 600, 130, Geometry{64, 128}},
	{4, 513, 64, Geometry{64, 256}},
}

func TestNoisedMatMul(t *testing.T) {
	for _, be := range Backends() {
		t.Run(be.Name(), func(t *testing.T) { testNoisedMatMul(t, be) })
	}
}

func testNoisedMatMul(t *testing.T, be Backend) {
	rng := rand.New(rand.NewPCG(3, 4))
	for ci, tc := range noisedCases {
		for _, fill := range []int{0, OperandMax, -OperandMax, 1000} {
			var a, b I8
			nz := NewNoise([32]byte{byte(ci), byte(fill)}, tc.m, tc.k, tc.n, tc.g)
			switch fill {
			case 0:
				a, b = randI8(rng, tc.m, tc.k, -OperandMax, OperandMax), randI8(rng, tc.k, tc.n, -OperandMax, OperandMax)
			case 1000: // no noise (synthetic puzzles): any int8 but −128
				a, b = randI8(rng, tc.m, tc.k, -127, 127), randI8(rng, tc.k, tc.n, -127, 127)
				nz = nil
			default:
				a, b = fillI8(tc.m, tc.k, int8(fill)), fillI8(tc.k, tc.n, int8(fill))
			}
			var mu sync.Mutex
			visited := map[[2]int][32]byte{}
			c, complete := be.NoisedMatMul(a, b, nz, tc.g, func(ti, tj int, d [32]byte) bool {
				mu.Lock()
				defer mu.Unlock()
				if _, dup := visited[[2]int{ti, tj}]; dup {
					t.Errorf("tile (%d, %d) visited twice", ti, tj)
				}
				visited[[2]int{ti, tj}] = d
				return true
			})
			name := fmt.Sprintf("%d×%d×%d %+v fill=%d", tc.m, tc.k, tc.n, tc.g, fill)
			if !complete {
				t.Fatalf("%s: incomplete", name)
			}
			if want := naiveMatMul(a, b); !equalI32(c, want) {
				t.Fatalf("%s: product: %s", name, firstDiff(c, want))
			}
			ref := refTranscript(a, b, nz, tc.g)
			if len(visited) != len(ref) {
				t.Fatalf("%s: visited %d tiles, want %d", name, len(visited), len(ref))
			}
			for ij, want := range ref {
				if visited[ij] != want {
					t.Fatalf("%s: tile %v digest %x, reference %x", name, ij, visited[ij], want)
				}
				if got := be.TileDigest(a, b, nz, tc.g, ij[0], ij[1]); got != want {
					t.Fatalf("%s: TileDigest%v = %x, want %x", name, ij, got, want)
				}
			}
			// The transcript alone visits the same digests.
			only := map[[2]int][32]byte{}
			if !NoisedTranscript(be, a, b, nz, tc.g, func(ti, tj int, d [32]byte) bool {
				mu.Lock()
				defer mu.Unlock()
				only[[2]int{ti, tj}] = d
				return true
			}) || !maps.Equal(only, ref) {
				t.Fatalf("%s: NoisedTranscript digests differ from the reference", name)
			}
		}
	}
}

func TestNoisedMatMulDependsOnNoise(t *testing.T) {
	a, b := RandomI8([32]byte{1}, 64, 64), RandomI8([32]byte{2}, 64, 64)
	a, b = clampI8(a), clampI8(b)
	g := Geometry{Tile: 64, Chunk: 64}
	d1 := TileDigest(a, b, NewNoise([32]byte{3}, 64, 64, 64, g), g, 0, 0)
	d2 := TileDigest(a, b, NewNoise([32]byte{4}, 64, 64, 64, g), g, 0, 0)
	if d1 == d2 {
		t.Fatal("different noise keys gave the same digest")
	}
}

func TestNoisedMatMulEarlyAbort(t *testing.T) {
	for _, be := range Backends() {
		for _, tile := range []int{16, 64} {
			t.Run(fmt.Sprintf("%s/b%d", be.Name(), tile), func(t *testing.T) { testEarlyAbort(t, be, tile) })
		}
	}
}

func testEarlyAbort(t *testing.T, be Backend, tile int) {
	NoisedMatMul, MatMul := be.NoisedMatMul, be.MatMul
	m, k, n := 256, 128, 256
	if tile == 64 {
		m, n = 1024, 1024 // 256 tiles again
	}
	a, b := clampI8(RandomI8([32]byte{1}, m, k)), clampI8(RandomI8([32]byte{2}, k, n))
	g := Geometry{Tile: tile, Chunk: 64} // 256 tiles
	nz := NewNoise([32]byte{3}, m, k, n, g)
	var calls atomic.Int64
	c, complete := NoisedMatMul(a, b, nz, g, func(ti, tj int, d [32]byte) bool {
		return calls.Add(1) < 3
	})
	if complete {
		t.Fatal("complete after the visitor said stop")
	}
	if len(c.Data) != 0 {
		t.Fatal("incomplete product returned data")
	}
	// Each worker may finish the tile it is on, but no new tile starts.
	if got, limit := calls.Load(), int64(3+workers(256)); got > limit {
		t.Fatalf("visitor called %d times after abort, want at most %d", got, limit)
	}
	// A nil visitor is allowed.
	if c, ok := NoisedMatMul(a, b, nz, g, nil); !ok || !equalI32(c, MatMul(a, b)) {
		t.Fatal("nil visitor")
	}
}

func TestNoisedPanics(t *testing.T) {
	a, b := NewI8(8, 8), NewI8(8, 8)
	nz := NewNoise([32]byte{}, 8, 8, 8, Geometry{64, 4})
	for _, be := range Backends() {
		for name, f := range map[string]func(){
			"geometry": func() { be.NoisedMatMul(a, b, nz, Geometry{0, 4}, nil) },
			"noise":    func() { be.NoisedMatMul(a, b, NewNoise([32]byte{}, 8, 8, 9, Geometry{64, 4}), Geometry{64, 4}, nil) },
			"chunk":    func() { be.NoisedMatMul(a, b, nz, Geometry{64, 8}, nil) },
			"tile":     func() { be.TileDigest(a, b, NewNoise([32]byte{}, 8, 8, 8, Geometry{4, 4}), Geometry{4, 4}, 2, 0) },
			"tile64":   func() { be.TileDigest(a, b, nz, Geometry{64, 4}, 1, 0) },
			"rank":     func() { NewNoise([32]byte{}, 8, 8, 8, Geometry{64, MaxRank + 1}) },
			"shape":    func() { be.MatMul(a, NewI8(9, 8)) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s %s: no panic", be.Name(), name)
					}
				}()
				f()
			}()
		}
	}
}

func TestBackends(t *testing.T) {
	all := Backends()
	if last := all[len(all)-1]; last.Name() != "portable" {
		t.Fatalf("last backend is %s, want portable", last.Name())
	}
	if CPU().Name() != all[0].Name() {
		t.Fatal("CPU is not the first backend")
	}
	for _, be := range all {
		if got, err := ByName(be.Name()); err != nil || got.Name() != be.Name() {
			t.Fatalf("ByName(%s) = %v, %v", be.Name(), got, err)
		}
		if d := Describe(be); !strings.HasPrefix(d, be.Name()+": ") {
			t.Fatalf("Describe = %q", d)
		}
	}
	if _, err := ByName("nope"); err == nil {
		t.Fatal("ByName(nope) succeeded")
	}
	// Hiding every SIMD backend forces the portable one.
	var names []string
	for _, be := range simdBackends() {
		names = append(names, be.Name())
	}
	t.Setenv(DisableEnv, strings.Join(names, ","))
	if got := Backends(); len(got) != 1 || CPU().Name() != "portable" {
		t.Fatalf("with %s=%v: %d backends, CPU %s", DisableEnv, names, len(got), CPU().Name())
	}
	if len(names) > 0 {
		if _, err := ByName(names[0]); err == nil {
			t.Fatalf("ByName(%s) found a disabled backend", names[0])
		}
	}
}

func TestGeometry(t *testing.T) {
	g := Geometry{Tile: 64, Chunk: 64}
	if ti, tj := g.Tiles(100, 130); ti != 2 || tj != 3 {
		t.Fatalf("Tiles = %d, %d", ti, tj)
	}
	if h, w := g.TileShape(100, 130, 1, 2); h != 36 || w != 2 {
		t.Fatalf("TileShape = %d, %d", h, w)
	}
	if g.Validate() != nil || (Geometry{Tile: 64}).Validate() == nil {
		t.Fatal("Validate")
	}
}

func TestFreivalds(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	seed := [32]byte{9}
	for _, s := range shapes {
		a, b := randI8(rng, s[0], s[1], -127, 127), randI8(rng, s[1], s[2], -127, 127)
		c := MatMul(a, b)
		if !Freivalds(a, b, c, seed, 2) {
			t.Fatalf("%v: true product rejected", s)
		}
		// Corrupt single entries, including by ±1 and at the extremes.
		for _, delta := range []int32{1, -1, 1 << 30, -7} {
			idx := rng.IntN(len(c.Data))
			bad := I32{Rows: c.Rows, Cols: c.Cols, Data: append([]int32(nil), c.Data...)}
			bad.Data[idx] += delta
			if Freivalds(a, b, bad, seed, 2) {
				t.Fatalf("%v: corruption %+d at %d accepted", s, delta, idx)
			}
		}
	}
	a, b := fillI8(20, 30, -127), fillI8(30, 10, 127)
	c := MatMul(a, b)
	if !Freivalds(a, b, c, seed, 1) {
		t.Fatal("extreme product rejected")
	}
	if Freivalds(a, b, I32{Rows: 10, Cols: 20, Data: c.Data}, seed, 2) {
		t.Fatal("transposed shape accepted")
	}
	if Freivalds(a, b, I32{Rows: 20, Cols: 10, Data: c.Data[:199]}, seed, 2) {
		t.Fatal("short data accepted")
	}
	if Freivalds(a, NewI8(31, 10), c, seed, 2) {
		t.Fatal("inner mismatch accepted")
	}
	if Freivalds(a, b, c, seed, 0) {
		t.Fatal("zero rounds accepted")
	}
}

func TestMulMod(t *testing.T) {
	cases := [][3]uint64{
		{p61 - 1, p61 - 1, 1},
		{p61 - 1, 2, p61 - 2},
		{1 << 60, 2, 1},
		{1 << 60, 4, 2},
		{0, p61 - 1, 0},
		{123456789, 987654321, 123456789 * 987654321 % p61},
	}
	for _, c := range cases {
		if got := mulMod(c[0], c[1]); got != c[2] {
			t.Errorf("mulMod(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
	if fieldOf(-1) != p61-1 || fieldOf(5) != 5 {
		t.Error("fieldOf")
	}
}

func TestDotFieldMatchesMulMod(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 5, 1000} {
		x := make([]uint64, n)
		var sx uint64
		for j := range x {
			x[j] = rng.Uint64() % p61
			if j == 0 {
				x[j] = p61 - 1
			}
			sx = addMod(sx, x[j])
		}
		r8 := make([]int8, n)
		r32 := make([]int32, n)
		var w8, w32 uint64
		for j := range x {
			r8[j] = int8(rng.IntN(256) - 128)
			r32[j] = int32(rng.Uint32())
			if j == 0 {
				r32[j] = -1 << 31
			}
			w8 = addMod(w8, mulMod(fieldOf(int64(r8[j])), x[j]))
			w32 = addMod(w32, mulMod(fieldOf(int64(r32[j])), x[j]))
		}
		if got := dotField(r8, x, int8Bias, mulMod(int8Bias, sx)); got != w8 {
			t.Fatalf("int8 n=%d: %d, want %d", n, got, w8)
		}
		if got := dotField(r32, x, int32Bias, mulMod(int32Bias, sx)); got != w32 {
			t.Fatalf("int32 n=%d: %d, want %d", n, got, w32)
		}
	}
}

func TestXoshiroFillMatchesNext(t *testing.T) {
	key := [32]byte{9, 8, 7}
	a, b := NewXoshiro(key), NewXoshiro(key)
	buf := make([]uint64, 1000)
	a.Fill(buf[:3])
	a.Fill(buf[3:])
	for i, v := range buf {
		if w := b.Next(); v != w {
			t.Fatalf("draw %d: Fill %x, Next %x", i, v, w)
		}
	}
	if a.Next() != b.Next() {
		t.Fatal("state diverged after Fill")
	}
}
