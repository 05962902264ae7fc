package node

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/compute/cuda"
)

// Values of --compute.
const (
	ComputeAuto = "auto" // the GPU when one is usable, else the best CPU backend
	ComputeCPU  = "cpu"  // the best CPU backend for this machine
	ComputeCUDA = "cuda" // the GPU; falls back to the CPU (with a warning) when none is usable

	DefaultCompute = ComputeAuto
)

// checkComputeMode reports whether mode is a --compute value.
func checkComputeMode(mode string) error {
	switch normComputeMode(mode) {
	case ComputeAuto, ComputeCPU, ComputeCUDA:
		return nil
	}
	return fmt.Errorf("unknown --compute %q: use auto, cpu or cuda", mode)
}

func normComputeMode(mode string) string {
	mode = strings.ToLower(strings.TrimSpace(mode))
	if mode == "" {
		return DefaultCompute
	}
	return mode
}

// selectBackend opens the compute backend that --compute asks for and
// returns it with the function that releases it. A missing or broken GPU is
// never fatal: the node falls back to the CPU and one log line says which
// backend runs and why.
func selectBackend(mode string, log *slog.Logger) (compute.Backend, func(), error) {
	if err := checkComputeMode(mode); err != nil {
		return nil, nil, err
	}
	mode = normComputeMode(mode)
	noop := func() {}
	var be compute.Backend
	var closeFn func()
	var reason string
	switch mode {
	case ComputeCPU:
		be, closeFn = compute.CPU(), noop
		reason = "--compute cpu: " + compute.Describe(be)
	case ComputeAuto, ComputeCUDA:
		gpu, err := cuda.Open(log)
		if err == nil {
			// Products the GPU kernels do not cover run on the best CPU backend.
			gpu.SetFallback(compute.CPU())
			be, closeFn = gpu, func() { gpu.Close() }
			reason = fmt.Sprintf("--compute %s: usable GPU (%s)", mode, strings.Join(gpu.Devices(), "; "))
			break
		}
		be, closeFn = compute.CPU(), noop
		// One line, one level: the cause may join several loader errors
		// with newlines, which a log line must not carry.
		cause := strings.ReplaceAll(err.Error(), "\n", "; ")
		if mode == ComputeAuto {
			reason = fmt.Sprintf("--compute auto: no usable GPU (%s); %s", cause, compute.Describe(be))
		} else {
			reason = fmt.Sprintf("--compute cuda asked for a GPU but none is usable (%s); falling back to CPU %s", cause, compute.Describe(be))
			log.Warn("compute backend selected", "backend", be.Name(), "reason", reason)
			return be, closeFn, nil
		}
	}
	log.Info("compute backend selected", "backend", be.Name(), "reason", reason)
	return be, closeFn, nil
}
