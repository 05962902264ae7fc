#!/usr/bin/env bash
# Checks and times the CUDA backend on a machine with an NVIDIA GPU and
# PyTorch but no Go. Build the test binary where Go is, and carry .dev/ over:
#   CGO_ENABLED=1 go test -c -o .dev/cuda.test ./compute/cuda
# Then, from the repository root on the GPU machine:
#   scripts/gpu/bench.sh            # golden + random bit-exactness, then benchmarks
#   BENCHTIME=5x scripts/gpu/bench.sh
# Prints one table: shape, ours (plain product), ours (noised mining kernel),
# cuBLAS int8 (torch._int_mm), and our ratios to cuBLAS.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${QUERN_CUDA_TEST:-$root/.dev/cuda.test}
benchtime=${BENCHTIME:-20x}
out=${OUT:-$root/.dev}
mkdir -p "$out"
[ -x "$bin" ] || { echo "bench.sh: $bin missing: build it with 'CGO_ENABLED=1 go test -c -o .dev/cuda.test ./compute/cuda'" >&2; exit 2; }

# A pip-installed PyTorch brings its own NVRTC (nvidia-cuda-nvrtc-cu12) off
# the loader's path; point quern at it when the system has none.
if [ -z "${QUERN_NVRTC_LIB:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so'; then
	lib=$(python3 - <<'PY' 2>/dev/null || true
import glob, os, site
dirs = site.getsitepackages() + [site.getusersitepackages()]
for d in dirs:
    for p in sorted(glob.glob(os.path.join(d, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")), key=len):
        if "builtins" not in p:
            print(p)
            raise SystemExit
PY
)
	if [ -n "$lib" ]; then
		export QUERN_NVRTC_LIB=$lib
		export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
		echo "bench.sh: NVRTC from PyTorch's wheel: $lib"
	fi
fi

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

# The test binary reads testdata relative to its package directory.
cd "$root/compute/cuda"
echo "== bit-exactness (golden vectors, random shapes vs the portable CPU backend)"
"$bin" -test.run 'Open|Golden|Random|Visit|NVRTC' -test.v 2>&1 | tee "$out/cuda-test.txt"
if ! grep -q '^--- PASS: TestGoldenCUDA' "$out/cuda-test.txt"; then
	echo "bench.sh: TestGoldenCUDA did not pass (skipped = no usable GPU): see above" >&2
	exit 1
fi

# The dp4a kernel is a second, simpler implementation: if the tensor-core one
# ever disagrees, this says whether the decomposition or the fragment code is
# at fault. Informational only.
echo "== cross-check: the dp4a kernel on the same vectors"
QUERN_CUDA_KERNEL=dp4a "$bin" -test.run 'Golden|Random' 2>&1 | tail -3 || true

echo "== benchmarks ($benchtime)"
"$bin" -test.run '^$' -test.bench '^BenchmarkCUDA' -test.benchtime "$benchtime" 2>&1 | tee "$out/cuda-bench.txt"

echo "== cuBLAS int8 via torch._int_mm"
python3 "$root/scripts/gpu/torch_int_mm.py" --ours "$out/cuda-bench.txt"
