package p2p

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/quern-chain/quern/chain/types"
)

// TestWireCapsFromParams: the wire's byte caps are the chain's: a block of
// exactly MaxBlockBytes travels by sync (and gossip), one byte more is
// refused, and the pubsub frame leaves room for its envelope.
func TestWireCapsFromParams(t *testing.T) {
	p := devParams()
	if testCaps.block != int(p.MaxBlockBytes) || testCaps.tx != int(p.MaxTxBytes()) || testCaps.message != int(p.MaxMessageBytes()) {
		t.Fatalf("caps %+v from params (block %d, tx %d, message %d)", testCaps, p.MaxBlockBytes, p.MaxTxBytes(), p.MaxMessageBytes())
	}
	if testCaps.message <= testCaps.block {
		t.Fatal("pubsub frame no larger than a block: a full block could not be gossiped")
	}
	g := testGenesis()
	b := makeBlocks(g, 1, 7)[0]
	r := &types.JobResult{Rows: 1, Cols: 1}
	b.Results = []*types.JobResult{r}
	r.Data = make([]byte, int(p.MaxBlockBytes)-int(b.EncodedSize())) // a few bytes over: the length prefixes grow
	for b.EncodedSize() > p.MaxBlockBytes {
		r.Data = r.Data[:len(r.Data)-1]
	}
	full := mustRLP(t, b)
	if len(full) != int(p.MaxBlockBytes) {
		t.Fatalf("full block is %d bytes, want %d", len(full), p.MaxBlockBytes)
	}
	got, err := readSyncResponse(bufio.NewReader(bytes.NewReader(frames(t, full))), syncRequest{FromNumber: 1, Count: 1}, testCaps.block)
	if err != nil || len(got) != 1 {
		t.Fatalf("a block at the cap did not travel: %v", err)
	}
	r.Data = append(r.Data, 0)
	over, err := rlp.EncodeToBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeBlock(over, testCaps.block); err == nil {
		t.Fatal("a block one byte over the cap decoded")
	}
	if _, err := readSyncResponse(bufio.NewReader(bytes.NewReader(frames(t, over))), syncRequest{FromNumber: 1, Count: 1}, testCaps.block); err == nil {
		t.Fatal("a block one byte over the cap came through sync")
	}
}
