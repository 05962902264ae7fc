package chain_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

const crashDirEnv = "QUERN_CHAIN_CRASH_DIR"

// TestCrashReopen imports blocks in a child process that exits without
// closing the database, then reopens the datadir: head, canonical index and
// state root must be the child's last.
func TestCrashReopen(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashReopen$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var head, root string
	var number uint64
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "CRASHED ") {
			fmt.Sscan(strings.TrimPrefix(line, "CRASHED "), &number, &head, &root)
		}
	}
	if head == "" {
		t.Fatalf("child printed no head:\n%s", out)
	}
	h := &harness{t: t, dir: dir, g: testGenesis()}
	h.nowMs.Store(genesisTimeMs + 24*3600*1000)
	h.open()
	defer h.c.Close()
	cur := h.c.CurrentBlock()
	if cur.Number() != number || cur.Hash().Hex() != head || h.c.State().Root().Hex() != root {
		t.Fatalf("reopened at %d %s root %s, child had %d %s root %s", cur.Number(), cur.Hash().Hex(), h.c.State().Root().Hex(), number, head, root)
	}
	if h.c.GetBlockByNumber(number).Hash() != cur.Hash() || h.c.State().Account(addr1).Nonce != number {
		t.Fatal("canonical index or nonces lost")
	}
	h.mine(miner1, []*types.Tx{transfer(t, key1, number, addr2, qrn(1))}) // and it goes on
}

// TestOpenSyncsWrites: the store fsyncs every commit, so a block
// InsertBlock accepted (and the node may have announced) survives a power
// cut (docs/protocol.md §10a). TestCrashReopen cannot show that: a killed
// process leaves its writes in the OS page cache, which a power cut drops.
func TestOpenSyncsWrites(t *testing.T) {
	h := newHarness(t)
	if !chain.SyncWrites(h.c) {
		t.Fatal("chain.Open left badger's SyncWrites off: accepted blocks could be lost to a power cut")
	}
}

func crashChild(t *testing.T, dir string) {
	h := &harness{t: t, dir: dir, g: testGenesis()}
	h.nowMs.Store(genesisTimeMs + 24*3600*1000)
	h.open()
	var b *types.Block
	for i := range uint64(5) {
		b = h.mine(miner1, []*types.Tx{transfer(t, key1, i, addr2, qrn(1))})
	}
	fmt.Printf("CRASHED %d %s %s\n", b.Number(), b.Hash().Hex(), h.c.State().Root().Hex())
	os.Exit(0) // no Close: the database is left as a crash would leave it
}
