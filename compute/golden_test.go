package compute

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

var update = flag.Bool("update", false, "regenerate testdata/golden/transcript_v2.json")

const goldenPath = "../testdata/golden/transcript_v2.json"

// goldenFile is the frozen contract of the noised product: every backend must
// reproduce C's hash and every tile digest of every case.
type goldenFile struct {
	Comment string       `json:"comment"`
	Cases   []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name     string         `json:"name"`
	M        int            `json:"m"`
	K        int            `json:"k"`
	N        int            `json:"n"`
	Tile     int            `json:"tile"`
	Chunk    int            `json:"chunk"`
	NoiseKey string         `json:"noise_key"` // "": no noise (a synthetic puzzle's product)
	A        goldenInput    `json:"a"`
	B        goldenInput    `json:"b"`
	CKeccak  string         `json:"c_keccak"`
	Tiles    []goldenDigest `json:"tiles"`
}

// goldenInput is either RandomI8(Key, rows, cols) clipped to ±Clip (when
// Clip is set), Key = Keccak-256(Name), or a constant Fill.
type goldenInput struct {
	Name string `json:"name,omitempty"`
	Key  string `json:"key,omitempty"`
	Fill *int8  `json:"fill,omitempty"`
	Clip int    `json:"clip,omitempty"`
}

type goldenDigest struct {
	I      int    `json:"i"`
	J      int    `json:"j"`
	Digest string `json:"digest"`
}

func namedKey(name string) string { return hex.EncodeToString(crypto.Keccak256([]byte(name))) }

func fill(v int8) goldenInput { return goldenInput{Fill: &v} }

// goldenSpecs lists the cases; keys are Keccak-256 of readable names.
func goldenSpecs() []goldenCase {
	const v = "quern/golden/v2/"
	spec := func(name string, m, k, n, tile, chunk int, a, b goldenInput) goldenCase {
		return goldenCase{Name: name, M: m, K: k, N: n, Tile: tile, Chunk: chunk,
			NoiseKey: namedKey(v + name + "/noise"), A: a, B: b}
	}
	rnd := func(name, which string) goldenInput {
		n := v + name + "/" + which
		return goldenInput{Name: n, Key: namedKey(n), Clip: OperandMax}
	}
	var cs []goldenCase
	for _, c := range []struct {
		name                 string
		m, k, n, tile, chunk int
	}{
		{"64x64x64", 64, 64, 64, 64, 64},
		{"100x70x130", 100, 70, 130, 64, 64},
		{"k1", 37, 1, 45, 64, 128},
		{"200x300x150", 200, 300, 150, 64, 128},
		{"devnet-130x600x70", 130, 600, 70, 64, 128},
		{"r256-66x700x65", 66, 700, 65, 64, 256},
		{"tiny-b8-c4", 13, 10, 11, 8, 4},
		{"b5-c7", 20, 33, 17, 5, 7},
	} {
		cs = append(cs, spec(c.name, c.m, c.k, c.n, c.tile, c.chunk, rnd(c.name, "A"), rnd(c.name, "B")))
	}
	cs = append(cs,
		spec("all+112", 70, 130, 66, 64, 128, fill(OperandMax), fill(OperandMax)),
		spec("all-112", 70, 130, 66, 64, 128, fill(-OperandMax), fill(-OperandMax)),
		spec("+112x-112", 65, 129, 64, 64, 64, fill(OperandMax), fill(-OperandMax)),
		spec("zero-job", 65, 300, 70, 64, 128, fill(0), fill(0)),
		// K = MaxK: the longest transcript (512 chunks) and the largest sums.
		spec("k65536", 3, 65536, 5, 64, 128, rnd("k65536", "A"), rnd("k65536", "B")),
		spec("k65536-112", 2, 65536, 3, 64, 128, fill(-OperandMax), fill(-OperandMax)))
	// Synthetic puzzles' products: no noise, operands anywhere in [−127, 127].
	syn := spec("synthetic-70x1100x66", 70, 1100, 66, 64, 512, rnd("synthetic", "A"), rnd("synthetic", "B"))
	syn.NoiseKey, syn.A.Clip, syn.B.Clip = "", 0, 0
	cs = append(cs, syn)
	return cs
}

// noise returns the case's noise (nil without a key).
func (c goldenCase) noise(t *testing.T) *Noise {
	if c.NoiseKey == "" {
		return nil
	}
	return NewNoise(hexKey(t, c.NoiseKey), c.M, c.K, c.N, Geometry{c.Tile, c.Chunk})
}

func (in goldenInput) matrix(t *testing.T, rows, cols int) I8 {
	if in.Fill != nil {
		return fillI8(rows, cols, *in.Fill)
	}
	if in.Name != "" && namedKey(in.Name) != in.Key {
		t.Fatalf("input key %s is not Keccak-256(%q)", in.Key, in.Name)
	}
	m := RandomI8(hexKey(t, in.Key), rows, cols)
	if in.Clip > 0 {
		for i, v := range m.Data {
			m.Data[i] = int8(max(-in.Clip, min(in.Clip, int(v))))
		}
	}
	return m
}

func hexKey(t *testing.T, s string) [32]byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad key %q", s)
	}
	return [32]byte(b)
}

// resultHash is Keccak-256 of C as int32 little-endian, row-major.
func resultHash(c I32) string {
	buf := make([]byte, 4*len(c.Data))
	for i, v := range c.Data {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(v))
	}
	return hex.EncodeToString(crypto.Keccak256(buf))
}

// computeGolden fills the outputs of a case from the reference definitions,
// checking the fast path against them on the way.
func computeGolden(t *testing.T, be Backend, c goldenCase) goldenCase {
	a, b := c.A.matrix(t, c.M, c.K), c.B.matrix(t, c.K, c.N)
	nz := c.noise(t)
	g := Geometry{Tile: c.Tile, Chunk: c.Chunk}
	digests := make(map[[2]int][32]byte)
	var mu sync.Mutex
	prod, ok := be.NoisedMatMul(a, b, nz, g, func(ti, tj int, d [32]byte) bool {
		mu.Lock()
		digests[[2]int{ti, tj}] = d
		mu.Unlock()
		return true
	})
	if !ok {
		t.Fatalf("%s: incomplete", c.Name)
	}
	if want := naiveMatMul(a, b); !equalI32(prod, want) {
		t.Fatalf("%s: %s", c.Name, firstDiff(prod, want))
	}
	if !equalI32(be.MatMul(a, b), prod) {
		t.Fatalf("%s: MatMul and NoisedMatMul disagree", c.Name)
	}
	into := dirtyI32(c.M, c.N)
	if MatMulInto(be, into, a, b); !equalI32(into, prod) {
		t.Fatalf("%s: MatMulInto and NoisedMatMul disagree", c.Name)
	}
	out := c
	out.CKeccak = resultHash(prod)
	out.Tiles = nil
	ti, tj := g.Tiles(c.M, c.N)
	for i := 0; i < ti; i++ {
		for j := 0; j < tj; j++ {
			d, seen := digests[[2]int{i, j}]
			if !seen {
				t.Fatalf("%s: tile (%d, %d) not visited", c.Name, i, j)
			}
			if td := be.TileDigest(a, b, nz, g, i, j); td != d {
				t.Fatalf("%s: TileDigest(%d, %d) differs from the visited digest", c.Name, i, j)
			}
			out.Tiles = append(out.Tiles, goldenDigest{i, j, hex.EncodeToString(d[:])})
		}
	}
	if len(digests) != ti*tj {
		t.Fatalf("%s: %d digests for %d tiles", c.Name, len(digests), ti*tj)
	}
	return out
}

func TestGoldenTranscript(t *testing.T) {
	if *update {
		f := goldenFile{
			Comment: "Noised product transcript v2 (docs/protocol.md §3). Inputs: RandomI8(key) clipped to ±clip, or a constant fill; " +
				"noise: NewNoise(noise_key, m, k, n, {tile, chunk}), rank = chunk; no noise_key: no noise; c_keccak: Keccak-256 of C = A·B as int32 little-endian row-major; " +
				"tiles: every tile digest. Regenerate only with `go test ./compute -run Golden -update` and a protocol version bump.",
		}
		for _, c := range goldenSpecs() {
			out := computeGolden(t, Portable(), c)
			// The reference transcript decides what gets frozen, not the fast path.
			ref := refTranscript(c.A.matrix(t, c.M, c.K), c.B.matrix(t, c.K, c.N),
				c.noise(t), Geometry{c.Tile, c.Chunk})
			for _, d := range out.Tiles {
				if r := ref[[2]int{d.I, d.J}]; hex.EncodeToString(r[:]) != d.Digest {
					t.Fatalf("%s: tile (%d, %d) disagrees with the reference", c.Name, d.I, d.J)
				}
			}
			f.Cases = append(f.Cases, out)
		}
		data, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", goldenPath)
		return
	}
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (generate with -update)", err)
	}
	var f goldenFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no golden cases")
	}
	for _, be := range Backends() {
		t.Run(be.Name(), func(t *testing.T) { checkGolden(t, be, f) })
	}
}

func checkGolden(t *testing.T, be Backend, f goldenFile) {
	for _, want := range f.Cases {
		got := computeGolden(t, be, want)
		if got.CKeccak != want.CKeccak {
			t.Errorf("%s: c_keccak %s, golden %s", want.Name, got.CKeccak, want.CKeccak)
		}
		if len(got.Tiles) != len(want.Tiles) {
			t.Errorf("%s: %d tiles, golden %d", want.Name, len(got.Tiles), len(want.Tiles))
			continue
		}
		for i := range got.Tiles {
			if got.Tiles[i] != want.Tiles[i] {
				t.Errorf("%s: tile %+v, golden %+v", want.Name, got.Tiles[i], want.Tiles[i])
			}
		}
	}
}
