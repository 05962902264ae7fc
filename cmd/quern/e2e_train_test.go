package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/node"
)

// blobsCSV is n rows of a 3-class problem, Gaussian blobs in 4 features
// whose scales differ by up to 10^6, with a header: what quantisation
// must absorb before the chain ever sees the rows.
func blobsCSV(r *rand.Rand, n int) []byte {
	scales := []float64{1, 1000, 0.001, 50}
	centers := [][]float64{{0, 0, 0, 0}, {3, -2, 1, 2}, {-2, 3, -3, -1}}
	var b bytes.Buffer
	b.WriteString("alpha,beta,gamma,delta,class\n")
	for range n {
		c := r.Intn(3)
		for j, s := range scales {
			fmt.Fprintf(&b, "%g,", (centers[c][j]+r.NormFloat64()+10)*s)
		}
		fmt.Fprintf(&b, "%d\n", c)
	}
	return b.Bytes()
}

// The README's training walkthrough: a CSV trained by a --dev --mine node's
// chain, checked by a second node that syncs it, the model fetched from
// the second node and evaluated on held-out rows.
func TestEndToEndTraining(t *testing.T) {
	if e2eSkip != "" {
		t.Skip("end-to-end tests skipped with " + e2eSkip)
	}
	began := time.Now()
	dir := t.TempDir()
	d1, d2 := filepath.Join(dir, "n1"), filepath.Join(dir, "n2")
	nodeArgs := func(datadir string, extra ...string) []string {
		return append([]string{"--dev", "--datadir", datadir, "--rpc.addr", "127.0.0.1:0", "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}, extra...)
	}
	r := rand.New(rand.NewSource(7))
	train, test := filepath.Join(dir, "train.csv"), filepath.Join(dir, "test.csv")
	os.WriteFile(train, blobsCSV(r, 300), 0o644)
	os.WriteFile(test, blobsCSV(r, 300), 0o644)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o600)

	n1 := startNode(t, "miner", nodeArgs(d1, "--mine")...)
	n1.waitHeight(1, 90*time.Second)
	submit := func(extra ...string) []string {
		return append([]string{"job", "submit", "train", "--rpc", n1.rpc, "--keystore", filepath.Join(d1, "keystore"),
			"--password-file", empty, "--from", chain.DevAddress().Hex()}, extra...)
	}

	// Refused before anything is signed, each with what to do.
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("a,b,c,d,class\n1,2,3,4,0\n1,2,3,4,1\n1,2,oops,4,2\n"), 0o644)
	cliFails(t, "line 4", submit("--data", bad, "--layers", "4,16,3", "--steps", "10", "--fee", "1")...)
	cliFails(t, "4 feature columns but the input layer is 5 wide", submit("--data", train, "--layers", "5,16,3", "--steps", "10", "--fee", "1")...)
	cliFails(t, "make the last width 3 or more", submit("--data", train, "--layers", "4,16,2", "--steps", "10", "--fee", "1")...)
	cliFails(t, "not a positive width", submit("--data", train, "--layers", "4,x,3", "--steps", "10", "--fee", "1")...)
	cliFails(t, "batch 400 is larger than the training set", submit("--data", train, "--layers", "4,16,3", "--steps", "10", "--batch", "400", "--fee", "1")...)
	cliFails(t, "--fee is required: this job's base fee is", submit("--data", train, "--layers", "4,16,3", "--steps", "300")...)
	cliFails(t, "below this job's base fee", submit("--data", train, "--layers", "4,16,3", "--steps", "300", "--fee", "0.000000001")...)
	var wide bytes.Buffer // 784 features: MNIST's width
	for i := range 20 {
		for j := range 784 {
			fmt.Fprintf(&wide, "%d,", (i*31+j*17)%256)
		}
		fmt.Fprintf(&wide, "%d\n", i%10)
	}
	widePath := filepath.Join(dir, "wide.csv")
	os.WriteFile(widePath, wide.Bytes(), 0o644)
	// Its quantisation rule (~5 KiB) travels with the job.
	if id := strings.TrimSpace(runQuern(t, submit("--data", widePath, "--layers", "784,16,10", "--steps", "10", "--batch", "8", "--fee", "1")...)); len(id) != 66 {
		t.Fatalf("submit of a 784-feature job printed %q, want a job id", id)
	}
	cliFails(t, "no such file", submit("--data", filepath.Join(dir, "missing.csv"), "--layers", "4,16,3", "--steps", "10", "--fee", "1")...)

	// Submitted and waited for: the progress shows as plain lines off a terminal.
	const steps = 300
	submitted := time.Now()
	out, errOut, err := cliRun(submit("--data", train, "--layers", "4,16,3", "--steps", strconv.Itoa(steps), "--batch", "32",
		"--fee", "1", "--wait", "--poll", "200ms", "--timeout", "2m")...)
	if err != nil {
		t.Fatalf("job submit train: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	id := strings.TrimSpace(out)
	if !strings.Contains(errOut, "training: ") || !strings.Contains(errOut, fmt.Sprintf("%d/%d steps (100%%)", steps, steps)) || strings.Contains(errOut, "\r") {
		t.Fatalf("--wait off a terminal printed %q, want plain progress lines", errOut)
	}
	trained := time.Since(submitted)
	status := runQuern(t, "job", "status", "--rpc", n1.rpc, id)
	for _, want := range []string{"status:     done", "kind:       train", fmt.Sprintf("progress:   %d/%d steps (100%%)", steps, steps), "checkpoint: 0x"} {
		if !strings.Contains(status, want) {
			t.Fatalf("job status lacks %q:\n%s", want, status)
		}
	}
	if !strings.Contains(n1.logText(), fmt.Sprintf("step %d/%d", steps, steps)) {
		t.Errorf("the miner logged no training progress")
	}

	// A second node, not mining, syncs and validates the chain: same head, the job done.
	var info node.RPCNodeInfo
	n1.call(&info, "quern_nodeInfo")
	n2 := startNode(t, "follower", nodeArgs(d2, "--bootnodes", strings.Join(info.Addrs, ","))...)
	var job1 node.RPCJob
	n1.call(&job1, "quern_getJob", id)
	n2.waitHeight(n1.height(), 90*time.Second)
	target := n2.height()
	if b1, b2 := n1.block(target), n2.block(target); b1.Hash != b2.Hash || b1.StateRoot != b2.StateRoot {
		t.Fatalf("at height %d: miner %s, follower %s", target, b1.Hash, b2.Hash)
	}
	var job2 node.RPCJob
	n2.call(&job2, "quern_getJob", id)
	if job2.Status != "done" || job2.Kind != "train" || job2.StepsDone != steps || job2.Steps != steps || job2.Checkpoint == nil || *job2.Checkpoint != *job1.Checkpoint {
		t.Fatalf("follower's job %+v, miner's %+v", job2, job1)
	}

	// The model, from the follower, beats 90% on rows it never saw.
	model := filepath.Join(dir, "model")
	if got := runQuern(t, "job", "result", "--rpc", n2.rpc, id, "--out", model); !strings.Contains(got, "300/300 steps") {
		t.Fatalf("job result printed %q", got)
	}
	raw, err := os.ReadFile(filepath.Join(model, "model.json"))
	if err != nil || !strings.Contains(strings.ToLower(string(raw)), strings.ToLower(id)) {
		t.Fatalf("model.json (%v) does not name the job:\n%s", err, raw)
	}
	acc := runQuern(t, "model", "eval", "--model", model, "--data", test)
	pct, err := strconv.ParseFloat(strings.TrimSuffix(acc, "%"), 64)
	if err != nil || pct <= 90 {
		t.Fatalf("model eval printed %q, want an accuracy above 90%%", acc)
	}
	t.Logf("trained %d steps in %s after submission (%s in all); test accuracy %s", steps, trained.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), acc)
}
