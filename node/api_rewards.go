package node

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
)

// minedCounter counts the canonical blocks each coinbase mined, for
// quern_minerRewards' "blocks" (it was never set, so `quern wallet rewards`
// printed "blocks: 0" on a busy miner). The chain keeps no such index: the
// count is made by reading canonical headers once and then only those added
// since, per address; a reorg below the last counted block recounts.
type minedCounter struct {
	mu     sync.Mutex
	counts *lru.Cache[common.Address, minedCount]
}

// minedCount: blocks mined in [1, upTo] on the chain whose block upTo is hash.
type minedCount struct {
	upTo   uint64
	hash   common.Hash
	blocks uint64
}

const minedCacheSize = 64

// minedBlocks is the number of canonical blocks (genesis excluded) whose
// coinbase is addr.
func (api *API) minedBlocks(addr common.Address) uint64 {
	mc := &api.mined
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.counts == nil {
		mc.counts = lru.NewCache[common.Address, minedCount](minedCacheSize)
	}
	c := api.n.chain
	head := c.CurrentBlock()
	cnt, ok := mc.counts.Get(addr)
	if ok {
		if h, found := c.CanonicalHash(cnt.upTo); !found || h != cnt.hash || cnt.upTo > head.Number() {
			cnt = minedCount{} // reorged: count again
		}
	}
	for n := cnt.upTo + 1; n <= head.Number(); n++ {
		h, found := c.CanonicalHash(n)
		if !found {
			break
		}
		hdr := c.GetHeader(h)
		if hdr == nil {
			break
		}
		if hdr.Coinbase == addr {
			cnt.blocks++
		}
		cnt.upTo, cnt.hash = n, h
	}
	mc.counts.Add(addr, cnt)
	return cnt.blocks
}
