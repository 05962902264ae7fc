package chain

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
)

// dbReader and dbWriter are the slices of *badger.Txn the accessors need.
type dbReader interface {
	Get(key []byte) (*badger.Item, error)
}

type dbWriter interface {
	Set(key, val []byte) error
	Delete(key []byte) error
}

var errNotFound = errors.New("not found")

func get(r dbReader, key []byte) ([]byte, error) {
	item, err := r.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func has(r dbReader, key []byte) (bool, error) {
	_, err := r.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func readHash(r dbReader, key []byte) (common.Hash, error) {
	b, err := get(r, key)
	if err != nil {
		return common.Hash{}, err
	}
	if len(b) != common.HashLength {
		return common.Hash{}, fmt.Errorf("key %q: %d-byte hash", key[:1], len(b))
	}
	return common.BytesToHash(b), nil
}

func readRLP(r dbReader, key []byte, v any) error {
	b, err := get(r, key)
	if err != nil {
		return err
	}
	if err := rlp.DecodeBytes(b, v); err != nil {
		return fmt.Errorf("key %q%x: %w", key[:1], key[1:], err)
	}
	return nil
}

func readSchemaVersion(r dbReader) (uint64, error) {
	b, err := get(r, keyVersion)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, errors.New("bad schema version record")
	}
	return binary.BigEndian.Uint64(b), nil
}

func writeSchemaVersion(w dbWriter) error {
	return w.Set(keyVersion, binary.BigEndian.AppendUint64(nil, schemaVersion))
}

func readGenesisHash(r dbReader) (common.Hash, error)  { return readHash(r, keyGenesis) }
func writeGenesisHash(w dbWriter, h common.Hash) error { return w.Set(keyGenesis, h.Bytes()) }
func readHeadHash(r dbReader) (common.Hash, error)     { return readHash(r, keyHead) }
func writeHeadHash(w dbWriter, h common.Hash) error    { return w.Set(keyHead, h.Bytes()) }

func readHeader(r dbReader, h common.Hash) (*types.Header, error) {
	var hd types.Header
	if err := readRLP(r, headerKey(h), &hd); err != nil {
		return nil, err
	}
	return &hd, nil
}

func readBody(r dbReader, h common.Hash) (*types.Body, error) {
	var b types.Body
	if err := readRLP(r, bodyKey(h), &b); err != nil {
		return nil, err
	}
	return &b, nil
}

func readBlock(r dbReader, h common.Hash) (*types.Block, error) {
	hd, err := readHeader(r, h)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r, h)
	if err != nil {
		return nil, err
	}
	return &types.Block{Header: hd, Txs: body.Txs, Results: body.Results}, nil
}

// writeBlock stores header and body.
func writeBlock(w dbWriter, b *types.Block) error {
	h := b.Hash()
	if err := w.Set(headerKey(h), mustRLP(b.Header)); err != nil {
		return err
	}
	return w.Set(bodyKey(h), mustRLP(b.Body()))
}

func readTD(r dbReader, h common.Hash) (*uint256.Int, error) {
	b, err := get(r, tdKey(h))
	if err != nil {
		return nil, err
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("td of %s: %d bytes", h, len(b))
	}
	return new(uint256.Int).SetBytes32(b), nil
}

func writeTD(w dbWriter, h common.Hash, td *uint256.Int) error {
	b := td.Bytes32()
	return w.Set(tdKey(h), b[:])
}

func readCanonicalHash(r dbReader, n uint64) (common.Hash, error) { return readHash(r, canonKey(n)) }

func writeCanonicalHash(w dbWriter, n uint64, h common.Hash) error {
	return w.Set(canonKey(n), h.Bytes())
}

func deleteCanonicalHash(w dbWriter, n uint64) error { return w.Delete(canonKey(n)) }

func readProgram(r dbReader, id common.Hash) ([]byte, error) { return get(r, programKey(id)) }

func writeProgram(w dbWriter, id common.Hash, code []byte) error {
	return w.Set(programKey(id), code)
}

func readCheckpoint(r dbReader, root common.Hash) ([]byte, error) { return get(r, checkpointKey(root)) }

func writeCheckpoint(w dbWriter, root common.Hash, state []byte) error {
	return w.Set(checkpointKey(root), state)
}

// TxLookup locates a transaction in the canonical chain.
type TxLookup struct {
	BlockHash common.Hash
	Number    uint64
	Index     uint64
}

func readTxLookup(r dbReader, tx common.Hash) (*TxLookup, error) {
	var l TxLookup
	if err := readRLP(r, txLookupKey(tx), &l); err != nil {
		return nil, err
	}
	return &l, nil
}

func writeTxLookups(w dbWriter, b *types.Block) error {
	bh := b.Hash() // a header hash is an encoding and a Keccak: once, not once a tx
	for i, tx := range b.Txs {
		l := TxLookup{BlockHash: bh, Number: b.Number(), Index: uint64(i)}
		if err := w.Set(txLookupKey(tx.Hash()), mustRLP(&l)); err != nil {
			return err
		}
	}
	return nil
}

func deleteTxLookups(w dbWriter, b *types.Block) error {
	for _, tx := range b.Txs {
		if err := w.Delete(txLookupKey(tx.Hash())); err != nil {
			return err
		}
	}
	return nil
}
