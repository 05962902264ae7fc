package p2p

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
)

func mustRLP(t testing.TB, v any) []byte {
	t.Helper()
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func frames(t testing.TB, payloads ...[]byte) []byte {
	var buf bytes.Buffer
	for _, p := range payloads {
		if err := writeFrame(&buf, p); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestSyncResponseChecks(t *testing.T) {
	g := testGenesis()
	bs := makeBlocks(g, 3, 1)
	enc := func(i int) []byte { return mustRLP(t, bs[i]) }
	req := syncRequest{FromNumber: 1, Count: 3}

	got, err := readSyncResponse(bufio.NewReader(bytes.NewReader(frames(t, enc(0), enc(1), enc(2)))), req, testCaps.block)
	if err != nil || len(got) != 3 || got[2].Hash() != bs[2].Hash() {
		t.Fatalf("valid response: %v (%d blocks)", err, len(got))
	}
	for name, data := range map[string][]byte{
		"gap":        frames(t, enc(0), enc(2)),
		"wrong from": frames(t, enc(1)),
		"too many":   frames(t, enc(0), enc(1), enc(2), enc(2)),
		"truncated":  frames(t, enc(0))[:10],
		"garbage":    frames(t, []byte{0xc3, 1, 2}),
		"huge frame": {0xff, 0xff, 0xff, 0xff, 0x7f},
	} {
		r := req
		if name == "too many" {
			r.Count = 3
		}
		if _, err := readSyncResponse(bufio.NewReader(bytes.NewReader(data)), r, testCaps.block); !errors.Is(err, errBadResponse) {
			t.Errorf("%s: err = %v, want errBadResponse", name, err)
		}
	}
}

func FuzzDecodeSyncRequest(f *testing.F) {
	f.Add(mustRLP(f, &syncRequest{FromNumber: 1, Count: 64}))
	f.Add(mustRLP(f, &syncRequest{FromNumber: ^uint64(0), Count: ^uint64(0)}))
	f.Add([]byte{})
	f.Add([]byte{0xc0})
	f.Add([]byte{0xc2, 0x81, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeSyncRequest(data)
		if err != nil {
			return
		}
		again, err := decodeSyncRequest(mustRLP(t, req))
		if err != nil || *again != *req {
			t.Fatalf("round trip: %v %+v %+v", err, req, again)
		}
	})
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add(mustRLP(f, &statusMsg{Number: 5, TD: uint256.NewInt(6)}))
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if st, err := decodeStatus(data); err == nil && st.TD == nil {
			t.Fatal("decoded status without TD")
		}
	})
}

func FuzzReadSyncResponse(f *testing.F) {
	g := testGenesis()
	bs := makeBlocks(g, 3, 1)
	f.Add(frames(f, mustRLP(f, bs[0]), mustRLP(f, bs[1]), mustRLP(f, bs[2])))
	f.Add(frames(f, mustRLP(f, bs[0]))[:7])
	f.Add([]byte{0x80, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		blocks, err := readSyncResponse(bufio.NewReader(bytes.NewReader(data)), syncRequest{FromNumber: 1, Count: 64}, testCaps.block)
		if err == nil {
			for i, b := range blocks {
				if b.Header == nil || b.Number() != uint64(i+1) {
					t.Fatalf("block %d accepted with bad number/header", i)
				}
			}
		}
	})
}

func FuzzDecodeGossip(f *testing.F) {
	f.Add(mustRLP(f, testGenesis()))
	f.Add([]byte{0xc3, 0xc0, 0xc0, 0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeBlock(data, testCaps.block)
		if tx, err := decodeTx(data, testCaps.tx); err == nil {
			tx.Sender()
		}
	})
}
