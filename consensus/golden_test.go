package consensus

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/ticket_v2.json")

// goldenTicket pins seed, workRef, noise, tile digest and ticket for the
// devnet geometry: any change to these encodings is a hard fork, and every
// compute backend must reproduce the digests bit for bit.
type goldenTicket struct {
	Name       string         `json:"name"`
	Parent     common.Hash    `json:"parent"`
	Coinbase   common.Address `json:"coinbase"`
	Nonce      uint64         `json:"nonce"`
	Work       types.Work     `json:"work"`
	Dim        int            `json:"dim"`
	Tile       int            `json:"tile"`
	Chunk      int            `json:"chunk"`
	Noised     bool           `json:"noised"` // job geometry: operands clipped to ±OperandMax, noise of rank = chunk
	TileI      uint32         `json:"tileI"`
	TileJ      uint32         `json:"tileJ"`
	Seed       common.Hash    `json:"seed"`
	WorkRef    common.Hash    `json:"workRef"`
	TileDigest common.Hash    `json:"tileDigest"`
	Ticket     common.Hash    `json:"ticket"`
	TileWork   uint64         `json:"tileWork"`
}

func (g *goldenTicket) compute() {
	g.Seed = Seed(g.Parent, g.Coinbase, g.Nonce)
	g.WorkRef = g.Work.Ref()
	a, b := SyntheticOperands(g.Seed, g.Dim)
	geo := compute.Geometry{Tile: g.Tile, Chunk: g.Chunk}
	var nz *compute.Noise
	if g.Noised {
		for _, m := range []compute.I8{a, b} {
			for i, v := range m.Data {
				m.Data[i] = max(-compute.OperandMax, min(compute.OperandMax, v))
			}
		}
		nz = compute.NewNoise(NoiseKey(g.Seed, g.WorkRef), g.Dim, g.Dim, g.Dim, geo)
	}
	g.TileDigest = compute.Portable().TileDigest(a, b, nz, geo, int(g.TileI), int(g.TileJ))
	g.Ticket = Ticket(g.Seed, g.WorkRef, g.TileI, g.TileJ, g.TileDigest)
	g.TileWork = TileWork(g.Dim, g.Dim, g.Dim, g.Tile, g.TileI, g.TileJ)
}

func TestGoldenTickets(t *testing.T) {
	path := filepath.Join("..", "testdata", "golden", "ticket_v2.json")
	if *update {
		parent, cb := types.Keccak([]byte("quern/golden/parent")), common.HexToAddress("0x00000000000000000000000000000000000c0ffe")
		job := types.Work{JobID: types.Keccak([]byte("quern/golden/job"))}
		cases := []goldenTicket{
			{Name: "synthetic, tile (0,0)", Parent: parent, Coinbase: cb, Nonce: 42, Dim: 512, Tile: 64, Chunk: 512},
			{Name: "synthetic, last tile", Parent: parent, Coinbase: cb, Nonce: 1<<64 - 1, Dim: 512, Tile: 64, Chunk: 512, TileI: 7, TileJ: 7},
			{Name: "job geometry, tile (2,5)", Parent: parent, Coinbase: cb, Nonce: 7, Work: job, Dim: 512, Tile: 64, Chunk: 256, Noised: true, TileI: 2, TileJ: 5},
			{Name: "edge tiles, odd chunk", Parent: common.Hash{}, Coinbase: common.Address{}, Nonce: 0, Work: job, Dim: 100, Tile: 64, Chunk: 48, Noised: true, TileI: 1, TileJ: 1},
		}
		for i := range cases {
			cases[i].compute()
		}
		b, err := json.MarshalIndent(cases, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./consensus -run Golden -update)", err)
	}
	var cases []goldenTicket
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases")
	}
	for _, want := range cases {
		got := want
		got.compute()
		if got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", want.Name, got, want)
		}
	}
}
