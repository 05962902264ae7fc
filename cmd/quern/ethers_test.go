package main

// ethers.js against the real binary: the eth_ JSON-RPC namespace and
// standard signed Ethereum transfers (docs/protocol.md §13), driven by the
// npm package that wallets and dapps use. Needs node and npm; without them,
// or without the network for `npm ci`, the test skips and says why.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// ethersDir holds package.json, package-lock.json (ethers pinned) and the
// script; node_modules is installed there by `npm ci` (not committed).
const ethersDir = "testdata/ethers"

// ensureEthers installs the locked npm dependencies if they are missing, and
// skips the test when node, npm or the registry is not available.
func ensureEthers(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("ethers.js test skipped: %s not found on PATH (install Node.js 20 and npm)", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(ethersDir, "node_modules", "ethers", "package.json")); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--prefix", ethersDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Skipf("ethers.js test skipped: `npm ci --prefix %s` failed (no network to the npm registry?): %v\n%s", ethersDir, err, out.String())
	}
}

func TestEthersTransfer(t *testing.T) {
	if e2eSkip != "" {
		t.Skip("end-to-end tests skipped with " + e2eSkip)
	}
	ensureEthers(t)
	dir := t.TempDir()
	n := startNode(t, "miner", "--dev", "--mine", "--datadir", filepath.Join(dir, "n"), "--rpc.addr", "127.0.0.1:0",
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0")
	n.waitHeight(1, 90*time.Second)

	to := common.HexToAddress("0x00000000000000000000000000000000e7e75001")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(ethersDir, "send.mjs"))
	cmd.Env = append(os.Environ(), "QUERN_RPC="+n.rpc, "QUERN_KEY=0x"+chain.DevKeyHex, "QUERN_TO="+to.Hex())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node send.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var res struct {
		ChainID, From, Before, GasPrice, BaseFeePerGas, FetchedFrom, ToBalance string
		Tx1559                                                                 struct {
			Hash         string
			Type, Status int
			Block        uint64
			GasUsed, Fee string
		}
		TxLegacy struct {
			Hash         string
			Type, Status int
			Block        uint64
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &res); err != nil {
		t.Fatalf("send.mjs printed %q: %v", stdout.String(), err)
	}
	t.Logf("ethers: %+v", res)

	dev := chain.DevAddress()
	if res.ChainID != "7357" || !strings.EqualFold(res.From, dev.Hex()) || !strings.EqualFold(res.FetchedFrom, dev.Hex()) {
		t.Fatalf("chain id %s, from %s (fetched %s), want 7357 and %s", res.ChainID, res.From, res.FetchedFrom, dev.Hex())
	}
	if _, err := uint256.FromDecimal(res.Before); err != nil || res.Before == "0" {
		t.Fatalf("dev balance read by ethers: %q", res.Before)
	}
	g := chain.DevGenesis()
	base := types.EthBaseFee(&g.Config)
	if res.GasPrice != base.Dec() || res.BaseFeePerGas != base.Dec() {
		t.Fatalf("gas price %s, base fee %s, want %s", res.GasPrice, res.BaseFeePerGas, base)
	}
	wantFee := new(uint256.Int).Mul(base, uint256.NewInt(21000))
	if res.Tx1559.Type != 2 || res.Tx1559.Status != 1 || res.Tx1559.GasUsed != "21000" || res.Tx1559.Fee != wantFee.Dec() {
		t.Fatalf("EIP-1559 receipt: %+v, want type 2, status 1, fee %s", res.Tx1559, wantFee)
	}
	if res.TxLegacy.Type != 0 || res.TxLegacy.Status != 1 {
		t.Fatalf("legacy receipt: %+v", res.TxLegacy)
	}
	if res.ToBalance != "1750000000000000000" {
		t.Fatalf("recipient balance read by ethers: %s, want 1.75 QRN", res.ToBalance)
	}

	// quern's own tools agree: the CLI's balance, and the tx status by the
	// Ethereum hash ethers computed.
	if got := runQuern(t, "wallet", "balance", "--rpc", n.rpc, to.Hex()); got != "1.75 QRN" {
		t.Fatalf("quern wallet balance: %q, want 1.75 QRN", got)
	}
	if got := runQuern(t, "tx", "status", "--rpc", n.rpc, res.Tx1559.Hash); !strings.Contains(got, "mined") {
		t.Fatalf("quern tx status %s: %q", res.Tx1559.Hash, got)
	}
}
