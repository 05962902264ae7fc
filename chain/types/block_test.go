package types

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
)

// TestEncodedSizeIsExact: the block byte cap is checked against
// EncodedSize, so it must be len(rlp(b)) to the byte, across the string and
// list header lengths (1, 2, 3 and 4 bytes).
func TestEncodedSizeIsExact(t *testing.T) {
	b := &Block{Header: &Header{Number: 9, Difficulty: 1 << 40}}
	for i, n := range []int{0, 1, 55, 56, 255, 256, 70000, 1 << 24} {
		prog := make([]byte, n)
		for j := range prog {
			prog[j] = byte(j*7 + i)
		}
		b.Txs = append(b.Txs, &Tx{ChainID: 7357, Nonce: uint64(i), Kind: TxJob, Value: uint256.NewInt(0),
			Fee: uint256.NewInt(uint64(1) << (8 * i)), Expiry: uint64(i) << 20, Program: prog, Sig: make([]byte, 65)})
		b.Results = append(b.Results, &JobResult{JobID: common.Hash{byte(i)}, Rows: uint32(n), Cols: 1, Data: prog})
		enc, err := rlp.EncodeToBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.EncodedSize(); got != uint64(len(enc)) {
			t.Fatalf("after a %d-byte program: EncodedSize %d, rlp is %d bytes", n, got, len(enc))
		}
	}
	if got, enc := (&Block{}).EncodedSize(), mustEncode(t, &Block{}); got != uint64(len(enc)) {
		t.Fatalf("empty block: EncodedSize %d, rlp is %d bytes", got, len(enc))
	}
	one := &Tx{Program: []byte{0x05}}
	if got, enc := TxEncodedSize(one), mustEncode(t, one); got != uint64(len(enc)) {
		t.Fatalf("one-byte program: %d vs %d", got, len(enc))
	}
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	enc, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}
