package p2p

import (
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// fakeChain keeps blocks in maps and accepts any block whose parent it
// knows; the heaviest chain (sum of header difficulties) is canonical.
type fakeChain struct {
	mu      sync.Mutex
	genesis *types.Block
	blocks  map[common.Hash]*types.Block
	td      map[common.Hash]*uint256.Int
	canon   map[uint64]common.Hash
	head    *types.Block
	reject  map[common.Hash]bool // InsertBlock answers a RuleError
	calls   map[common.Hash]int  // InsertBlock calls per block
}

func newFakeChain(genesis *types.Block) *fakeChain {
	h := genesis.Hash()
	return &fakeChain{
		genesis: genesis,
		blocks:  map[common.Hash]*types.Block{h: genesis},
		td:      map[common.Hash]*uint256.Int{h: uint256.NewInt(genesis.Header.Difficulty)},
		canon:   map[uint64]common.Hash{0: h},
		head:    genesis,
		reject:  map[common.Hash]bool{},
		calls:   map[common.Hash]int{},
	}
}

func (c *fakeChain) Genesis() *types.Block { return c.genesis }

// Params are the devnet's: the wire caps derive from them.
func (c *fakeChain) Params() *types.Params { return devParams() }

func devParams() *types.Params {
	p := chain.DevGenesis().Config
	return &p
}

// testCaps are the wire caps the services under test run with.
var testCaps = capsOf(devParams())

func (c *fakeChain) CurrentBlock() *types.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head
}

func (c *fakeChain) CurrentTD() *uint256.Int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.td[c.head.Hash()].Clone()
}

func (c *fakeChain) GetBlockByNumber(n uint64) *types.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.canon[n]
	if !ok {
		return nil
	}
	return c.blocks[h]
}

func (c *fakeChain) GetBlockByHash(h common.Hash) *types.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocks[h]
}

func (c *fakeChain) HasBlock(h common.Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.blocks[h]
	return ok
}

func (c *fakeChain) InsertBlock(b *types.Block) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := b.Hash()
	c.calls[h]++
	if c.reject[h] {
		return &chain.RuleError{Code: chain.ErrBadSeal, Desc: "test: losing ticket"}
	}
	if _, ok := c.blocks[h]; ok {
		return chain.ErrKnownBlock
	}
	ptd, ok := c.td[b.ParentHash()]
	if !ok {
		return chain.ErrUnknownParent
	}
	c.blocks[h] = b
	td := new(uint256.Int).AddUint64(ptd, b.Header.Difficulty)
	c.td[h] = td
	if td.Cmp(c.td[c.head.Hash()]) > 0 {
		c.setHead(b)
	}
	return nil
}

// setHead rewrites the canonical index down to the fork point.
func (c *fakeChain) setHead(b *types.Block) {
	for n := b.Number() + 1; ; n++ {
		if _, ok := c.canon[n]; !ok {
			break
		}
		delete(c.canon, n)
	}
	for cur := b; ; cur = c.blocks[cur.ParentHash()] {
		if c.canon[cur.Number()] == cur.Hash() {
			break
		}
		c.canon[cur.Number()] = cur.Hash()
		if cur.Number() == 0 {
			break
		}
	}
	c.head = b
}

func (c *fakeChain) insertCalls(h common.Hash) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[h]
}

func (c *fakeChain) mustInsert(blocks ...*types.Block) {
	for _, b := range blocks {
		if err := c.InsertBlock(b); err != nil && !errors.Is(err, chain.ErrKnownBlock) {
			panic(err)
		}
	}
}

func testGenesis() *types.Block {
	return &types.Block{Header: &types.Header{Time: 1_700_000_000_000, Difficulty: 1, TxRoot: types.EmptyRoot, ResultRoot: types.EmptyRoot}}
}

// makeBlocks builds n blocks on parent; salt tells forks apart.
func makeBlocks(parent *types.Block, n int, salt uint64) []*types.Block {
	out := make([]*types.Block, 0, n)
	for range n {
		h := &types.Header{
			ParentHash: parent.Hash(),
			Number:     parent.Number() + 1,
			Time:       parent.Header.Time + 1000,
			Difficulty: 1,
			TxRoot:     types.EmptyRoot,
			ResultRoot: types.EmptyRoot,
			Seal:       types.Seal{Nonce: salt},
		}
		b := &types.Block{Header: h}
		out = append(out, b)
		parent = b
	}
	return out
}

// fakePool records the transactions it is given.
type fakePool struct {
	mu  sync.Mutex
	txs map[common.Hash]*types.Tx
}

func newFakePool() *fakePool { return &fakePool{txs: map[common.Hash]*types.Tx{}} }

func (p *fakePool) Add(tx *types.Tx) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.txs[tx.Hash()]; ok {
		return errors.New("already known")
	}
	p.txs[tx.Hash()] = tx
	return nil
}

func (p *fakePool) has(h common.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.txs[h]
	return ok
}
