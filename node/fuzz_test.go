package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// Fuzzers for what users and peers feed the node outside the chain's own
// encodings: block-number arguments, whole JSON-RPC bodies, the TOML config.

func FuzzBlockNumber(f *testing.F) {
	for _, s := range []string{`12`, `"12"`, `"0xc"`, `"latest"`, `"pending"`, `"earliest"`, `"LATEST"`, `""`,
		`-1`, `1.5`, `1e3`, `"0x"`, `"0x10000000000000000"`, `18446744073709551615`, `null`, `true`, `{}`, `[]`, `"0o17"`, `"1_000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b BlockNumber
		if err := b.UnmarshalJSON(data); err != nil {
			return
		}
		// What was accepted names one block: its usual spellings that the
		// decoder takes (a strict one may take fewer) name the same block,
		// and it takes at least one of them.
		spellings := []string{`"latest"`}
		if !b.Latest {
			spellings = []string{strconv.FormatUint(b.Number, 10), strconv.Quote("0x" + strconv.FormatUint(b.Number, 16)),
				strconv.Quote(strconv.FormatUint(b.Number, 10))}
		}
		taken := 0
		for _, s := range spellings {
			var again BlockNumber
			if again.UnmarshalJSON([]byte(s)) != nil {
				continue
			}
			if again != b {
				t.Fatalf("%q decoded to %+v, but its spelling %s gives %+v", data, b, s, again)
			}
			taken++
		}
		if taken == 0 {
			t.Fatalf("%q decoded to %+v, but none of %v is taken back", data, b, spellings)
		}
	})
}

// rpcFuzzSeeds are requests to every method, good and bad, single and batched.
var rpcFuzzSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"quern_blockNumber","params":[]}`,
	`{"jsonrpc":"2.0","id":2,"method":"quern_getBlockByNumber","params":["latest"]}`,
	`{"jsonrpc":"2.0","id":3,"method":"quern_getBlockByNumber","params":[0]}`,
	`{"jsonrpc":"2.0","id":4,"method":"quern_getBlockByNumber","params":["0xffffffffffffffff"]}`,
	`{"jsonrpc":"2.0","id":5,"method":"quern_getBalance","params":["0x3eaa0eb0eF2725AB5962BcddE5D5D5e6f08ba901"]}`,
	`{"jsonrpc":"2.0","id":6,"method":"quern_getTransactionCount","params":["0x3eaa0eb0eF2725AB5962BcddE5D5D5e6f08ba901","latest"]}`,
	`{"jsonrpc":"2.0","id":7,"method":"quern_sendRawTransaction","params":["0xc0"]}`,
	`{"jsonrpc":"2.0","id":8,"method":"quern_getJob","params":["0x0000000000000000000000000000000000000000000000000000000000000000"]}`,
	`{"jsonrpc":"2.0","id":9,"method":"quern_getJobResult","params":["0x00"]}`,
	`{"jsonrpc":"2.0","id":10,"method":"quern_syncing"}`,
	`{"jsonrpc":"2.0","id":11,"method":"quern_nodeInfo","params":[]}`,
	`{"jsonrpc":"2.0","id":12,"method":"quern_minerRewards","params":["0x0000000000000000000000000000000000000000"]}`,
	`{"jsonrpc":"2.0","id":13,"method":"quern_jobBaseFee","params":[18446744073709551615]}`,
	`{"jsonrpc":"2.0","id":14,"method":"quern_chainId"}`,
	`{"jsonrpc":"2.0","id":15,"method":"quern_getTransactionStatus","params":["0x0000000000000000000000000000000000000000000000000000000000000000"]}`,
	`{"jsonrpc":"2.0","id":16,"method":"quern_nope","params":[1,2,3]}`,
	`{"jsonrpc":"2.0","id":17,"method":"quern_getBlockByNumber","params":[{"a":1},[],null,true]}`,
	`[{"jsonrpc":"2.0","id":1,"method":"quern_chainId"},{"jsonrpc":"2.0","id":2,"method":"quern_blockNumber"}]`,
	`[]`, `[1]`, `{}`, `null`, ``, `{"jsonrpc":"2.0","method":"quern_chainId"}`, `{"id":"x","method":"rpc_modules"}`,
	`{"jsonrpc":"2.0","id":1,"method":"quern_subscribe","params":["newHeads"]}`, "\xff\xfe", `{"jsonrpc":"2.0","id":1e999,"method":"quern_chainId"}`,
}

// FuzzRPCBody posts arbitrary bodies to a real node's JSON-RPC endpoint:
// every answer must be JSON-RPC (a result or an error per call, or nothing
// for notifications), never a crashed handler or a dropped connection.
func FuzzRPCBody(f *testing.F) {
	for _, s := range rpcFuzzSeeds {
		f.Add([]byte(s))
	}
	cfg := testConfig(f.TempDir())
	cfg.LogLevel = "error"
	n, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	if err := n.Start(); err != nil {
		n.Close()
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	url := n.RPCEndpoint()
	client := &http.Client{Timeout: 20 * time.Second}
	// A well-formed call gets a result: the fuzzer reaches the handler
	// (not, say, a host check that refuses everything).
	resp, err := client.Post(url, "application/json", strings.NewReader(rpcFuzzSeeds[0]))
	if err != nil {
		f.Fatal(err)
	}
	ok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(ok, []byte(`"result"`)) {
		f.Fatalf("quern_blockNumber: HTTP %d %s", resp.StatusCode, ok)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %q: %v", body, err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("POST %q: reading the answer: %v", body, err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("POST %q: HTTP %d %s", body, resp.StatusCode, raw)
		}
		if resp.StatusCode != http.StatusOK {
			return // a transport refusal (size, content type): not JSON-RPC's business
		}
		if err := checkRPCAnswer(raw); err != nil {
			t.Fatalf("POST %q: %v; answer %s", body, err, raw)
		}
	})
}

// checkRPCAnswer accepts an empty answer (notifications only), one
// response object, or a non-empty array of them.
func checkRPCAnswer(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	if bytes.Contains(raw, []byte("method handler crashed")) {
		return fmt.Errorf("a handler panicked")
	}
	var batch []json.RawMessage
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &batch); err != nil {
			return fmt.Errorf("batch answer is not JSON: %v", err)
		}
		if len(batch) == 0 {
			return fmt.Errorf("empty batch answer")
		}
	} else {
		batch = []json.RawMessage{raw}
	}
	for _, m := range batch {
		var r struct {
			Version string           `json:"jsonrpc"`
			Result  *json.RawMessage `json:"result"`
			Error   *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(m, &r); err != nil {
			return fmt.Errorf("answer is not a JSON-RPC response: %v", err)
		}
		if r.Version != "2.0" {
			return fmt.Errorf("answer without jsonrpc 2.0")
		}
		hasResult := bytes.Contains(m, []byte(`"result"`))
		if (r.Error != nil) == hasResult {
			return fmt.Errorf("answer has neither or both of result and error")
		}
	}
	return nil
}

// Keys match as spelled: toml alone would take "Mine" for mine, and a file
// with both would set one setting twice.
func TestApplyConfigFileKeyCase(t *testing.T) {
	for _, body := range []string{"Mine = true\n", "mine = false\nMine = true\n", "[P2P]\nlisten = []\n", "[miner]\nAddress = \"0x1\"\n"} {
		cfg := DefaultConfig()
		err := ApplyConfigFile(writeConfig(t, body), &cfg)
		if err == nil || !strings.Contains(err.Error(), "unknown key(s)") {
			t.Errorf("%q: err %v, want unknown key", body, err)
		}
	}
}

func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"datadir = \"/srv/quern\"\nmine = true\ncompute = \"cpu\"\n[miner]\naddress = \"0x3eaa0eb0eF2725AB5962BcddE5D5D5e6f08ba901\"\n",
		"[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/4001\"]\nbootnodes = []\nmdns = false\n[log]\nlevel = \"debug\"\n",
		"[rpc]\naddr = \"127.0.0.1:8545\"\n", "dev = true\ngenesis = \"g.json\"\n",
		"mine = true\nminer_address = \"0x1\"\n", "[rpc]\naddress = \"x\"\n", "mine = \"yes\"\n", "datadir = \n",
		"[[p2p]]\nlisten = 1\n", "p2p = 3\n", "[p2p.extra]\nx = 1\n", "miner.address = \"a\"\n", "\"dev\" = true\n",
		"datadir = '''\nmulti\n'''\n", "x = 1979-05-27T07:32:00Z\n", "a = [[1], [\"b\"]]\n", "\ufeffdev = true\n",
	} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "quern.toml")
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		if err := ApplyConfigFile(path, &cfg); err != nil {
			if !strings.Contains(err.Error(), "config file") {
				t.Fatalf("error %q does not say it is about the config file", err)
			}
			return
		}
		// Accepted: every key in it is one the node knows.
		var raw map[string]any
		if _, err := toml.Decode(string(body), &raw); err != nil {
			t.Fatalf("accepted a file TOML itself rejects: %v", err)
		}
		var check func(prefix string, m map[string]any)
		check = func(prefix string, m map[string]any) {
			for k, v := range m {
				if sub, ok := v.(map[string]any); ok && !fileKeys[prefix+k] {
					check(prefix+k+".", sub)
					continue
				}
				if !fileKeys[prefix+k] {
					t.Fatalf("accepted unknown key %q", prefix+k)
				}
			}
		}
		check("", raw)
	})
}
