// Package cuda runs quern's products on NVIDIA GPUs through cgo, without
// needing CUDA at build time: libcuda.so.1 and NVRTC are opened at run time
// (dlopen; QUERN_CUDA_LIB and QUERN_NVRTC_LIB override their paths) and the
// kernels, CUDA C source embedded in the binary (kernels.cu), are compiled by
// NVRTC for each GPU architecture at Open. Without cgo, off linux, without a
// driver, a GPU or NVRTC, Open returns an error and the caller keeps the CPU.
//
// The noised product (noise v2, compute/noise.go) is a plain int8 GEMM of
// A' = A+E and B' = B+F, which the host builds (Noise.NoisedOperands) and
// uploads. It runs on int8 tensor cores (mma.sync m16n8k32, sm_80+; dp4a on
// sm_61–75 or with QUERN_CUDA_KERNEL=dp4a); the transcript mix runs on the
// int32 accumulators in registers after every chunk and only two 32-bit
// partial words per (tile, chunk) leave the chip. The host sums them mod 2³²
// and hashes them into tile digests; C = A·B is a second, plain GEMM of A and
// B (one kernel does both when there is no noise). Tile rows are split across
// all GPUs. Geometries other than b = 64, κ a multiple of 64 run on the CPU
// fallback.
package cuda
