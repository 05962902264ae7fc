package node

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/compute/cuda"
)

// TestSelectBackend runs every --compute mode on a machine without a usable
// GPU: each must land on the best CPU backend and say so, never fail.
func TestSelectBackend(t *testing.T) {
	if gpu, err := cuda.Open(slog.New(slog.DiscardHandler)); err == nil {
		gpu.Close()
		t.Skip("a usable GPU is present: the CPU fallback cannot be observed here")
	}
	cpu := compute.CPU().Name()
	for _, tc := range []struct {
		mode string
		want []string // substrings of the log, in order
	}{
		{"auto", []string{"level=INFO", "compute backend selected", "backend=" + cpu, `reason="--compute auto: no usable GPU (`}},
		{"", []string{"level=INFO", "compute backend selected", "backend=" + cpu, "no usable GPU"}},
		{"cpu", []string{"level=INFO", "compute backend selected", "backend=" + cpu, `reason="--compute cpu`}},
		{"CUDA", []string{"level=WARN", "compute backend selected", "backend=" + cpu,
			`reason="--compute cuda asked for a GPU but none is usable (`, "falling back to CPU " + cpu}},
	} {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			be, closeFn, err := selectBackend(tc.mode, log)
			if err != nil {
				t.Fatalf("selectBackend(%q): %v", tc.mode, err)
			}
			defer closeFn()
			if be.Name() != cpu {
				t.Fatalf("backend %q, want the best CPU backend %q", be.Name(), cpu)
			}
			out := buf.String()
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("log lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			// One line, saying the reason once, without a literal newline.
			if n := strings.Count(out, "\n"); n != 1 || strings.Count(out, "compute backend selected") != 1 {
				t.Fatalf("%d log lines, want the one 'compute backend selected' line:\n%s", n, out)
			}
			if strings.Count(out, "no usable GPU") > 1 || strings.Contains(out, `\n`) {
				t.Fatalf("the GPU's absence is told twice, or with a literal newline:\n%s", out)
			}
		})
	}
}

func TestSelectBackendUnknownMode(t *testing.T) {
	var buf bytes.Buffer
	_, _, err := selectBackend("tpu", slog.New(slog.NewTextHandler(&buf, nil)))
	if err == nil || !strings.Contains(err.Error(), `unknown --compute "tpu"`) {
		t.Fatalf("err = %v, want an unknown --compute error", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("a rejected mode logged:\n%s", buf.String())
	}
	cfg := DefaultConfig()
	cfg.Dev, cfg.DataDir, cfg.Compute = true, t.TempDir(), "tpu"
	if _, err := New(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "--compute") {
		t.Fatalf("New with --compute tpu: err = %v, want a config error", err)
	}
}
