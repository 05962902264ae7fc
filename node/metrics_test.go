package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quern-chain/quern/chain"
)

// scrape fetches the node's Prometheus endpoint over HTTP and returns each
// sample line's value by its name with labels ("quern_p2p_peers",
// `quern_chain_blocks_rejected_total{reason="known"}`).
func scrape(t *testing.T, tn *testNode) map[string]float64 {
	t.Helper()
	resp, err := http.Get(tn.RPCEndpoint() + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %q", MetricsPath, resp.Status, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsEndpoint: two nodes in one process (each its own registry), a
// miner and a follower; after a few blocks the miner's and the follower's
// metrics have moved.
func TestMetricsEndpoint(t *testing.T) {
	m := newMiner(t, "miner")
	f := newFollower(t, "follower", m)
	m.waitHeight(3, time.Minute)
	f.waitHeight(3, time.Minute)

	got := scrape(t, m)
	for _, name := range []string{
		"quern_chain_head_number", "quern_p2p_peers", "quern_txpool_pending", "quern_txpool_queued",
		"quern_sync_syncing", "quern_sync_target_height", "quern_miner_gmacs", "quern_miner_tickets_tried_total",
		"quern_miner_blocks_found_total", "quern_miner_earned_qrn", "quern_miner_job_macs_total",
		"quern_miner_synthetic_macs_total", "quern_miner_useful_share", "quern_consensus_seal_check_seconds_count",
		"quern_chain_blocks_imported_total",
	} {
		if _, ok := got[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("miner: %s; scraped %v", what, got)
		}
	}
	check("head > 0", got["quern_chain_head_number"] >= 3)
	check("blocks found >= 1", got["quern_miner_blocks_found_total"] >= 1)
	check("blocks imported >= found", got["quern_chain_blocks_imported_total"] >= got["quern_miner_blocks_found_total"])
	check("seal checks >= 1", got["quern_consensus_seal_check_seconds_count"] >= 1)
	check("synthetic MACs > 0", got["quern_miner_synthetic_macs_total"] > 0)
	check("tickets > 0", got["quern_miner_tickets_tried_total"] > 0)
	check("earned > 0 QRN", got["quern_miner_earned_qrn"] > 0)
	check("useful share in [0,1]", got["quern_miner_useful_share"] >= 0 && got["quern_miner_useful_share"] <= 1)

	// Every metric is documented, and the dashboard asks only for metrics that exist.
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("../docs/grafana-quern.json")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for k := range got {
		name, _, _ := strings.Cut(k, "{")
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			name = strings.TrimSuffix(name, suf)
		}
		if strings.HasPrefix(name, "quern_") {
			names[name] = true
			if !strings.Contains(string(doc), "`"+name) {
				t.Errorf("metric %s is not in docs/metrics.md", name)
			}
		}
	}
	names["quern_chain_blocks_rejected_total"] = true // no sample until a block is refused
	for _, used := range regexp.MustCompile(`quern_[a-z0-9_]+`).FindAllString(string(dash), -1) {
		base := strings.TrimSuffix(used, "_bucket")
		if !names[base] {
			t.Errorf("dashboard uses %s, which the node does not export", used)
		}
	}

	fg := scrape(t, f)
	if fg["quern_chain_blocks_imported_total"] < 1 || fg["quern_consensus_seal_check_seconds_count"] < 1 ||
		fg["quern_p2p_peers"] < 1 || fg["quern_chain_head_number"] < 3 {
		t.Errorf("follower metrics did not move: %v", fg)
	}
	if _, ok := fg["quern_miner_blocks_found_total"]; !ok || fg["quern_miner_blocks_found_total"] != 0 {
		t.Errorf("follower found %v blocks, want 0", fg["quern_miner_blocks_found_total"])
	}
}

func TestRejectReason(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{chain.ErrKnownBlock, "known"},
		{fmt.Errorf("wrapped: %w", chain.ErrUnknownParent), "unknown parent"},
		{chain.ErrFutureBlock, "future"},
		{&chain.RuleError{Code: chain.ErrBadSeal, Desc: "losing ticket"}, "bad seal"},
		{errors.New("disk full"), "other"},
	}
	for _, c := range cases {
		if got := rejectReason(c.err); got != c.want {
			t.Errorf("rejectReason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestMinerRewardsBlocks: quern_minerRewards counts the canonical blocks an
// address mined (it answered "blocks": 0 after many mined blocks).
func TestMinerRewardsBlocks(t *testing.T) {
	m := newMiner(t, "miner")
	m.waitHeight(4, time.Minute)
	m.miner.Stop()
	head := m.blockNumber()
	var want uint64
	for n := uint64(1); n <= head; n++ {
		if m.block(n).Coinbase == testCoinbase {
			want++
		}
	}
	var r RPCRewards
	m.call(&r, "minerRewards", testCoinbase)
	if r.Blocks != want || want < 4 {
		t.Fatalf("minerRewards blocks %d, want %d (head %d)", r.Blocks, want, head)
	}
	m.call(&r, "minerRewards", testCoinbase) // the cached count
	if r.Blocks != want {
		t.Fatalf("second call: blocks %d, want %d", r.Blocks, want)
	}
	var other RPCRewards
	m.call(&other, "minerRewards", chain.DevAddress())
	if other.Blocks != 0 {
		t.Fatalf("dev address mined %d blocks, want 0", other.Blocks)
	}
}

func TestMinerSummary(t *testing.T) {
	got := minerSummary(1.23456, 17, 170, 0.125)
	if want := "miner: 1.235 GMAC/s, 17 blocks found, 170.0000 QRN earned, 12.5% useful work"; got != want {
		t.Fatalf("summary %q, want %q", got, want)
	}
	if share := (&metrics{}).usefulShare(); share != 0 {
		t.Fatalf("useful share before work %v", share)
	}
}
