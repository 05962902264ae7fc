package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// chain proof verifies a real node's proof against the block's header and
// prints the balance; a node that lies about the balance or sends a
// tampered trie node is caught, and nothing is printed but the refusal.
func TestChainProof(t *testing.T) {
	holder := common.HexToAddress("0x00000000000000000000000000000000000a11ce")
	d := startDevNode(t, devNodeOpts{alloc: map[common.Address]string{holder: "5"}})
	genesis := d.Chain().CurrentBlock().Hash()

	out, _ := ok(t, "chain", "proof", "--rpc", d.url, holder.Hex())
	for _, want := range []string{"verified:   against the state root", "balance:    5 QRN (5000000000000000000 wei)", "nonce:      0"} {
		if !strings.Contains(out, want) {
			t.Errorf("chain proof lacks %q:\n%s", want, out)
		}
	}
	var p struct {
		Verified  bool        `json:"verified"`
		Trusted   bool        `json:"trustedHeader"`
		Balance   string      `json:"balance"`
		BlockHash common.Hash `json:"blockHash"`
	}
	jsonOf(t, &p, "chain", "proof", "--json", "--trust", genesis.Hex(), "--job", common.Hash{1}.Hex(), "--rpc", d.url, holder.Hex())
	if !p.Verified || !p.Trusted || p.Balance != "5000000000000000000" || p.BlockHash != genesis {
		t.Fatalf("chain proof --json --trust: %+v", p)
	}
	if out, _ := ok(t, "chain", "proof", "--rpc", d.url, common.Address{7}.Hex()); !strings.Contains(out, "balance:    0 QRN") {
		t.Fatalf("proof of an absent account:\n%s", out)
	}
	_, stderr, code := quern(t, "chain", "proof", "--trust", common.Hash{9}.Hex(), "--rpc", d.url, holder.Hex())
	wantError(t, stderr, code, "has no block")

	for name, lie := range map[string]func(result map[string]any){
		"balance": func(r map[string]any) { r["balance"] = "6000000000000000000" },
		"node": func(r map[string]any) {
			nodes := r["accountProof"].([]any)
			last := []byte(nodes[len(nodes)-1].(string))
			if last[len(last)-1] == '0' {
				last[len(last)-1] = '1'
			} else {
				last[len(last)-1] = '0'
			}
			nodes[len(nodes)-1] = string(last)
		},
	} {
		liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			resp, err := http.Post(d.url, "application/json", bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(resp.Body)
			if bytes.Contains(body, []byte(`"quern_getProof"`)) {
				var msg map[string]any
				if json.Unmarshal(answer, &msg) == nil {
					if res, ok := msg["result"].(map[string]any); ok {
						lie(res)
						answer, _ = json.Marshal(msg)
					}
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(answer)
		}))
		out, stderr, code := quern(t, "chain", "proof", "--rpc", liar.URL, holder.Hex())
		liar.Close()
		wantError(t, stderr, code, "NOT VERIFIED")
		if strings.Contains(out, "balance") {
			t.Errorf("%s: a balance printed from a proof that does not verify:\n%s", name, out)
		}
	}
}
