package chain

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/quern-chain/quern/chain/types"
)

// The txpool journal keeps what the pool accepted and what it dropped across
// a restart or a kill -9, so that no accepted tx vanishes: every tx the pool
// takes and every drop record is appended (one write each, so a killed
// process loses nothing the kernel has) to <datadir>/txpool.rlp; on start
// the pool replays it, re-adding the txs (those now mined leave quietly,
// those no longer valid are recorded as dropped, with the reason) and
// remembering the drops, then rewrites it to the live set. It is rewritten
// again whenever it outgrows the pool and on Close. It is local policy, not
// consensus; a power cut may lose its tail, which the replay tolerates.

// journalEntry is one record: a tx the pool took, or a drop.
type journalEntry struct {
	Tx     *types.Tx `rlp:"nil"` // nil for a drop
	Drop   common.Hash
	Reason string
	Detail string
	TimeMs uint64
}

type txJournal struct {
	path string
	f    *os.File
	size int64
	err  error // the first write error; the journal is off after it
}

// WithJournal keeps the pool in the file at path across restarts.
func WithJournal(path string) TxPoolOption {
	return func(c *TxPoolConfig) { c.Journal = path }
}

// readJournal returns the entries of the journal at path, stopping at a torn
// or corrupt tail (the rest is lost, not fatal).
func readJournal(path string) ([]journalEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := rlp.NewStream(bufio.NewReaderSize(f, 1<<20), 0)
	var out []journalEntry
	for {
		var e journalEntry
		if err := s.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("entry %d: %w", len(out), err)
		}
		out = append(out, e)
	}
}

// write appends one entry.
func (j *txJournal) write(e *journalEntry) {
	if j == nil || j.err != nil {
		return
	}
	enc, err := rlp.EncodeToBytes(e)
	if err == nil {
		_, err = j.f.Write(enc)
	}
	if err != nil {
		j.err = err
		return
	}
	j.size += int64(len(enc))
}

func (j *txJournal) close() error {
	if j == nil || j.f == nil {
		return nil
	}
	return j.f.Close()
}

// loadJournal replays the journal into the pool (p.mu held, before the
// pool follows the chain). Later entries win: a drop after a tx means the
// tx left.
func (p *TxPool) loadJournal() {
	path := p.cfg.Journal
	entries, err := readJournal(path)
	if err != nil {
		p.log.Warn("Txpool journal: torn or unreadable tail ignored", "path", path, "read", len(entries), "err", err)
	}
	type item struct {
		tx   *types.Tx
		drop *DropRecord
	}
	latest := make(map[common.Hash]item, len(entries))
	var order []common.Hash
	for _, e := range entries {
		h, it := e.Drop, item{}
		if e.Tx != nil {
			h, it.tx = e.Tx.Hash(), e.Tx
		} else {
			it.drop = &DropRecord{Reason: DropReason(e.Reason), Detail: e.Detail, Time: time.UnixMilli(int64(e.TimeMs))}
		}
		if _, seen := latest[h]; !seen {
			order = append(order, h)
		}
		latest[h] = it
	}
	var readded, mined, dropped int
	for _, h := range order {
		it := latest[h]
		if it.drop != nil {
			p.dropped.add(h, *it.drop)
			continue
		}
		ptx, err := p.prepare(it.tx, nil, p.head)
		if err == nil {
			err = p.add(ptx)
		}
		switch {
		case err == nil:
			readded++
		case p.chain.hasTxLookup(h):
			mined++
		default:
			dropped++
			p.record(h, restartDropReason(err), "on restart: "+err.Error())
		}
	}
	p.rotateJournal()
	if len(entries) > 0 {
		p.log.Info("Txpool journal replayed", "path", path, "entries", len(entries), "readded", readded,
			"mined", mined, "dropped", dropped, "pending", len(p.all)-p.nqueued, "queued", p.nqueued)
	}
}

// restartDropReason names why a journaled tx could not come back.
func restartDropReason(err error) DropReason {
	switch {
	case errors.Is(err, ErrNonceTooLow):
		return DropNonceUsed
	case errors.Is(err, ErrInsufficientFunds):
		return DropInsufficientFunds
	case errors.Is(err, ErrPoolFull), errors.Is(err, ErrAccountLimit), errors.Is(err, ErrNonceTooHigh):
		return DropEvicted
	}
	return DropInvalid
}

// rotateJournal rewrites the journal to the live set: the drop records
// (oldest first), then the pooled txs by sender and nonce (p.mu held).
func (p *TxPool) rotateJournal() {
	path := p.cfg.Journal
	if path == "" {
		return
	}
	if err := p.journal.close(); err != nil {
		p.log.Warn("Txpool journal: close", "path", path, "err", err)
	}
	p.journal = nil
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		p.log.Warn("Txpool journal off: cannot write it", "path", tmp, "err", err)
		return
	}
	j := &txJournal{path: path, f: f}
	p.dropped.each(func(h common.Hash, r DropRecord) {
		j.write(&journalEntry{Drop: h, Reason: string(r.Reason), Detail: r.Detail, TimeMs: uint64(r.Time.UnixMilli())})
	})
	senders := make([]common.Address, 0, len(p.accounts))
	for a := range p.accounts {
		senders = append(senders, a)
	}
	slices.SortFunc(senders, func(a, b common.Address) int { return a.Cmp(b) })
	for _, a := range senders {
		txs := p.accounts[a].txs
		nonces := make([]uint64, 0, len(txs))
		for n := range txs {
			nonces = append(nonces, n)
		}
		slices.Sort(nonces)
		for _, n := range nonces {
			j.write(&journalEntry{Tx: txs[n].tx})
		}
	}
	err = j.err
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		j.f, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	}
	if err != nil {
		p.log.Warn("Txpool journal off: cannot rotate it", "path", path, "err", err)
		return
	}
	p.journal = j
}

// maybeRotateJournal rotates once the journal is well past the live set
// (p.mu held).
func (p *TxPool) maybeRotateJournal() {
	if p.journal != nil && p.journal.size > 2*int64(p.bytes)+8<<20 {
		p.rotateJournal()
	}
}
