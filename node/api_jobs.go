package node

import (
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/quern-chain/quern/chain/types"
)

// Paging of quern_listJobs.
const (
	listJobsDefaultLimit = 20
	listJobsMaxLimit     = 100
	// listJobsScanBlocks bounds the blocks one call reads; a page that did
	// not fill within them ends early with a cursor to go on from.
	listJobsScanBlocks = 2000
)

// RPCListJobsArgs are quern_listJobs' options (all optional): Before, the
// block to start from going back (default: the head, and the txpool's
// submitted jobs first), Limit the page size (default 20, at most 100),
// Status keeps only jobs in that status, Owner only that sender's.
type RPCListJobsArgs struct {
	Before *uint64         `json:"before,omitempty"`
	Limit  int             `json:"limit,omitempty"`
	Status string          `json:"status,omitempty"`
	Owner  *common.Address `json:"owner,omitempty"`
}

// RPCJobList is quern_listJobs' answer: jobs newest first (by the block of
// their tx), and Next, the "before" of the next page (absent: no more).
type RPCJobList struct {
	Jobs []*RPCJob `json:"jobs"`
	Next *uint64   `json:"next,omitempty"`
}

// ListJobs lists the jobs the node knows: those whose tx waits in the
// txpool, then those of canonical blocks from the newest down, each as
// quern_getJob answers it (status, progress of a training job).
func (api *API) ListJobs(args *RPCListJobsArgs) (*RPCJobList, error) {
	var a RPCListJobsArgs
	if args != nil {
		a = *args
	}
	switch {
	case a.Limit < 0:
		return nil, fmt.Errorf("limit %d: want 1 to %d", a.Limit, listJobsMaxLimit)
	case a.Limit == 0:
		a.Limit = listJobsDefaultLimit
	case a.Limit > listJobsMaxLimit:
		a.Limit = listJobsMaxLimit
	}
	a.Status = strings.ToLower(a.Status)
	switch a.Status {
	case "", "submitted", "pending", "done", "expired":
	default:
		return nil, fmt.Errorf("status %q: want submitted, pending, done or expired", a.Status)
	}
	keep := func(j *RPCJob) bool {
		return (a.Status == "" || j.Status == a.Status) && (a.Owner == nil || j.Owner == *a.Owner)
	}
	out := &RPCJobList{Jobs: []*RPCJob{}}
	c := api.n.chain
	head := c.CurrentBlock().Number()
	from := head
	if a.Before != nil {
		if *a.Before == 0 {
			return out, nil
		}
		from = min(*a.Before-1, head)
	} else if api.n.pool != nil {
		for _, tx := range api.n.pool.Pending() {
			if tx.Kind != types.TxJob {
				continue
			}
			if j, err := api.poolJob(tx.Hash()); err == nil && keep(j) {
				out.Jobs = append(out.Jobs, j)
			}
		}
	}
	scanned := 0
	for n := from; ; n-- {
		if len(out.Jobs) >= a.Limit || scanned >= listJobsScanBlocks {
			next := n + 1
			out.Next = &next
			break
		}
		b := c.GetBlockByNumber(n)
		scanned++
		if b != nil {
			for i := len(b.Txs) - 1; i >= 0; i-- {
				tx := b.Txs[i]
				if tx.Kind != types.TxJob {
					continue
				}
				if j, err := api.GetJob(tx.Hash()); err == nil && keep(j) {
					out.Jobs = append(out.Jobs, j)
				}
			}
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}

// GetBlockByHash returns the stored block with that hash (canonical or
// not), null when there is none.
func (api *API) GetBlockByHash(hash common.Hash) *RPCBlock {
	if out, ok := api.blocks.Get(hash); ok {
		return out
	}
	c := api.n.chain
	b := c.GetBlockByHash(hash)
	if b == nil {
		return nil
	}
	t := c.TD(hash)
	out := api.rpcBlock(b, hash, t)
	if t != nil {
		api.blocks.Add(hash, out)
	}
	return out
}
