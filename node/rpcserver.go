package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
)

// rpcServer serves the quern namespace as JSON-RPC over HTTP.
type rpcServer struct {
	rpc  *rpc.Server
	http *http.Server
	addr net.Addr // the bound address (the real port when asked for :0)
	done chan struct{}
	log  *slog.Logger
}

func startRPC(addr string, api *API, log *slog.Logger) (*rpcServer, error) {
	srv := rpc.NewServer()
	if err := srv.RegisterName("quern", api); err != nil {
		return nil, fmt.Errorf("register rpc api: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("rpc listen on %s: %w (pick another with --rpc.addr HOST:PORT)", addr, err)
	}
	s := &rpcServer{
		rpc:  srv,
		http: &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second},
		addr: ln.Addr(),
		done: make(chan struct{}),
		log:  log,
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("rpc server failed", "err", err)
		}
	}()
	log.Info("JSON-RPC server listening", "rpc", s.url())
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
