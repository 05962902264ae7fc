package chain_test

import (
	"testing"
	"time"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// BenchmarkInsert imports a pre-built chain of blocks with a few transfers
// each into a fresh datadir (full validation and storage; seals accepted).
func BenchmarkInsert(b *testing.B) {
	const blocks, txsPerBlock = 64, 4
	src := newHarness(b)
	var chainBlocks []*types.Block
	nonce := uint64(0)
	for range blocks {
		txs := make([]*types.Tx, txsPerBlock)
		for i := range txs {
			txs[i] = transfer(b, key1, nonce, addr2, qrn(1))
			nonce++
		}
		chainBlocks = append(chainBlocks, src.mine(miner1, txs))
	}
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		c, err := chain.Open(b.TempDir(), src.g, testEngine{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		chain.SetClock(c, func() time.Time { return time.UnixMilli(int64(src.nowMs.Load())) })
		b.StartTimer()
		start := time.Now()
		for _, blk := range chainBlocks {
			if err := c.InsertBlock(blk); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(start)
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(blocks*b.N)/elapsed.Seconds(), "blocks/s")
	b.ReportMetric(float64(blocks*txsPerBlock*b.N)/elapsed.Seconds(), "txs/s")
}
