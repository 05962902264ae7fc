package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"

	"github.com/quern-chain/quern/node"
)

// callTimeout bounds one RPC round trip.
const callTimeout = 30 * time.Second

// nodeClient sends the node's quern_* JSON-RPC methods, as node.Quern
// declares them (node.Quern.GetJob.Call(ctx, nc, id)); its errors name the
// node's URL when the node cannot be reached. Its methods are the calls
// that add something to the answer (a missing block is an error).
type nodeClient struct {
	url string
	c   *rpc.Client
}

// dialNode connects to the node at rawURL; a bare host:port means http.
func dialNode(ctx context.Context, rawURL string) (*nodeClient, error) {
	u := strings.TrimSpace(rawURL)
	if u == "" {
		return nil, errors.New("no node URL: pass --rpc http://HOST:PORT")
	}
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return nil, fmt.Errorf("bad node URL %q: want http://HOST:PORT", rawURL)
	}
	switch pu.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, fmt.Errorf("bad node URL %q: scheme %q is not http, https, ws or wss", rawURL, pu.Scheme)
	}
	c, err := rpc.DialContext(ctx, u)
	if err != nil {
		return nil, (&nodeClient{url: u}).explain(err)
	}
	return &nodeClient{url: u, c: c}, nil
}

func (nc *nodeClient) Close() { nc.c.Close() }

// nodeError is an error the node answered with (as opposed to not answering).
type nodeError struct {
	method string
	msg    string
	code   int
}

func (e *nodeError) Error() string { return e.msg }

var _ node.Caller = (*nodeClient)(nil)

// CallContext runs one method within callTimeout and turns transport
// failures into one clear line.
func (nc *nodeClient) CallContext(ctx context.Context, result any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return nc.explain(nc.c.CallContext(ctx, result, method, args...))
}

func (nc *nodeClient) explain(err error) error {
	if err == nil {
		return nil
	}
	var rpcErr rpc.Error
	if errors.As(err, &rpcErr) {
		return &nodeError{msg: rpcErr.Error(), code: rpcErr.ErrorCode()}
	}
	var httpErr rpc.HTTPError
	if errors.As(err, &httpErr) {
		return nc.explainHTTP(httpErr)
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("node at %s did not answer within %s", nc.url, callTimeout)
	}
	var reason string
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		reason = "connection reset"
	case errors.As(err, &dnsErr):
		reason = "no such host " + strconv.Quote(dnsErr.Name)
	case errors.As(err, &opErr):
		reason = opErr.Err.Error()
	default:
		var urlErr *url.Error
		if !errors.As(err, &urlErr) {
			// Not a transport failure: a reply we could not decode, most likely.
			return fmt.Errorf("node at %s: %v", nc.url, err)
		}
		reason = urlErr.Err.Error()
	}
	return &unreachableError{url: nc.url, reason: reason}
}

// explainHTTP turns an HTTP refusal into what to do about it; the node's
// own message (its body) names the limit or the host it refused.
func (nc *nodeClient) explainHTTP(e rpc.HTTPError) error {
	msg := strings.TrimSpace(string(e.Body))
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	switch e.StatusCode {
	case http.StatusRequestEntityTooLarge:
		if msg == "" {
			msg = "request body over the node's limit"
		}
		return &nodeError{msg: fmt.Sprintf("node at %s refused the request as too large (HTTP 413): %s", nc.url, msg), code: e.StatusCode}
	case http.StatusForbidden:
		if msg == "" {
			msg = "forbidden"
		}
		return &nodeError{msg: fmt.Sprintf("node at %s refused the request (HTTP 403: %s): use its IP address in --rpc, or start it with --rpc.vhosts naming this host", nc.url, msg), code: e.StatusCode}
	}
	return fmt.Errorf("node at %s answered HTTP %s (is that the node's RPC address?)", nc.url, e.Status)
}

// unreachableError says the node did not answer at all.
type unreachableError struct{ url, reason string }

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach node at %s: %s (is \"quern node\" running?)", e.url, e.reason)
}

// about adds what we were asking for to an error the node answered with; a
// node that cannot be reached is reported alone, as that says it all.
func about(err error, format string, args ...any) error {
	var ue *unreachableError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// HeadBlock returns the latest block; an empty chain is an error.
func (nc *nodeClient) HeadBlock(ctx context.Context) (*node.RPCBlock, error) {
	b, err := node.Quern.GetBlockByNumber.Call(ctx, nc, node.BlockNumber{Latest: true})
	if err == nil && b == nil {
		return nil, fmt.Errorf("node at %s has no head block", nc.url)
	}
	return b, err
}

// Balance is addr's balance at the head.
func (nc *nodeClient) Balance(ctx context.Context, addr common.Address) (*uint256.Int, error) {
	return weiAnswer(node.Quern.GetBalance.Call(ctx, nc, addr))
}

// Nonce returns the account's transaction count at "pending" or "latest".
func (nc *nodeClient) Nonce(ctx context.Context, addr common.Address, at string) (uint64, error) {
	return node.Quern.GetTransactionCount.Call(ctx, nc, addr, &at)
}

// Job returns a job's record; one the node does not know is an error.
func (nc *nodeClient) Job(ctx context.Context, id common.Hash) (*node.RPCJob, error) {
	j, err := node.Quern.GetJob.Call(ctx, nc, id)
	if err == nil && j == nil {
		return nil, &nodeError{msg: fmt.Sprintf("job %s not found", id.Hex())}
	}
	return j, err
}

// JobResult returns a done job's result; none is an error.
func (nc *nodeClient) JobResult(ctx context.Context, id common.Hash) (*node.RPCJobResult, error) {
	r, err := node.Quern.GetJobResult.Call(ctx, nc, id)
	if err == nil && r == nil {
		return nil, &nodeError{msg: fmt.Sprintf("no result for job %s", id.Hex())}
	}
	return r, err
}

// JobBaseFee is the least fee a job of the given work (MACs) taking bytes
// of block space (program plus result) may pay now.
func (nc *nodeClient) JobBaseFee(ctx context.Context, work, bytes uint64) (*uint256.Int, error) {
	return weiAnswer(node.Quern.JobBaseFee.Call(ctx, nc, work, &bytes))
}

// weiAnswer reads a wei amount the node answered (a decimal string).
func weiAnswer(s string, err error) (*uint256.Int, error) {
	if err != nil {
		return nil, err
	}
	return parseWei(s)
}
