package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/quern-chain/quern/node"
)

// A matmul job's --wait shows its status: a line per change off a
// terminal, one rewritten line with the time waited on one.
func TestJobStatusProgress(t *testing.T) {
	job := func(st string) *node.RPCJob { return &node.RPCJob{Kind: "matmul", Status: st, Work: 1000} }
	var plain bytes.Buffer
	p := &trainProgress{w: &plain}
	for _, st := range []string{"submitted", "submitted", "pending", "pending", "done"} {
		p.show(job(st))
	}
	p.end()
	if got, want := plain.String(), "job submitted\njob pending (1000 MACs to compute)\njob done\n"; got != want {
		t.Fatalf("plain status lines %q, want %q", got, want)
	}
	var tty bytes.Buffer
	p = &trainProgress{w: &tty, tty: true}
	p.show(job("pending"))
	p.show(job("done"))
	p.end()
	if out := tty.String(); strings.Count(out, "\r\033[K") != 2 || !strings.Contains(out, "job done, waited 0s") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("terminal status line %q", out)
	}
}

// Usage errors are one line with a suggestion, in process as from the binary.
func TestUsageErrorsSuggest(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"wallet", "balanse"}, `unknown command "balanse" for quern wallet (did you mean "balance"?)`},
		{[]string{"job", "lst"}, `did you mean "list"?`},
		{[]string{"wallet", "balance", "--jsn", "0x3eaa0eb0eF2725AB5962BcddE5D5D5e6f08ba901"}, "unknown flag --jsn (did you mean --json?)"},
		{[]string{"dumpconfig", "--minee"}, "did you mean --mine?"},
		{[]string{"completion", "fish"}, "unknown shell"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"quern"}, tc.args...), nil, &stdout, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 || stdout.Len() != 0 {
			t.Errorf("%v: stderr %q stdout %q, want one line with %q", tc.args, stderr.String(), stdout.String(), tc.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"quern", "completion", "bash"}, nil, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "--generate-bash-completion") || !strings.Contains(stdout.String(), "complete ") {
		t.Fatalf("completion bash: %d %q %q", code, stdout.String(), stderr.String())
	}
}

func TestModelEvalJSON(t *testing.T) {
	stdout, stderr, code := quern(t, "model", "eval", "--json", "--model", writeRuleModel(t, -1), "--data", ruleCSV(t, 2))
	var got struct {
		Accuracy      float64
		Correct, Rows int
		Classes       []struct{ Class, Correct, Rows int }
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got.Accuracy != 15.0/16 || got.Correct != 15 || got.Rows != 16 || len(got.Classes) != 2 || got.Classes[1].Correct != 7 {
		t.Fatalf("model eval --json: %+v", got)
	}
}
