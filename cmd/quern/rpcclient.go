package main

import (
	"context"
	"encoding/json"
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
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"

	"github.com/quern-chain/quern/node"
)

// callTimeout bounds one RPC round trip.
const callTimeout = 30 * time.Second

// nodeClient is a typed client for the node's quern_* JSON-RPC methods.
// Its errors name the node's URL when the node cannot be reached.
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

// call runs one method and turns transport failures into one clear line.
func (nc *nodeClient) call(ctx context.Context, result any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return nc.explain(nc.c.CallContext(ctx, result, "quern_"+method, args...))
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

// jsonUint64 accepts a plain JSON number (the contract) or a 0x-hex string.
type jsonUint64 uint64

func (n *jsonUint64) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var h hexutil.Uint64
		if err := json.Unmarshal(b, &h); err != nil {
			return err
		}
		*n = jsonUint64(h)
		return nil
	}
	var v uint64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = jsonUint64(v)
	return nil
}

// jsonWei accepts a wei amount as a decimal string (the contract), 0x-hex
// string, or plain JSON number.
type jsonWei struct{ *uint256.Int }

func (w *jsonWei) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := parseWei(s)
	if err != nil {
		return err
	}
	w.Int = v
	return nil
}

func (nc *nodeClient) BlockNumber(ctx context.Context) (uint64, error) {
	var n jsonUint64
	err := nc.call(ctx, &n, "blockNumber")
	return uint64(n), err
}

// HeadBlock returns the latest block; an empty chain is an error.
func (nc *nodeClient) HeadBlock(ctx context.Context) (*node.RPCBlock, error) {
	var b *node.RPCBlock
	if err := nc.call(ctx, &b, "getBlockByNumber", "latest"); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("node at %s has no head block", nc.url)
	}
	return b, nil
}

func (nc *nodeClient) Balance(ctx context.Context, addr common.Address) (*uint256.Int, error) {
	var w jsonWei
	if err := nc.call(ctx, &w, "getBalance", addr); err != nil {
		return nil, err
	}
	return w.Int, nil
}

// Nonce returns the account's transaction count at "pending" or "latest".
func (nc *nodeClient) Nonce(ctx context.Context, addr common.Address, at string) (uint64, error) {
	var n jsonUint64
	err := nc.call(ctx, &n, "getTransactionCount", addr, at)
	return uint64(n), err
}

func (nc *nodeClient) SendRawTransaction(ctx context.Context, raw []byte) (common.Hash, error) {
	var h common.Hash
	err := nc.call(ctx, &h, "sendRawTransaction", hexutil.Bytes(raw))
	return h, err
}

func (nc *nodeClient) Job(ctx context.Context, id common.Hash) (*node.RPCJob, error) {
	var j *node.RPCJob
	if err := nc.call(ctx, &j, "getJob", id); err != nil {
		return nil, err
	}
	if j == nil {
		return nil, &nodeError{msg: fmt.Sprintf("job %s not found", id.Hex())}
	}
	return j, nil
}

func (nc *nodeClient) JobResult(ctx context.Context, id common.Hash) (*node.RPCJobResult, error) {
	var r *node.RPCJobResult
	if err := nc.call(ctx, &r, "getJobResult", id); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, &nodeError{msg: fmt.Sprintf("no result for job %s", id.Hex())}
	}
	return r, nil
}

func (nc *nodeClient) NodeInfo(ctx context.Context) (*node.RPCNodeInfo, error) {
	var info node.RPCNodeInfo
	if err := nc.call(ctx, &info, "nodeInfo"); err != nil {
		return nil, err
	}
	return &info, nil
}

// Syncing returns nil when the node is not syncing.
func (nc *nodeClient) Syncing(ctx context.Context) (*node.RPCSyncing, error) {
	var raw json.RawMessage
	if err := nc.call(ctx, &raw, "syncing"); err != nil {
		return nil, err
	}
	if s := strings.TrimSpace(string(raw)); s == "false" || s == "null" || s == "" {
		return nil, nil
	}
	var st node.RPCSyncing
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("node at %s: bad quern_syncing answer: %v", nc.url, err)
	}
	return &st, nil
}

func (nc *nodeClient) MinerRewards(ctx context.Context, addr common.Address) (*node.RPCRewards, error) {
	var r node.RPCRewards
	if err := nc.call(ctx, &r, "minerRewards", addr); err != nil {
		return nil, err
	}
	return &r, nil
}

// JobBaseFee is the least fee a job of the given work (MACs) taking bytes
// of block space (program plus result) may pay now.
func (nc *nodeClient) JobBaseFee(ctx context.Context, work, bytes uint64) (*uint256.Int, error) {
	var w jsonWei
	if err := nc.call(ctx, &w, "jobBaseFee", work, bytes); err != nil {
		return nil, err
	}
	return w.Int, nil
}
