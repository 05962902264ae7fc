package node

import (
	"fmt"
	"net"
	"strings"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// TestSecondNodeSamePortFails: a second node told to listen on the first
// one's p2p port fails to start with a clear error (it used to bind beside
// it with SO_REUSEPORT and share its connections silently).
func TestSecondNodeSamePortFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	listen := []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}

	cfg := testConfig(t.TempDir())
	cfg.P2PListen = listen
	startNode(t, "first", cfg)

	cfg2 := testConfig(t.TempDir())
	cfg2.P2PListen = listen
	n, err := New(cfg2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	err = n.Start()
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "--p2p.listen") {
		t.Fatalf("second node on port %d: %v, want a clear 'already in use' error", port, err)
	}
}

// TestDevListensOnLoopback: --dev without --p2p.listen listens on
// 127.0.0.1, not 0.0.0.0; other networks keep 0.0.0.0; and a dev node
// advertises only this machine's addresses.
func TestDevListensOnLoopback(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dev = true
	eff, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	if len(eff.P2PListen) != 1 || eff.P2PListen[0] != DevP2PListen || !strings.HasPrefix(DevP2PListen, "/ip4/127.0.0.1/") {
		t.Fatalf("--dev listens on %v, want %s", eff.P2PListen, DevP2PListen)
	}
	cfg = DefaultConfig()
	cfg.GenesisFile = "g.json"
	if eff, err = cfg.Effective(); err != nil || eff.P2PListen[0] != DefaultP2PListen {
		t.Fatalf("non-dev listen %v (%v), want %s", eff.P2PListen, err, DefaultP2PListen)
	}

	cfg = testConfig(t.TempDir())
	cfg.P2PListen = []string{"/ip4/0.0.0.0/tcp/0"}
	tn := startNode(t, "dev", cfg)
	local := map[string]bool{}
	ifAddrs, _ := net.InterfaceAddrs()
	for _, a := range ifAddrs {
		if ipn, ok := a.(*net.IPNet); ok {
			local[ipn.IP.String()] = true
		}
	}
	addrs := tn.P2P().Addrs()
	if len(addrs) == 0 {
		t.Fatal("no p2p addresses")
	}
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			t.Fatal(err)
		}
		ip, err := manet.ToIP(a)
		if err != nil || !(ip.IsLoopback() || local[ip.String()]) {
			t.Errorf("dev node advertises %s: not an address of this machine", s)
		}
	}
}
