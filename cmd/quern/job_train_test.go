package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/quern-chain/quern/node"
)

func TestParseLayers(t *testing.T) {
	got, err := parseLayers("64, 64,10")
	if err != nil || len(got) != 3 || got[0] != 64 || got[2] != 10 {
		t.Fatalf("parseLayers: %v, %v", got, err)
	}
	for _, bad := range []string{"", "10", "4,0,3", "4,-1,3", "4,,3", "4,x"} {
		if _, err := parseLayers(bad); err == nil {
			t.Errorf("parseLayers(%q) accepted", bad)
		}
	}
}

// Off a terminal --wait prints a line each time the steps on chain move;
// on one it rewrites a single line with rate and ETA.
func TestTrainProgress(t *testing.T) {
	job := func(done uint32) *node.RPCJob { return &node.RPCJob{Kind: "train", StepsDone: done, Steps: 300} }
	var plain bytes.Buffer
	p := &trainProgress{w: &plain}
	for _, d := range []uint32{0, 0, 160, 160, 300} {
		p.show(job(d))
	}
	p.end()
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "training: 0/300 steps (0%)") || !strings.HasPrefix(lines[2], "training: 300/300 steps (100%)") || strings.Contains(plain.String(), "\r") {
		t.Fatalf("plain progress:\n%s", plain.String())
	}
	var tty bytes.Buffer
	p = &trainProgress{w: &tty, tty: true}
	p.show(job(0))
	p.start = p.start.Add(-10e9) // 160 steps in 10 s
	p.show(job(160))
	p.end()
	out := tty.String()
	if strings.Count(out, "\r\033[K") != 2 || !strings.Contains(out, "160/300 steps (53%), 16.0 steps/s, ETA 9s") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("terminal progress: %q", out)
	}
}
