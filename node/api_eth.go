package node

import (
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	ethtypes "github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

// The `eth`, `net` and `web3` namespaces: enough of Ethereum's JSON-RPC for
// wallets and libraries (ethers.js, viem, cast, MetaMask) to read balances
// and send QRN with standard signed Ethereum transfers. How quern's blocks
// and transactions map onto Ethereum's shapes: docs/protocol.md §13. The
// `quern` namespace is unchanged beside them.

// registerEthAPIs adds the eth, net and web3 namespaces to srv.
func registerEthAPIs(srv *rpc.Server, api *API) error {
	for name, svc := range map[string]any{"eth": &EthAPI{api: api}, "net": &NetAPI{n: api.n}, "web3": &Web3API{}} {
		if err := srv.RegisterName(name, svc); err != nil {
			return fmt.Errorf("register rpc api %s: %w", name, err)
		}
	}
	return nil
}

// EthAPI is the `eth` namespace.
type EthAPI struct{ api *API }

// Quantities quern reports for every transaction and block (§13).
const ethGas = types.EthTransferGas

var (
	emptyUncleHash = ethtypes.EmptyUncleHash // keccak(rlp([])): no uncles
	emptyTrieRoot  = ethtypes.EmptyRootHash  // quern commits no receipts
)

func (e *EthAPI) chain() *chain.Chain { return e.api.n.chain }
func (e *EthAPI) params() *types.Params {
	return e.api.n.chain.Params()
}

// ChainId is the chain id Ethereum transactions must be signed for: quern's.
func (e *EthAPI) ChainId() hexutil.Uint64 { return hexutil.Uint64(e.params().ChainID) }

// BlockNumber is the head's number.
func (e *EthAPI) BlockNumber() hexutil.Uint64 {
	return hexutil.Uint64(e.chain().CurrentBlock().Number())
}

// Syncing is false, or the sync progress.
func (e *EthAPI) Syncing() any {
	if p := e.api.n.p2p; p != nil {
		if syncing, current, highest := p.SyncStatus(); syncing {
			return map[string]hexutil.Uint64{"startingBlock": 0, "currentBlock": hexutil.Uint64(current), "highestBlock": hexutil.Uint64(highest)}
		}
	}
	return false
}

// Accounts is empty: the node holds no keys for clients.
func (e *EthAPI) Accounts() []common.Address { return []common.Address{} }

// GasPrice is the chain's base fee per gas, ⌈minTxFee / 21000⌉: a transfer
// at this price pays exactly the transfer fee floor (rounded up).
func (e *EthAPI) GasPrice() *hexutil.Big { return u256Big(types.EthBaseFee(e.params())) }

// MaxPriorityFeePerGas is 0: the base fee alone pays the floor, and a tip
// only orders txs in the pool.
func (e *EthAPI) MaxPriorityFeePerGas() *hexutil.Big { return (*hexutil.Big)(new(big.Int)) }

// EthFeeHistory is eth_feeHistory's answer.
type EthFeeHistory struct {
	OldestBlock   *hexutil.Big     `json:"oldestBlock"`
	BaseFeePerGas []*hexutil.Big   `json:"baseFeePerGas"`
	GasUsedRatio  []float64        `json:"gasUsedRatio"`
	Reward        [][]*hexutil.Big `json:"reward,omitempty"`
}

// FeeHistory answers for up to 1024 blocks ending at newest: the base fee
// is constant (one more entry than blocks, for the next block), the gas used
// ratio is txs / maxBlockTxs, every reward percentile is 0.
func (e *EthAPI) FeeHistory(blockCount hexOrDecimal, newest rpc.BlockNumber, percentiles []float64) (*EthFeeHistory, error) {
	head := e.chain().CurrentBlock().Number()
	last, err := e.resolveNumber(newest, head)
	if err != nil {
		return nil, err
	}
	count := min(uint64(blockCount), 1024, last+1)
	out := &EthFeeHistory{OldestBlock: (*hexutil.Big)(new(big.Int).SetUint64(last + 1 - count)),
		BaseFeePerGas: []*hexutil.Big{}, GasUsedRatio: []float64{}}
	base := u256Big(types.EthBaseFee(e.params()))
	for n := last + 1 - count; n <= last && count > 0; n++ {
		b := e.chain().GetBlockByNumber(n)
		ratio := 0.0
		if b != nil && e.params().MaxBlockTxs > 0 {
			ratio = float64(len(b.Txs)) / float64(e.params().MaxBlockTxs)
		}
		out.BaseFeePerGas = append(out.BaseFeePerGas, base)
		out.GasUsedRatio = append(out.GasUsedRatio, ratio)
		if len(percentiles) > 0 {
			r := make([]*hexutil.Big, len(percentiles))
			for i := range r {
				r[i] = (*hexutil.Big)(new(big.Int))
			}
			out.Reward = append(out.Reward, r)
		}
	}
	out.BaseFeePerGas = append(out.BaseFeePerGas, base)
	return out, nil
}

// hexOrDecimal is a uint64 argument given as a 0x quantity or a decimal
// number or string (eth_feeHistory's blockCount comes both ways).
type hexOrDecimal uint64

func (h *hexOrDecimal) UnmarshalJSON(data []byte) error {
	s := string(data)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	n, err := parseBlockQuantity(s)
	if err != nil {
		return fmt.Errorf("invalid count %s: %v", data, err)
	}
	*h = hexOrDecimal(n)
	return nil
}

// EthCallArgs are the fields of eth_call and eth_estimateGas quern reads.
type EthCallArgs struct {
	From  *common.Address `json:"from"`
	To    *common.Address `json:"to"`
	Value *hexutil.Big    `json:"value"`
	Data  *hexutil.Bytes  `json:"data"`
	Input *hexutil.Bytes  `json:"input"`
}

func (a *EthCallArgs) data() []byte {
	switch {
	case a.Input != nil:
		return *a.Input
	case a.Data != nil:
		return *a.Data
	}
	return nil
}

var (
	errNoContracts = errors.New("quern runs no contracts: only plain transfers (no data) can be sent")
	errNoCreate    = errors.New("contract creation: quern runs no contracts; set a recipient (to)")
)

// EstimateGas is 21000 for a plain transfer; data or a missing recipient is
// an error (no contracts), and so is a value above the sender's balance.
func (e *EthAPI) EstimateGas(args EthCallArgs, _ *rpc.BlockNumberOrHash) (hexutil.Uint64, error) {
	if args.To == nil {
		return 0, errNoCreate
	}
	if len(args.data()) != 0 {
		return 0, errNoContracts
	}
	if args.From != nil && args.Value != nil {
		bal := e.chain().State().Account(*args.From).Balance
		if (*big.Int)(args.Value).Cmp(bal.ToBig()) > 0 {
			return 0, fmt.Errorf("insufficient funds for transfer: balance %s wei, value %s", bal, (*big.Int)(args.Value))
		}
	}
	return ethGas, nil
}

// Call is "0x": every account is a plain account, and calling one returns
// nothing (as in Ethereum).
func (e *EthAPI) Call(args EthCallArgs, _ *rpc.BlockNumberOrHash, _ *map[string]any) hexutil.Bytes {
	return hexutil.Bytes{}
}

// GetCode is "0x": no account holds code.
func (e *EthAPI) GetCode(_ common.Address, _ *rpc.BlockNumberOrHash) hexutil.Bytes {
	return hexutil.Bytes{}
}

// GetStorageAt is the zero word: no account has storage.
func (e *EthAPI) GetStorageAt(_ common.Address, _ string, _ *rpc.BlockNumberOrHash) hexutil.Bytes {
	return make(hexutil.Bytes, 32)
}

// GetBalance is addr's balance at the block (the head by default; the state
// of blocks more than 256 behind the head is pruned).
func (e *EthAPI) GetBalance(addr common.Address, at *rpc.BlockNumberOrHash) (*hexutil.Big, error) {
	st, err := e.stateAt(at)
	if err != nil {
		return nil, err
	}
	return u256Big(st.Account(addr).Balance), nil
}

// GetTransactionCount is addr's nonce at the block; "pending" counts the
// txpool's consecutive txs too.
func (e *EthAPI) GetTransactionCount(addr common.Address, at *rpc.BlockNumberOrHash) (hexutil.Uint64, error) {
	if at != nil {
		if n, ok := at.Number(); ok && n == rpc.PendingBlockNumber {
			return hexutil.Uint64(e.api.n.pool.PendingNonce(addr)), nil
		}
	}
	st, err := e.stateAt(at)
	if err != nil {
		return 0, err
	}
	return hexutil.Uint64(st.Account(addr).Nonce), nil
}

// stateAt is the state after the block at names (nil: the head).
func (e *EthAPI) stateAt(at *rpc.BlockNumberOrHash) (*chain.State, error) {
	c := e.chain()
	if at == nil {
		return c.State(), nil
	}
	if h, ok := at.Hash(); ok {
		if !c.HasBlock(h) {
			return nil, fmt.Errorf("block %s not found", h.Hex())
		}
		if at.RequireCanonical {
			if hd := c.GetHeader(h); hd != nil {
				if ch, ok := c.CanonicalHash(hd.Number); !ok || ch != h {
					return nil, fmt.Errorf("block %s is not canonical", h.Hex())
				}
			}
		}
		return c.StateAtBlock(h)
	}
	n, _ := at.Number()
	head := c.CurrentBlock()
	num, err := e.resolveNumber(n, head.Number())
	if err != nil {
		return nil, err
	}
	if num == head.Number() {
		return c.State(), nil
	}
	h, ok := c.CanonicalHash(num)
	if !ok {
		return nil, fmt.Errorf("block %d not found", num)
	}
	return c.StateAtBlock(h)
}

// resolveNumber reads a block number or tag against the head: latest,
// pending, safe and finalized are the head (quern has no finality gadget),
// earliest is genesis; a number past the head is an error.
func (e *EthAPI) resolveNumber(n rpc.BlockNumber, head uint64) (uint64, error) {
	switch n {
	case rpc.LatestBlockNumber, rpc.PendingBlockNumber, rpc.SafeBlockNumber, rpc.FinalizedBlockNumber:
		return head, nil
	case rpc.EarliestBlockNumber:
		return 0, nil
	}
	if n < 0 || uint64(n) > head {
		return 0, fmt.Errorf("block %d not found (head is %d)", n, head)
	}
	return uint64(n), nil
}

// EthBlock is an Ethereum-shaped block (§13).
type EthBlock struct {
	Number           hexutil.Uint64      `json:"number"`
	Hash             common.Hash         `json:"hash"`
	ParentHash       common.Hash         `json:"parentHash"`
	Nonce            ethtypes.BlockNonce `json:"nonce"`   // the seal's nonce
	MixHash          common.Hash         `json:"mixHash"` // the seal's tile digest
	Sha3Uncles       common.Hash         `json:"sha3Uncles"`
	LogsBloom        ethtypes.Bloom      `json:"logsBloom"`
	TransactionsRoot common.Hash         `json:"transactionsRoot"` // quern's txRoot
	StateRoot        common.Hash         `json:"stateRoot"`
	ReceiptsRoot     common.Hash         `json:"receiptsRoot"`
	Miner            common.Address      `json:"miner"`
	Difficulty       *hexutil.Big        `json:"difficulty"` // MACs
	TotalDifficulty  *hexutil.Big        `json:"totalDifficulty"`
	ExtraData        hexutil.Bytes       `json:"extraData"`
	Size             hexutil.Uint64      `json:"size"`
	GasLimit         hexutil.Uint64      `json:"gasLimit"`
	GasUsed          hexutil.Uint64      `json:"gasUsed"`
	Timestamp        hexutil.Uint64      `json:"timestamp"` // seconds
	BaseFeePerGas    *hexutil.Big        `json:"baseFeePerGas"`
	Transactions     []any               `json:"transactions"` // hashes, or *EthTx when full
	Uncles           []common.Hash       `json:"uncles"`
	QuernResultRoot  common.Hash         `json:"quernResultRoot"`
	QuernTimeMs      hexutil.Uint64      `json:"quernTimeMs"`
}

// GetBlockByNumber returns the canonical block (null when there is none);
// full asks for transaction objects instead of hashes.
func (e *EthAPI) GetBlockByNumber(number rpc.BlockNumber, full bool) (*EthBlock, error) {
	c := e.chain()
	head := c.CurrentBlock()
	n, err := e.resolveNumber(number, head.Number())
	if err != nil {
		return nil, nil // Ethereum answers null for a block it does not have
	}
	b := head
	if n != head.Number() {
		if b = c.GetBlockByNumber(n); b == nil {
			return nil, nil
		}
	}
	return e.ethBlock(b, full), nil
}

// GetBlockByHash returns a stored block, canonical or not (null if unknown).
func (e *EthAPI) GetBlockByHash(hash common.Hash, full bool) *EthBlock {
	b := e.chain().GetBlockByHash(hash)
	if b == nil {
		return nil
	}
	return e.ethBlock(b, full)
}

// GetBlockTransactionCountByNumber is the number of txs in the block.
func (e *EthAPI) GetBlockTransactionCountByNumber(number rpc.BlockNumber) *hexutil.Uint64 {
	b, _ := e.GetBlockByNumber(number, false)
	if b == nil {
		return nil
	}
	n := hexutil.Uint64(len(b.Transactions))
	return &n
}

// GetBlockTransactionCountByHash is the number of txs in the block.
func (e *EthAPI) GetBlockTransactionCountByHash(hash common.Hash) *hexutil.Uint64 {
	b := e.chain().GetBlockByHash(hash)
	if b == nil {
		return nil
	}
	n := hexutil.Uint64(len(b.Txs))
	return &n
}

func (e *EthAPI) ethBlock(b *types.Block, full bool) *EthBlock {
	h, p := b.Header, e.params()
	hash := b.Hash()
	out := &EthBlock{
		Number: hexutil.Uint64(h.Number), Hash: hash, ParentHash: h.ParentHash,
		Nonce: ethtypes.EncodeNonce(h.Seal.Nonce), MixHash: h.Seal.TileDigest,
		Sha3Uncles: emptyUncleHash, TransactionsRoot: h.TxRoot, StateRoot: h.StateRoot, ReceiptsRoot: emptyTrieRoot,
		Miner: h.Coinbase, Difficulty: (*hexutil.Big)(new(big.Int).SetUint64(h.Difficulty)),
		TotalDifficulty: (*hexutil.Big)(new(big.Int)), ExtraData: hexutil.Bytes{},
		Size: hexutil.Uint64(b.EncodedSize()), GasLimit: hexutil.Uint64(uint64(p.MaxBlockTxs) * ethGas),
		GasUsed: hexutil.Uint64(uint64(len(b.Txs)) * ethGas), Timestamp: hexutil.Uint64(h.Time / 1000),
		BaseFeePerGas: u256Big(types.EthBaseFee(p)), Transactions: make([]any, 0, len(b.Txs)),
		Uncles: []common.Hash{}, QuernResultRoot: h.ResultRoot, QuernTimeMs: hexutil.Uint64(h.Time),
	}
	if td := e.chain().TD(hash); td != nil {
		out.TotalDifficulty = u256Big(td)
	}
	for i, tx := range b.Txs {
		if full {
			out.Transactions = append(out.Transactions, e.ethTx(tx, &ethTxPlace{hash, h.Number, uint64(i)}))
		} else {
			out.Transactions = append(out.Transactions, tx.Hash())
		}
	}
	return out
}

// EthTx is an Ethereum-shaped transaction (§13). An Ethereum tx is shown as
// signed; a native quern transfer as a legacy tx whose gas price is its fee
// / 21000 (rounded down; quernFee is exact); a job as a tx to null, value 0,
// its escrow as the fee and its id (the tx hash) as quernJobId.
type EthTx struct {
	BlockHash            *common.Hash         `json:"blockHash"`
	BlockNumber          *hexutil.Big         `json:"blockNumber"`
	TransactionIndex     *hexutil.Uint64      `json:"transactionIndex"`
	Hash                 common.Hash          `json:"hash"`
	Type                 hexutil.Uint64       `json:"type"`
	ChainID              *hexutil.Big         `json:"chainId"`
	From                 common.Address       `json:"from"`
	To                   *common.Address      `json:"to"`
	Nonce                hexutil.Uint64       `json:"nonce"`
	Value                *hexutil.Big         `json:"value"`
	Gas                  hexutil.Uint64       `json:"gas"`
	GasPrice             *hexutil.Big         `json:"gasPrice"`
	MaxFeePerGas         *hexutil.Big         `json:"maxFeePerGas,omitempty"`
	MaxPriorityFeePerGas *hexutil.Big         `json:"maxPriorityFeePerGas,omitempty"`
	AccessList           *ethtypes.AccessList `json:"accessList,omitempty"`
	Input                hexutil.Bytes        `json:"input"`
	V                    *hexutil.Big         `json:"v"`
	R                    *hexutil.Big         `json:"r"`
	S                    *hexutil.Big         `json:"s"`
	YParity              *hexutil.Uint64      `json:"yParity,omitempty"`
	QuernKind            string               `json:"quernKind"` // "eth" | "transfer" | "job"
	QuernFee             *hexutil.Big         `json:"quernFee"`  // wei the tx pays (a job: its escrow)
	QuernJobID           *common.Hash         `json:"quernJobId,omitempty"`
}

// ethTxPlace is where a mined tx sits; nil for a pooled one.
type ethTxPlace struct {
	block  common.Hash
	number uint64
	index  uint64
}

// txFee is what tx pays: an Ethereum tx its EthFee, a native one its fee.
func (e *EthAPI) txFee(tx *types.Tx) *uint256.Int {
	if tx.Kind == types.TxEth {
		if etx, err := tx.EthTx(); err == nil {
			return types.EthFee(e.params(), etx)
		}
	}
	return orZeroU(tx.Fee)
}

func (e *EthAPI) ethTx(tx *types.Tx, at *ethTxPlace) *EthTx {
	from, _ := tx.Sender() // pooled and mined txs have valid signatures
	out := &EthTx{
		Hash: tx.Hash(), From: from, Nonce: hexutil.Uint64(tx.Nonce), Value: u256Big(orZeroU(tx.Value)),
		ChainID: (*hexutil.Big)(new(big.Int).SetUint64(tx.ChainID)), Input: hexutil.Bytes{},
		QuernFee: u256Big(e.txFee(tx)),
	}
	if at != nil {
		idx := hexutil.Uint64(at.index)
		out.BlockHash, out.BlockNumber, out.TransactionIndex = &at.block, (*hexutil.Big)(new(big.Int).SetUint64(at.number)), &idx
	}
	if tx.Kind == types.TxEth {
		out.QuernKind = "eth"
		etx, err := tx.EthTx()
		if err != nil {
			return out
		}
		to := tx.To
		out.To, out.Type, out.Gas = &to, hexutil.Uint64(etx.Type()), hexutil.Uint64(etx.Gas())
		v, r, s := etx.RawSignatureValues()
		out.V, out.R, out.S = (*hexutil.Big)(v), (*hexutil.Big)(r), (*hexutil.Big)(s)
		out.GasPrice = (*hexutil.Big)(etx.GasPrice())
		if etx.Type() == ethtypes.DynamicFeeTxType {
			al := etx.AccessList()
			if al == nil {
				al = ethtypes.AccessList{}
			}
			y := hexutil.Uint64(v.Uint64())
			out.AccessList, out.YParity = &al, &y
			out.MaxFeePerGas, out.MaxPriorityFeePerGas = (*hexutil.Big)(etx.GasFeeCap()), (*hexutil.Big)(etx.GasTipCap())
			if at != nil { // mined: the price it paid
				out.GasPrice = u256Big(types.EthGasPrice(e.params(), etx))
			}
		}
		return out
	}
	out.Type, out.Gas = 0, ethGas
	out.GasPrice = u256Big(new(uint256.Int).Div(e.txFee(tx), uint256.NewInt(ethGas)))
	if len(tx.Sig) == 65 {
		out.R = (*hexutil.Big)(new(big.Int).SetBytes(tx.Sig[:32]))
		out.S = (*hexutil.Big)(new(big.Int).SetBytes(tx.Sig[32:64]))
		out.V = (*hexutil.Big)(big.NewInt(27 + int64(tx.Sig[64])))
	} else {
		out.R, out.S, out.V = (*hexutil.Big)(new(big.Int)), (*hexutil.Big)(new(big.Int)), (*hexutil.Big)(big.NewInt(27))
	}
	if tx.Kind == types.TxJob {
		id := tx.Hash()
		out.QuernKind, out.QuernJobID = "job", &id
		return out
	}
	to := tx.To
	out.QuernKind, out.To = "transfer", &to
	return out
}

// GetTransactionByHash finds a tx in the canonical chain, then in the
// txpool (blockHash null); null when neither has it.
func (e *EthAPI) GetTransactionByHash(hash common.Hash) *EthTx {
	if tx, l, ok := e.minedTx(hash); ok {
		return e.ethTx(tx, &ethTxPlace{l.BlockHash, l.Number, l.Index})
	}
	if tx := e.api.n.pool.Get(hash); tx != nil {
		return e.ethTx(tx, nil)
	}
	return nil
}

// minedTx finds tx hash in the canonical chain up to the head. The chain
// writes a block's tx lookups just before it makes the block the head: a tx
// is not reported mined until the head (and so the nonce a client reads
// next) includes it, or a wallet that saw the receipt could sign its next
// tx with the old nonce.
func (e *EthAPI) minedTx(hash common.Hash) (*types.Tx, *chain.TxLookup, bool) {
	tx, l, ok := e.chain().GetTransaction(hash)
	if !ok || l.Number > e.chain().CurrentBlock().Number() {
		return nil, nil, false
	}
	return tx, l, true
}

// GetTransactionByBlockNumberAndIndex is the index-th tx of a canonical
// block (null when there is none).
func (e *EthAPI) GetTransactionByBlockNumberAndIndex(number rpc.BlockNumber, index hexutil.Uint) *EthTx {
	n, err := e.resolveNumber(number, e.chain().CurrentBlock().Number())
	if err != nil {
		return nil
	}
	return e.txAt(e.chain().GetBlockByNumber(n), uint64(index))
}

// GetTransactionByBlockHashAndIndex is the index-th tx of a stored block.
func (e *EthAPI) GetTransactionByBlockHashAndIndex(hash common.Hash, index hexutil.Uint) *EthTx {
	return e.txAt(e.chain().GetBlockByHash(hash), uint64(index))
}

func (e *EthAPI) txAt(b *types.Block, i uint64) *EthTx {
	if b == nil || i >= uint64(len(b.Txs)) {
		return nil
	}
	return e.ethTx(b.Txs[i], &ethTxPlace{b.Hash(), b.Number(), i})
}

// GetLogs is empty: quern runs no contracts, so nothing logs.
func (e *EthAPI) GetLogs(_ map[string]any) []any { return []any{} }

// EthReceipt is an Ethereum-shaped receipt (§13).
type EthReceipt struct {
	TransactionHash   common.Hash     `json:"transactionHash"`
	TransactionIndex  hexutil.Uint64  `json:"transactionIndex"`
	BlockHash         common.Hash     `json:"blockHash"`
	BlockNumber       *hexutil.Big    `json:"blockNumber"`
	From              common.Address  `json:"from"`
	To                *common.Address `json:"to"`
	CumulativeGasUsed hexutil.Uint64  `json:"cumulativeGasUsed"`
	GasUsed           hexutil.Uint64  `json:"gasUsed"`
	EffectiveGasPrice *hexutil.Big    `json:"effectiveGasPrice"`
	ContractAddress   *common.Address `json:"contractAddress"`
	Logs              []any           `json:"logs"`
	LogsBloom         ethtypes.Bloom  `json:"logsBloom"`
	Type              hexutil.Uint64  `json:"type"`
	Status            hexutil.Uint64  `json:"status"`
	QuernFee          *hexutil.Big    `json:"quernFee"`
	QuernJobID        *common.Hash    `json:"quernJobId,omitempty"`
}

// GetTransactionReceipt is the receipt of a tx in the canonical chain (null
// until it is mined). Status is always 1: a block holding a tx that fails is
// invalid, so a mined tx has succeeded (a job's own outcome is quern_getJob).
func (e *EthAPI) GetTransactionReceipt(hash common.Hash) *EthReceipt {
	tx, l, ok := e.minedTx(hash)
	if !ok {
		return nil
	}
	t := e.ethTx(tx, &ethTxPlace{l.BlockHash, l.Number, l.Index})
	return &EthReceipt{
		TransactionHash: hash, TransactionIndex: hexutil.Uint64(l.Index), BlockHash: l.BlockHash,
		BlockNumber: t.BlockNumber, From: t.From, To: t.To,
		CumulativeGasUsed: hexutil.Uint64((l.Index + 1) * ethGas), GasUsed: ethGas,
		EffectiveGasPrice: t.GasPrice, Logs: []any{}, Type: t.Type, Status: 1,
		QuernFee: t.QuernFee, QuernJobID: t.QuernJobID,
	}
}

// SendRawTransaction takes a signed Ethereum transaction (legacy EIP-155 or
// EIP-1559, a plain transfer signed for this chain), pools and gossips it,
// and returns its Ethereum hash. Pool errors carry go-ethereum's wording
// first ("nonce too low", "already known", ...), which libraries match.
func (e *EthAPI) SendRawTransaction(raw hexutil.Bytes) (common.Hash, error) {
	tx, err := types.NewEthTx(raw)
	if err != nil {
		return common.Hash{}, err
	}
	if err := e.api.n.pool.Add(tx); err != nil {
		return common.Hash{}, gethWording(err)
	}
	if p := e.api.n.p2p; p != nil {
		if err := p.BroadcastTx(tx); err != nil {
			e.api.n.log.Warn("broadcast tx failed (it stays in the local pool)", "tx", tx.Hash(), "err", err)
		}
	}
	return tx.Hash(), nil
}

// gethWording prefixes pool errors with the message go-ethereum gives for
// the same case.
func gethWording(err error) error {
	for _, m := range []struct {
		target error
		geth   string
	}{
		{chain.ErrKnownTx, "already known"},
		{chain.ErrNonceTooLow, "nonce too low"},
		{chain.ErrNonceTooHigh, "nonce too high"},
		{chain.ErrReplaceUnderpriced, "replacement transaction underpriced"},
		{chain.ErrUnderpriced, "transaction underpriced"},
		{chain.ErrInsufficientFunds, "insufficient funds for gas * price + value"},
		{chain.ErrPoolFull, "txpool is full"},
	} {
		if errors.Is(err, m.target) {
			return fmt.Errorf("%s: %w", m.geth, err)
		}
	}
	return err
}

// NetAPI is the `net` namespace.
type NetAPI struct{ n *Node }

// Version is the chain id as a decimal string.
func (n *NetAPI) Version() string { return strconv.FormatUint(n.n.chain.Params().ChainID, 10) }

// Listening is true: the node serves p2p while it runs.
func (n *NetAPI) Listening() bool { return n.n.p2p != nil }

// PeerCount is the number of connected peers.
func (n *NetAPI) PeerCount() hexutil.Uint {
	if n.n.p2p == nil {
		return 0
	}
	return hexutil.Uint(n.n.p2p.PeerCount())
}

// Web3API is the `web3` namespace.
type Web3API struct{}

// ClientVersion is "quern/<module version>/<os>-<arch>/<go version>".
func (*Web3API) ClientVersion() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("quern/%s/%s-%s/%s", v, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// Sha3 is Keccak-256 of data.
func (*Web3API) Sha3(data hexutil.Bytes) hexutil.Bytes { return crypto.Keccak256(data) }

func u256Big(v *uint256.Int) *hexutil.Big {
	if v == nil {
		return (*hexutil.Big)(new(big.Int))
	}
	return (*hexutil.Big)(v.ToBig())
}

func orZeroU(v *uint256.Int) *uint256.Int {
	if v == nil {
		return new(uint256.Int)
	}
	return v
}
