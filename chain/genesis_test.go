package chain_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

func TestDevGenesis(t *testing.T) {
	g := chain.DevGenesis()
	if g.Config.ChainID != 7357 || g.Config.Network != "dev" || g.Config.TargetBlockMs != 2000 {
		t.Fatalf("dev params: %+v", g.Config)
	}
	if !g.Config.Subsidy.Eq(qrn(10)) || !g.Config.MinTxFee.Eq(uint256.NewInt(1e15)) {
		t.Fatalf("dev amounts: subsidy %s minTxFee %s", g.Config.Subsidy, g.Config.MinTxFee)
	}
	if crypto.PubkeyToAddress(chain.DevKey().PublicKey) != chain.DevAddress() {
		t.Fatal("dev key and address disagree")
	}
	if want := crypto.Keccak256Hash([]byte("quern devnet insecure dev key")).Hex()[2:]; chain.DevKeyHex != want {
		t.Fatalf("DevKeyHex %s, want %s", chain.DevKeyHex, want)
	}
	bal := g.Alloc[chain.DevAddress()]
	if want := qrn(1_000_000); bal == nil || !bal.Eq(want) {
		t.Fatalf("dev balance %v, want %s", bal, want)
	}
	b, st := g.ToBlock()
	if b.Number() != 0 || b.Header.Time != g.Timestamp || b.Header.Difficulty != g.Config.InitialDifficulty {
		t.Fatalf("genesis header %+v", b.Header)
	}
	if b.Header.TxRoot != types.EmptyRoot || b.Header.ResultRoot != types.EmptyRoot || b.Header.StateRoot != st.Root() {
		t.Fatal("genesis roots")
	}
	if b.Header.ParentHash != chain.ParamsHash(&g.Config) {
		t.Fatal("genesis parent hash must commit to the params")
	}
	// Another parameter set gives another genesis.
	g2 := chain.DevGenesis()
	g2.Config.Subsidy = qrn(11)
	if b2, _ := g2.ToBlock(); b2.Hash() == b.Hash() {
		t.Fatal("changing the subsidy kept the genesis hash")
	}
}

func TestLoadGenesis(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"config":{"chainId":9,"network":"t","targetBlockMs":1000,"initialDifficulty":5,"minDifficulty":1,
"retargetDivisor":8,"tileSize":64,"chunkSize":64,"syntheticChunkSize":64,"noiseRank":64,"syntheticDim":64,"subsidy":"10","minTxFee":"1",
"baseFeeFactor":1,"maxJobInputBytes":1000,"maxJobResultBytes":4000,"maxJobWork":1000000,"maxJobMemoryBytes":1000000000,
"maxJobLifetime":100,"jobByteFee":"1","maxBlockBytes":100000,"trainCheckpointInterval":4,"trainSamples":2,
"maxTrainSteps":64,"maxTrainBatch":8,"maxTrainWidth":16,"maxTrainLayers":3,"maxBlockTxs":10,"maxBlockResults":2,"freivaldsRounds":2,
"resultRetention":0,"maxFutureMs":15000,"medianTimeSpan":11},"timestamp":1000,
"alloc":{"0x3eaa0eb0eF2725AB5962BcddE5D5D5e6f08ba901":"0x10"}}`
	g, err := chain.LoadGenesis(write("good.json", good))
	if err != nil {
		t.Fatal(err)
	}
	if v := g.Alloc[chain.DevAddress()]; v == nil || v.Uint64() != 16 || g.Config.ChainID != 9 {
		t.Fatalf("loaded %+v", g)
	}
	for name, body := range map[string]string{
		"typo.json":     strings.Replace(good, `"subsidy"`, `"subsidyy"`, 1),
		"nochain.json":  strings.Replace(good, `"chainId":9`, `"chainId":0`, 1),
		"notime.json":   strings.Replace(good, `"timestamp":1000`, `"timestamp":0`, 1),
		"badjson.json":  good[:40],
		"badalloc.json": strings.Replace(good, `"0x10"`, `"ten"`, 1),
	} {
		if _, err := chain.LoadGenesis(write(name, body)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want an error naming the file", name, err)
		}
	}
	if _, err := chain.LoadGenesis(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestOpenReopenMismatch(t *testing.T) {
	h := newHarness(t)
	gen := h.c.Genesis()
	if h.c.CurrentBlock().Hash() != gen.Hash() || h.c.GetBlockByNumber(0).Hash() != gen.Hash() {
		t.Fatal("head is not genesis")
	}
	if !h.balance(addr1).Eq(qrn(1000)) {
		t.Fatalf("alloc balance %s", h.balance(addr1))
	}
	if td := h.c.CurrentTD(); td.Uint64() != gen.Header.Difficulty {
		t.Fatalf("genesis td %s", td)
	}
	b := h.mine(miner1, nil)
	h.reopen()
	if h.c.CurrentBlock().Hash() != b.Hash() || h.c.Genesis().Hash() != gen.Hash() {
		t.Fatal("reopen lost the head")
	}
	h.c.Close()
	h.c = nil

	other := testGenesis()
	other.Config.ChainID = 99
	_, err := chain.Open(h.dir, other, testEngine{}, nil)
	ob, _ := other.ToBlock()
	if err == nil || !strings.Contains(err.Error(), gen.Hash().Hex()) || !strings.Contains(err.Error(), ob.Hash().Hex()) {
		t.Fatalf("mismatched genesis: got %v, want an error naming both hashes", err)
	}
	h.open() // the right genesis still opens
}

// FuzzLoadGenesis: a genesis file a user passes with --genesis never
// panics, and one accepted validates and builds a genesis block.
func FuzzLoadGenesis(f *testing.F) {
	dev, err := os.ReadFile("dev.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dev)
	f.Add([]byte(`{"config":{},"timestamp":0,"alloc":{}}`))
	f.Add([]byte(`{"config":{"chainId":1},"alloc":{"0x00":"-1"}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "genesis.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		g, err := chain.LoadGenesis(path)
		if err != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("LoadGenesis accepted a genesis that does not validate: %v", err)
		}
		g.ToBlock()
	})
}
