package p2p

// Wire format (docs/protocol.md §10). Every stream message is a frame,
// uvarint(len) ‖ RLP payload.
//
//	status/1: the dialer writes its [genesis, headNumber, headHash, td,
//	          oldestFull?] and closes its write side; the listener answers
//	          with its own. oldestFull, the lowest block the node serves whole
//	          over sync/1, is left out when 0 (the 4-field form of older nodes).
//	sync/1:   the client writes [fromNumber, count]; the server answers with
//	          up to min(count, 64) frames of canonical RLP blocks numbered
//	          fromNumber, fromNumber+1, ... (fewer past ~48 MiB, at least one)
//	          and closes the stream; an empty answer means it has none.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"

	"github.com/quern-chain/quern/chain/types"
)

// wireCaps are the byte caps of every message, derived from the chain's
// genesis params (one place per limit): a block no larger than consensus
// allows, and no message that could carry one refused.
type wireCaps struct {
	block   int // a block's RLP: Params.MaxBlockBytes, what BuildBlock never exceeds
	tx      int // a tx's RLP: Params.MaxTxBytes(), a job tx with the largest program
	message int // a pubsub RPC frame, the message plus its envelope: Params.MaxMessageBytes()
}

func capsOf(p *types.Params) wireCaps {
	return wireCaps{block: int(p.MaxBlockBytes), tx: int(p.MaxTxBytes()), message: int(p.MaxMessageBytes())}
}

// Count caps and timeouts.
const (
	maxSyncBlocks        = 64       // blocks per range-sync response
	maxSyncResponseBytes = 48 << 20 // soft cap; one block is always sent whole
	maxSmallFrame        = 1 << 10  // status and sync requests are tiny

	statusTimeout    = 10 * time.Second
	syncReadTimeout  = 10 * time.Second // server: time to read a request
	syncFetchTimeout = 60 * time.Second // client and server: one whole response
)

var (
	errFrameTooLarge = errors.New("frame too large")
	errBadResponse   = errors.New("bad sync response")
)

// Every stream message is a frame: uvarint(len) ‖ RLP payload.
func writeFrame(w io.Writer, payload []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(payload)))
	if _, err := w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// readFrame reads one frame of at most max bytes. A clean end of stream
// before the length prefix is io.EOF; anything cut short is ErrUnexpectedEOF.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %d > %d bytes", errFrameTooLarge, n, max)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// statusMsg is what peers exchange on /quern/<network>/status/1.
type statusMsg struct {
	Genesis common.Hash
	Number  uint64
	Head    common.Hash
	TD      *uint256.Int
	// OldestFull is the lowest block number the node serves whole over
	// sync/1 (its snap pivot, or head − resultRetention): below it a full
	// sync must use another peer. Optional, so a status without it (an
	// older node, or one that serves every block) decodes as 0; and 0 is not
	// encoded, so older nodes still decode the status of one that serves
	// every block.
	OldestFull uint64 `rlp:"optional"`
}

// serves reports whether the peer that sent st serves block n whole.
func (st *statusMsg) serves(n uint64) bool { return n >= st.OldestFull }

func decodeStatus(b []byte) (*statusMsg, error) {
	var m statusMsg
	if err := rlp.DecodeBytes(b, &m); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	if m.TD == nil {
		m.TD = new(uint256.Int)
	}
	return &m, nil
}

// syncRequest asks for canonical blocks FromNumber, FromNumber+1, ...; the
// server answers with up to min(Count, 64) block frames and closes the stream.
type syncRequest struct {
	FromNumber uint64
	Count      uint64
}

func decodeSyncRequest(b []byte) (*syncRequest, error) {
	var r syncRequest
	if err := rlp.DecodeBytes(b, &r); err != nil {
		return nil, fmt.Errorf("sync request: %w", err)
	}
	return &r, nil
}

func decodeBlock(b []byte, maxBytes int) (*types.Block, error) {
	if len(b) > maxBytes {
		return nil, fmt.Errorf("block: %d bytes over the %d cap", len(b), maxBytes)
	}
	var blk types.Block
	if err := rlp.DecodeBytes(b, &blk); err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	if blk.Header == nil {
		return nil, errors.New("block: no header")
	}
	return &blk, nil
}

func decodeTx(b []byte, maxBytes int) (*types.Tx, error) {
	if len(b) > maxBytes {
		return nil, fmt.Errorf("tx: %d bytes over the %d cap", len(b), maxBytes)
	}
	var tx types.Tx
	if err := rlp.DecodeBytes(b, &tx); err != nil {
		return nil, fmt.Errorf("tx: %w", err)
	}
	return &tx, nil
}

// readSyncResponse reads the blocks answering req until the server closes
// the stream. It checks what the server controls: sizes, count, numbering
// and that each block is the child of the one before it.
func readSyncResponse(r *bufio.Reader, req syncRequest, maxBlock int) ([]*types.Block, error) {
	want := min(req.Count, maxSyncBlocks)
	var (
		blocks []*types.Block
		total  int
	)
	for {
		raw, err := readFrame(r, maxBlock)
		if errors.Is(err, io.EOF) {
			return blocks, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadResponse, err)
		}
		if uint64(len(blocks)) >= want {
			return nil, fmt.Errorf("%w: more than %d blocks", errBadResponse, want)
		}
		if total += len(raw); total > maxSyncResponseBytes+maxBlock {
			return nil, fmt.Errorf("%w: over %d bytes", errBadResponse, total)
		}
		b, err := decodeBlock(raw, maxBlock)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadResponse, err)
		}
		if n := req.FromNumber + uint64(len(blocks)); b.Number() != n {
			return nil, fmt.Errorf("%w: got block %d, want %d", errBadResponse, b.Number(), n)
		}
		if len(blocks) > 0 && b.ParentHash() != blocks[len(blocks)-1].Hash() {
			return nil, fmt.Errorf("%w: block %d does not extend the previous one", errBadResponse, b.Number())
		}
		blocks = append(blocks, b)
	}
}
