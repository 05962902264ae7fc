package chain_test

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/chain/types"
)

func seedTx(f *testing.F) *types.Tx {
	tx := &types.Tx{ChainID: 7357, Nonce: 3, To: addr2, Value: uint256.NewInt(5), Fee: minFee}
	if err := tx.Sign(key1); err != nil {
		f.Fatal(err)
	}
	return tx
}

func FuzzDecodeTx(f *testing.F) {
	tx := seedTx(f)
	enc, _ := rlp.EncodeToBytes(tx)
	f.Add(enc)
	job := &types.Tx{ChainID: 7357, Kind: types.TxJob, Fee: minFee, Expiry: 9, Program: []byte{0xc0}}
	enc, _ = rlp.EncodeToBytes(job)
	f.Add(enc)
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var tx types.Tx
		if rlp.DecodeBytes(data, &tx) != nil {
			return
		}
		tx.Hash()
		tx.Sender()
		tx.Cost()
		if _, err := rlp.EncodeToBytes(&tx); err != nil {
			t.Fatalf("decoded tx does not re-encode: %v", err)
		}
	})
}

func FuzzDecodeBlock(f *testing.F) {
	g, _ := chain.DevGenesis().ToBlock()
	enc, _ := rlp.EncodeToBytes(g)
	f.Add(enc)
	b := &types.Block{Header: g.Header.Copy(), Txs: []*types.Tx{seedTx(f)},
		Results: []*types.JobResult{{Rows: 1, Cols: 1, Data: []byte{1, 2, 3, 4}}}}
	enc, _ = rlp.EncodeToBytes(b)
	f.Add(enc)
	b.Results = append(b.Results, &types.JobResult{JobID: common.Hash{2}, Train: &types.TrainSegment{FromStep: 16, ToStep: 48,
		Roots: []common.Hash{{3}, {4}}, EndState: []byte{0xc3, 0x30, 0xc0, 0xc0}, Samples: []types.TrainSample{{Interval: 1, State: []byte{0xc0}}}}})
	enc, _ = rlp.EncodeToBytes(b)
	f.Add(enc)
	f.Add([]byte{0xc3, 0xc0, 0xc0, 0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b types.Block
		if rlp.DecodeBytes(data, &b) != nil {
			return
		}
		if b.Header == nil {
			t.Fatal("decoded block without a header")
		}
		b.Hash()
		types.TxRoot(b.Txs)
		types.ResultRoot(b.Results)
		for _, tx := range b.Txs {
			tx.Sender()
		}
		// The byte cap is checked against EncodedSize: it must be exact on
		// whatever a peer sends, training segments included.
		if re, err := rlp.EncodeToBytes(&b); err != nil || b.EncodedSize() != uint64(len(re)) {
			t.Fatalf("EncodedSize %d, re-encoded %d bytes (%v)", b.EncodedSize(), len(re), err)
		}
	})
}
