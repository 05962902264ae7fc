#!/usr/bin/env python3
"""Times cuBLAS int8 GEMM (torch._int_mm: int8 x int8 -> int32) on the shapes
quern's CUDA benchmarks use and prints them beside ours.

  python3 scripts/gpu/torch_int_mm.py --ours .dev/cuda-bench.txt

--ours is the output of `cuda.test -test.bench BenchmarkCUDA` (see bench.sh);
without it only the cuBLAS column is printed. GMAC/s counts n^3 useful MACs
(ours: packing + product on device-resident data, like cuBLAS here).
"""
import argparse
import re
import sys

BENCH = re.compile(r"^BenchmarkCUDA/(matmul|noised)/(\d+)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) GMAC/s", re.M)
E2E = re.compile(r"^BenchmarkCUDAEndToEnd/(matmul|noised)/(\d+)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) GMAC/s", re.M)


def parse(path, pattern):
    with open(path) as f:
        text = f.read()
    return {(kind, int(n)): float(v) for kind, n, v in pattern.findall(text)}


def cublas_gmacs(torch, n, iters):
    a = torch.randint(-127, 128, (n, n), dtype=torch.int8, device="cuda")
    b = torch.randint(-127, 128, (n, n), dtype=torch.int8, device="cuda")
    best = 0.0
    # Row-major and column-major B: cuBLASLt may prefer either; keep the faster.
    for bb in (b, b.t().contiguous().t()):
        for _ in range(3):
            torch._int_mm(a, bb)
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            torch._int_mm(a, bb)
        end.record()
        torch.cuda.synchronize()
        seconds = start.elapsed_time(end) / 1e3 / iters
        best = max(best, n ** 3 / seconds / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", help="go test -bench output with BenchmarkCUDA lines")
    ap.add_argument("--sizes", default="1024,4096,8192")
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        sys.exit("torch_int_mm.py: no CUDA device visible to PyTorch")
    print(f"# {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    ours = parse(args.ours, BENCH) if args.ours else {}
    e2e = parse(args.ours, E2E) if args.ours else {}

    def cell(v):
        return f"{v:10.0f}" if v is not None else f"{'-':>10}"

    def ratio(v, ref):
        return f"{v / ref:7.1%}" if v is not None and ref else f"{'-':>7}"

    print(f"{'shape':>16} {'ours mm':>10} {'ours mine':>10} {'cuBLAS':>10} {'mm/cuBLAS':>10} {'mine/cuBLAS':>12}   (GMAC/s)")
    for n in (int(s) for s in args.sizes.split(",")):
        ref = cublas_gmacs(torch, n, args.iters)
        mm, mine = ours.get(("matmul", n)), ours.get(("noised", n))
        print(f"{f'{n}x{n}x{n}':>16} {cell(mm)} {cell(mine)} {cell(ref)} {ratio(mm, ref):>10} {ratio(mine, ref):>12}")
    if e2e:
        print("# end to end (host<->device transfers and tile digests included):")
        for (kind, n), v in sorted(e2e.items()):
            print(f"#   {kind:7} {n:5}: {v:10.0f} GMAC/s")


if __name__ == "__main__":
    main()
