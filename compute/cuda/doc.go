// Package cuda runs quern's products on NVIDIA GPUs through cgo, without
// needing CUDA at build time: libcuda.so.1 and NVRTC are opened at run time
// (dlopen; QUERN_CUDA_LIB and QUERN_NVRTC_LIB override their paths) and the
// kernels, CUDA C source embedded in the binary (kernels.cu), are compiled by
// NVRTC for each GPU architecture at Open. Without cgo, off linux, without a
// driver, a GPU or NVRTC, Open returns an error and the caller keeps the CPU.
//
// The noised product (PROTOCOL.md §3) runs on int8 tensor cores (mma.sync
// m16n8k32, sm_80+; dp4a on sm_61–75 or with QUERN_CUDA_KERNEL=dp4a). A+E
// does not fit int8, so each 64-wide K segment carries 32 extra int8 columns
// whose dot product is the segment's low-rank correction A·F + E·(B+F) in
// base-127 digits: the accumulator then holds the noised partial sums P', the
// transcript mix runs on them in registers after every chunk, and only one
// word per (tile, chunk) leaves the chip. The host hashes those words into
// tile digests and denoising the last accumulator gives the exact A·B.
// Tile rows are split across all GPUs. Geometries other than b = 64,
// κ a multiple of 64, rank ≤ 8 run on the CPU fallback.
package cuda
