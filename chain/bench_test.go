package chain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// BenchmarkInsert imports a pre-built chain into a fresh datadir (full
// validation and storage; seals accepted), with badger fsyncing every commit
// (syncwrites=on, what chain.Open does) and without (off), side by side, on
// empty blocks and on blocks of 1000 transfers (the devnet's cap).
func BenchmarkInsert(b *testing.B) {
	for _, txsPerBlock := range []int{0, 1000} {
		blocks := 64
		if txsPerBlock > 100 {
			blocks = 8 // signing 1000 transfers a block dominates the setup
		}
		chainBlocks := importChain(b, blocks, txsPerBlock)
		for _, sync := range []bool{false, true} {
			name := fmt.Sprintf("syncwrites=%s/txs=%d", map[bool]string{false: "off", true: "on"}[sync], txsPerBlock)
			b.Run(name, func(b *testing.B) { benchImport(b, chainBlocks, txsPerBlock, sync) })
		}
	}
}

// importChain mines blocks of txsPerBlock 1-wei transfers on a scratch chain.
func importChain(b *testing.B, blocks, txsPerBlock int) []*types.Block {
	src := newHarness(b)
	var out []*types.Block
	nonce := uint64(0)
	for range blocks {
		txs := make([]*types.Tx, txsPerBlock)
		for i := range txs {
			txs[i] = transfer(b, key1, nonce, addr2, uint256.NewInt(1))
			nonce++
		}
		out = append(out, src.mine(miner1, txs))
	}
	return out
}

func benchImport(b *testing.B, blocks []*types.Block, txsPerBlock int, syncWrites bool) {
	nowMs := genesisTimeMs + 24*3600*1000
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		c, err := chain.OpenWithSyncWrites(b.TempDir(), testGenesis(), testEngine{}, syncWrites)
		if err != nil {
			b.Fatal(err)
		}
		chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(nowMs)) })
		b.StartTimer()
		start := time.Now()
		for _, blk := range blocks {
			if err := c.InsertBlock(blk); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(start)
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(blocks)*b.N)/elapsed.Seconds(), "blocks/s")
	if txsPerBlock > 0 {
		b.ReportMetric(float64(len(blocks)*txsPerBlock*b.N)/elapsed.Seconds(), "txs/s")
	}
}
