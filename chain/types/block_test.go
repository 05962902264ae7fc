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
		seg := &TrainSegment{FromStep: uint32(i) << 4, ToStep: uint32(n), Roots: make([]common.Hash, i), EndState: prog}
		for j := range i {
			seg.Samples = append(seg.Samples, TrainSample{Interval: uint32(j + 1), State: prog[:min(len(prog), j*j*40)]})
		}
		b.Results = append(b.Results, &JobResult{JobID: common.Hash{byte(i), 1}, Train: seg})
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

// TestMatMulResultEncoding: the optional training segment leaves a matmul
// result's encoding (and so its hash and every result root) as it was.
func TestMatMulResultEncoding(t *testing.T) {
	type v1Result struct {
		JobID      common.Hash
		Rows, Cols uint32
		Data       []byte
	}
	r := &JobResult{JobID: common.Hash{7}, Rows: 2, Cols: 1, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	if got, want := mustEncode(t, r), mustEncode(t, &v1Result{r.JobID, r.Rows, r.Cols, r.Data}); string(got) != string(want) {
		t.Fatalf("matmul result encodes as %x, v1 as %x", got, want)
	}
	var back JobResult
	if err := rlp.DecodeBytes(mustEncode(t, r), &back); err != nil || back.Train != nil {
		t.Fatalf("decode: %v, train %v", err, back.Train)
	}
	tr := &JobResult{JobID: r.JobID, Train: &TrainSegment{FromStep: 16, ToStep: 32, Roots: []common.Hash{{1}}, EndState: []byte{9}}}
	if err := rlp.DecodeBytes(mustEncode(t, tr), &back); err != nil || back.Train == nil || back.Hash() != tr.Hash() {
		t.Fatalf("segment round trip: %v", err)
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
