package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"golang.org/x/net/netutil"

	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/node/explorer"
)

// RPCLimits bound what clients can make the RPC server hold: time, sockets,
// request and batch bytes. Zero fields take DefaultRPCLimits' values; the
// body limit then derives from the chain's parameters.
type RPCLimits struct {
	ReadHeaderTimeout time.Duration // request line and headers
	ReadTimeout       time.Duration // the whole request, body included
	WriteTimeout      time.Duration // from the end of the headers to the end of the answer
	IdleTimeout       time.Duration // a kept-alive connection between requests
	MaxConns          int           // connections served at once; more wait in the accept queue
	MaxBodyBytes      int           // a request body; 0: MaxRPCBodyBytes of the chain
	BatchItems        int           // calls in one batch
	// Request body bytes held at once by all connections together. Each
	// body may be MaxBodyBytes; without a shared budget MaxConns clients
	// that really send their bytes could make the node hold MaxConns ×
	// MaxBodyBytes (4 GiB). Past it a request is answered 503.
	InFlightBodyBytes int
	// Bytes of large answers (job results) built at once by all clients
	// (answerBudget); a call waits up to AnswerWait for room, then "busy".
	InFlightAnswerBytes int
	AnswerWait          time.Duration
	// A batch's answers stop once together they pass this: the call that
	// crosses it is still answered (so a batch holds at most this plus one
	// answer), the rest get "response too large". Single calls are not
	// limited: the largest job result is a 32 MiB answer.
	BatchResponseBytes int
}

// DefaultRPCLimits: a 33 MiB body at 0.6 MB/s fits ReadTimeout; 128
// connections each holding its whole body limit is the worst case a client
// that really sends the bytes can cause (docs/security.md).
func DefaultRPCLimits() RPCLimits {
	return RPCLimits{
		ReadHeaderTimeout:  10 * time.Second,
		ReadTimeout:        60 * time.Second,
		WriteTimeout:       90 * time.Second,
		IdleTimeout:        120 * time.Second,
		MaxConns:           128,
		BatchItems:         100,
		BatchResponseBytes: 8 << 20,
		InFlightBodyBytes:  256 << 20, // eight largest job txs at once
		// Six largest results (16 MiB, weighed 5×) at once.
		InFlightAnswerBytes: 512 << 20,
		AnswerWait:          10 * time.Second,
	}
}

// withDefaults fills the zero fields from DefaultRPCLimits and the body
// limit from the chain's parameters.
func (l RPCLimits) withDefaults(p *types.Params) RPCLimits {
	d := DefaultRPCLimits()
	orDefault := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	orDefault(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	orDefault(&l.ReadTimeout, d.ReadTimeout)
	orDefault(&l.WriteTimeout, d.WriteTimeout)
	orDefault(&l.IdleTimeout, d.IdleTimeout)
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	if l.BatchItems <= 0 {
		l.BatchItems = d.BatchItems
	}
	if l.BatchResponseBytes <= 0 {
		l.BatchResponseBytes = d.BatchResponseBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = int(MaxRPCBodyBytes(p))
	}
	if l.InFlightAnswerBytes <= 0 {
		l.InFlightAnswerBytes = d.InFlightAnswerBytes
	}
	orDefault(&l.AnswerWait, d.AnswerWait)
	if l.InFlightBodyBytes <= 0 {
		l.InFlightBodyBytes = max(d.InFlightBodyBytes, l.MaxBodyBytes)
	}
	return l
}

// rpcEnvelopeSlack is the JSON-RPC framing around the one large argument of
// a call ({"jsonrpc":"2.0","id":…,"method":…,"params":["0x…"]}).
const rpcEnvelopeSlack = 16 << 10

// MaxRPCBodyBytes is the largest request the RPC server reads: the largest
// valid transaction, hex-encoded (two characters a byte), in its envelope.
// Clients that check a tx's size before sending read the same number.
func MaxRPCBodyBytes(p *types.Params) uint64 { return 2*p.MaxTxBytes() + rpcEnvelopeSlack }

// rpcServer serves the quern namespace as JSON-RPC over HTTP.
type rpcServer struct {
	rpc  *rpc.Server
	http *http.Server
	addr net.Addr // the bound address (the real port when asked for :0)
	done chan struct{}
	log  *slog.Logger
}

func startRPC(cfg *Config, p *types.Params, api *API, log *slog.Logger) (*rpcServer, error) {
	lim := cfg.RPCLimits.withDefaults(p)
	srv := rpc.NewServer()
	// One byte over ours, so that bodyLimitHandler sees an oversized body
	// first and answers 413 rather than the rpc package's silent cut.
	srv.SetHTTPBodyLimit(lim.MaxBodyBytes + 1)
	srv.SetBatchLimits(lim.BatchItems, lim.BatchResponseBytes)
	if err := srv.RegisterName("quern", api); err != nil {
		return nil, fmt.Errorf("register rpc api: %w", err)
	}
	if err := registerEthAPIs(srv, api); err != nil { // eth, net, web3 (api_eth.go)
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.RPCAddr)
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("rpc listen on %s: %w (pick another with --rpc.addr HOST:PORT)", cfg.RPCAddr, err)
	}
	api.answers = newAnswerBudget(int64(lim.InFlightAnswerBytes), lim.AnswerWait)
	bl := newBodyLimitHandler(srv, int64(lim.MaxBodyBytes), int64(lim.InFlightBodyBytes))
	bl.answers = api.answers
	var h http.Handler = bl
	h = mountMetrics(api.n, h) // GET /debug/metrics/prometheus (metrics.go)
	// GET /explorer/ (--http.explorer; node/explorer)
	h = explorer.Mount(cfg.explorerOn(), h)
	h = newCORSHandler(cfg.RPCCorsDomains, h)
	h = newVHostHandler(cfg.RPCVHosts, h)
	s := &rpcServer{
		rpc: srv,
		http: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			ReadTimeout:       lim.ReadTimeout,
			WriteTimeout:      lim.WriteTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
		},
		addr: ln.Addr(),
		done: make(chan struct{}),
		log:  log,
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(netutil.LimitListener(ln, lim.MaxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("rpc server failed", "err", err)
		}
	}()
	log.Info("JSON-RPC server listening", "rpc", s.url(), "vhosts", strings.Join(cfg.RPCVHosts, ","),
		"corsdomain", strings.Join(cfg.RPCCorsDomains, ","), "maxbody", lim.MaxBodyBytes, "maxconns", lim.MaxConns)
	return s, nil
}

func (s *rpcServer) url() string { return "http://" + s.addr.String() }

func (s *rpcServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.rpc.Stop()
	<-s.done
	return err
}

// bodyLimitHandler refuses bodies over limit with 413 and a message that
// names the limit. It also hides the declared Content-Length from the rpc
// package, which would allocate that much up front: a client that declares
// 33 MiB and sends one byte must cost one byte, not 33 MiB.
//
// It also keeps the bytes of all bodies being read within a shared budget:
// a request that would take the total past it is answered 503 (try again),
// so memory stays bounded however many connections send real bytes.
type bodyLimitHandler struct {
	next    http.Handler
	limit   int64
	budget  atomic.Int64  // body bytes the server may still take in
	answers *answerBudget // large answers' bytes, given back once written
}

func newBodyLimitHandler(next http.Handler, limit, inFlight int64) *bodyLimitHandler {
	h := &bodyLimitHandler{next: next, limit: limit}
	h.budget.Store(inFlight)
	return h
}

func (h *bodyLimitHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > h.limit {
		h.refuse(w, "of "+strconv.FormatInt(r.ContentLength, 10)+" bytes ")
		return
	}
	if r.ContentLength > 0 {
		r.ContentLength = -1 // unknown: the buffer grows with the bytes that arrive
	}
	if h.answers != nil {
		ctx, hold := withAnswerHold(r.Context())
		defer h.answers.release(hold) // after the answer is written
		r = r.WithContext(ctx)
	}
	body := &countedBody{ReadCloser: http.MaxBytesReader(w, r.Body, h.limit), budget: &h.budget}
	defer func() { h.budget.Add(body.taken) }() // the rpc package is done with the body
	r.Body = body
	lw := &limitedWriter{ResponseWriter: w, body: body}
	h.next.ServeHTTP(lw, r)
	switch {
	case body.over:
		// The rpc package answered "parse error" into lw, which dropped it.
		clear(w.Header())
		h.refuse(w, "")
	case body.busy:
		clear(w.Header())
		w.Header().Set("Retry-After", "1")
		http.Error(w, "node busy: too many request bytes in flight from all clients; retry shortly", http.StatusServiceUnavailable)
	}
}

// refuse answers 413; size ("of N bytes " or "") is the declared length.
func (h *bodyLimitHandler) refuse(w http.ResponseWriter, size string) {
	http.Error(w, fmt.Sprintf("request body %sis over this node's limit of %d bytes (the largest transaction, hex-encoded, in a JSON-RPC envelope)",
		size, h.limit), http.StatusRequestEntityTooLarge)
}

// countedBody notes that the body ran past the limit (a body without a
// Content-Length: chunked), and takes the bytes it reads from the shared
// budget; busy means the budget ran out.
type countedBody struct {
	io.ReadCloser
	budget *atomic.Int64
	taken  int64
	over   bool
	busy   bool
}

var errRPCBusy = errors.New("rpc: request bytes in flight over the server's budget")

func (b *countedBody) Read(p []byte) (int, error) {
	if b.busy {
		return 0, errRPCBusy
	}
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.over = true
	}
	if n > 0 {
		b.taken += int64(n)
		if b.budget.Add(-int64(n)) < 0 {
			b.busy = true
			return n, errRPCBusy
		}
	}
	return n, err
}

// limitedWriter drops what the handler writes once the body ran over, so
// bodyLimitHandler can answer 413 instead.
type limitedWriter struct {
	http.ResponseWriter
	body *countedBody
}

func (w *limitedWriter) WriteHeader(code int) {
	if !w.body.over && !w.body.busy {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.body.over || w.body.busy {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *limitedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.body.over && !w.body.busy {
		f.Flush()
	}
}

// vhostHandler answers 403 to a request whose Host header names a host not
// in the list: a web page on another name that resolves to this node (DNS
// rebinding) cannot reach it. As in go-ethereum's node package (not
// imported: it pulls in geth's databases): IP addresses are always allowed,
// "*" allows every name, and a request without Host passes.
type vhostHandler struct {
	hosts map[string]bool
	next  http.Handler
}

func newVHostHandler(hosts []string, next http.Handler) http.Handler {
	m := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		m[strings.ToLower(h)] = true
	}
	return &vhostHandler{hosts: m, next: next}
}

func (h *vhostHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Host == "" || h.hosts["*"] {
		h.next.ServeHTTP(w, r)
		return
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil { // no port
		host = r.Host
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if net.ParseIP(host) != nil || h.hosts[host] {
		h.next.ServeHTTP(w, r)
		return
	}
	http.Error(w, fmt.Sprintf("invalid host %q: not in this node's --rpc.vhosts", host), http.StatusForbidden)
}

// corsHandler lets web pages from the listed origins call the node: it
// answers preflights and adds Access-Control-Allow-Origin for them, as
// go-ethereum configures rs/cors (methods POST and GET, any header, 600 s).
// Without origins it is not installed and browsers refuse cross-origin calls.
type corsHandler struct {
	origins map[string]bool
	next    http.Handler
}

func newCORSHandler(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	m := make(map[string]bool, len(origins))
	for _, o := range origins {
		m[strings.ToLower(o)] = true
	}
	return &corsHandler{origins: m, next: next}
}

func (h *corsHandler) allowed(origin string) bool {
	return origin != "" && (h.origins["*"] || h.origins[strings.ToLower(origin)])
}

func (h *corsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	hdr := w.Header()
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		hdr.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
		method := strings.ToUpper(r.Header.Get("Access-Control-Request-Method"))
		if h.allowed(origin) && (method == http.MethodPost || method == http.MethodGet) {
			hdr.Set("Access-Control-Allow-Origin", h.allowOrigin(origin))
			hdr.Set("Access-Control-Allow-Methods", method)
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				hdr.Set("Access-Control-Allow-Headers", req)
			}
			hdr.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	hdr.Add("Vary", "Origin")
	if h.allowed(origin) {
		hdr.Set("Access-Control-Allow-Origin", h.allowOrigin(origin))
	}
	h.next.ServeHTTP(w, r)
}

func (h *corsHandler) allowOrigin(origin string) string {
	if h.origins["*"] {
		return "*"
	}
	return origin
}
