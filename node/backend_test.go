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
		{"auto", []string{"level=INFO", "compute backend: no usable GPU (", "); using CPU " + cpu,
			"compute backend selected", "backend=" + cpu, `reason="--compute auto: no usable GPU`}},
		{"", []string{"level=INFO", "compute backend: no usable GPU (", "compute backend selected", "backend=" + cpu}},
		{"cpu", []string{"level=INFO", "compute backend selected", "backend=" + cpu, `reason="--compute cpu`}},
		{"CUDA", []string{"level=WARN", "falling back to CPU " + cpu,
			"compute backend selected", "backend=" + cpu, `reason="--compute cuda: no usable GPU`}},
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
			if n := strings.Count(out, "compute backend selected"); n != 1 {
				t.Fatalf("%d 'compute backend selected' lines, want 1:\n%s", n, out)
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
