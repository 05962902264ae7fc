// quern's CUDA kernels, compiled at run time by NVRTC (embedded in the Go
// binary; see doc.go). No header is included and no CUDA built-in function is
// used beyond threadIdx/blockIdx/blockDim and __syncthreads: everything else
// is inline PTX, so the source compiles the same with any NVRTC ≥ 11.
//
// Noise v2 (compute/noise.go): A' = A + E and B' = B + F are int8 and are
// built on the host (Noise.NoisedOperands), so the noised product is a plain
// int8 GEMM of A' and B'. The transcript of tile (I, J) mixes the cumulative
// partial sums P'(t) after every chunk t of κ columns:
//   z(t) = Σ_{ii,jj} (uint32(P'(t)[ii][jj]) ^ salt)² mod 2³²,
//   salt = uint32(ii·b + jj + 1)·0x9E3779B1,
// all in 32-bit arithmetic, so any reduction order gives the same word. The
// kernels write the z words (two partial words per (tile, chunk), summed mod
// 2³² by the host, which hashes them into tile digests with Keccak-256).
// C = A·B is a second, plain GEMM of the unnoised operands.
//
// Data layout (built by quern_pack_a / quern_pack_b, mirrored in Go by the
// reference in reference_test.go): K is cut into segments of SEG = 64
// columns; packed operands are row-major M_p × kq (A) and N_p × kq (B
// transposed), kq = segs·64, M_p, N_p multiples of 128, zero padded: zeros
// change no sum.

typedef signed char i8;
typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEG 64          // k per segment
#define TILE 64         // transcript tile edge b (Geometry.Tile)
#define MIXSTEP 0x9E3779B1u

struct __attribute__((aligned(16))) q16 {
    u32 x, y, z, w;
};

__device__ __forceinline__ void store16(q16* p, u32 x, u32 y, u32 z, u32 w) {
    q16 v;
    v.x = x;
    v.y = y;
    v.z = z;
    v.w = w;
    *p = v;
}

__device__ __forceinline__ u32 pack4(int a, int b, int c, int d) {
    return (u32)(u8)a | ((u32)(u8)b << 8) | ((u32)(u8)c << 16) | ((u32)(u8)d << 24);
}

__device__ __forceinline__ u32 warp_sum32(u32 z) {
#pragma unroll
    for (int lanes = 16; lanes > 0; lanes >>= 1) {
        u32 o;
        asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=r"(o) : "r"(z), "r"(lanes));
        z += o;
    }
    return z;
}

// salt of local tile coordinates (ii, jj): uint32(ii·b + jj + 1) · 0x9E3779B1.
__device__ __forceinline__ u32 salt(int ii, int jj) { return (u32)(ii * TILE + jj + 1) * MIXSTEP; }

// One segment of packed A: thread per (row, segment), consecutive threads on
// consecutive segments of a row so the reads of A are contiguous.
extern "C" __global__ void quern_pack_a(const i8* __restrict__ a, int m, int k, i8* __restrict__ out, int rows,
                                        int segs) {
    long long id = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (long long)rows * segs) return;
    int s = (int)(id % segs), i = (int)(id / segs);
    q16* dst = (q16*)(out + ((size_t)i * segs + s) * SEG);
    bool live = i < m;
    const i8* row = a + (size_t)i * k;
#pragma unroll 1
    for (int c = 0; c < SEG / 16; c++) {
        u32 w[4];
#pragma unroll
        for (int wi = 0; wi < 4; wi++) {
            int v[4];
#pragma unroll
            for (int bi = 0; bi < 4; bi++) {
                int kk = s * SEG + c * 16 + wi * 4 + bi;
                v[bi] = (live && kk < k) ? (int)row[kk] : 0;
            }
            w[wi] = pack4(v[0], v[1], v[2], v[3]);
        }
        store16(&dst[c], w[0], w[1], w[2], w[3]);
    }
}

// One segment of packed Bᵀ: thread per (column, segment), consecutive threads
// on consecutive columns so the reads of B's rows coalesce.
extern "C" __global__ void quern_pack_b(const i8* __restrict__ b, int k, int n, i8* __restrict__ out, int cols,
                                        int segs) {
    long long id = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (long long)cols * segs) return;
    int j = (int)(id % cols), s = (int)(id / cols);
    q16* dst = (q16*)(out + ((size_t)j * segs + s) * SEG);
    bool live = j < n;
#pragma unroll 1
    for (int c = 0; c < SEG / 16; c++) {
        u32 w[4];
#pragma unroll
        for (int wi = 0; wi < 4; wi++) {
            int v[4];
#pragma unroll
            for (int bi = 0; bi < 4; bi++) {
                int kk = s * SEG + c * 16 + wi * 4 + bi;
                v[bi] = (live && kk < k) ? (int)b[(size_t)kk * n + j] : 0;
            }
            w[wi] = pack4(v[0], v[1], v[2], v[3]);
        }
        store16(&dst[c], w[0], w[1], w[2], w[3]);
    }
}

// Schedule of the transcript over the packed k-steps: after every step of
// `step` columns, advance() says whether a transcript chunk just ended (spc
// segments of `width` columns make a chunk; the last segment always ends the
// last chunk). Counters instead of divisions: this runs every k-step.
struct MixSchedule {
    int width, spc, segs, step;
    int in_seg, seg, seg_in_chunk, chunk;
    __device__ __forceinline__ void init(int w, int s, int n, int k) {
        width = w;
        spc = s;
        segs = n;
        step = k;
        in_seg = 0;
        seg = 0;
        seg_in_chunk = 0;
        chunk = 0;
    }
    // advance returns the chunk that ended after this step, or -1.
    __device__ __forceinline__ int advance() {
        in_seg += step;
        if (in_seg < width) return -1;
        in_seg = 0;
        seg++;
        if (++seg_in_chunk < spc && seg < segs) return -1;
        seg_in_chunk = 0;
        return chunk++;
    }
};

#if __CUDA_ARCH__ >= 800
// ---- sm_80+: mma.sync m16n8k32 s8·s8→s32, cp.async 4-stage pipeline ----
// CTA 128×128 (2×2 transcript tiles), 8 warps as 2 (M) × 4 (N), warp tile
// 64×32: every warp lies inside one transcript tile, so its partial z needs no
// block-wide reduction (the two warps of a tile write one half each).
#define BM 128
#define BN 128
#define BK 32
#define STAGES 4
#define THREADS 256

__device__ __forceinline__ u32 smem_u32(const void* p) {
    u32 r;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(r) : "l"(p));
    return r;
}

__device__ __forceinline__ void cp_async16(u32 dst, const void* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src) : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(u32 r[4], u32 addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void mma_s8(int c[4], const u32 a[4], const u32 b[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Shared tiles are BM rows of BK = 32 bytes; the two 16-byte halves of a row
// swap every 4 rows so that ldmatrix's 8 rows hit 8 distinct bank groups.
__device__ __forceinline__ int swz(int row, int half) { return row * BK + ((half ^ ((row >> 2) & 1)) << 4); }

template <bool NOISED>
__device__ __forceinline__ void gemm_mma(const i8* __restrict__ ap, const i8* __restrict__ bp, int kq, int m,
                                         int n, int* __restrict__ c, int width, int spc, int segs,
                                         u32* __restrict__ zpart, int chunks, int tiles_n) {
    __shared__ __attribute__((aligned(128))) u8 sa[STAGES][BM * BK];
    __shared__ __attribute__((aligned(128))) u8 sb[STAGES][BN * BK];
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    int wm = warp >> 2, wn = warp & 3;
    int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    int ksteps = kq / BK;

    // Each thread copies one 16-byte half row of A and of B per stage.
    int lr = tid >> 1, lh = tid & 1;
    const i8* ga = ap + (size_t)(row0 + lr) * kq + lh * 16;
    const i8* gb = bp + (size_t)(col0 + lr) * kq + lh * 16;
    int soff = swz(lr, lh);

    int acc[4][4][4];
#pragma unroll
    for (int mt = 0; mt < 4; mt++)
#pragma unroll
        for (int nt = 0; nt < 4; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[mt][nt][e] = 0;

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < ksteps) {
            cp_async16(smem_u32(&sa[s][soff]), ga + s * BK);
            cp_async16(smem_u32(&sb[s][soff]), gb + s * BK);
        }
        cp_async_commit();
    }

    // ldmatrix lanes: A matrices (rows 0-7 | 8-15) × (k 0-15 | 16-31) give the
    // a0..a3 registers of m16n8k32; B matrices (k 0-15 | 16-31) × (n 0-7 | 8-15)
    // give b0, b1 of two n-tiles.
    int a_row = ((lane >> 3) & 1) * 8 + (lane & 7), a_half = lane >> 4;
    int b_row = (lane >> 4) * 8 + (lane & 7), b_half = (lane >> 3) & 1;
    MixSchedule sched;
    sched.init(width, spc, segs, BK);

#pragma unroll 1
    for (int ks = 0; ks < ksteps; ks++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        int nk = ks + STAGES - 1;
        if (nk < ksteps) {
            int st = nk % STAGES;
            cp_async16(smem_u32(&sa[st][soff]), ga + (size_t)nk * BK);
            cp_async16(smem_u32(&sb[st][soff]), gb + (size_t)nk * BK);
        }
        cp_async_commit();

        int st = ks % STAGES;
        u32 af[4][4], bf[4][2];
#pragma unroll
        for (int mt = 0; mt < 4; mt++) {
            int r = wm * 64 + mt * 16 + a_row;
            ldmatrix_x4(af[mt], smem_u32(&sa[st][swz(r, a_half)]));
        }
#pragma unroll
        for (int np = 0; np < 2; np++) {
            int r = wn * 32 + np * 16 + b_row;
            u32 t[4];
            ldmatrix_x4(t, smem_u32(&sb[st][swz(r, b_half)]));
            bf[2 * np][0] = t[0];
            bf[2 * np][1] = t[1];
            bf[2 * np + 1][0] = t[2];
            bf[2 * np + 1][1] = t[3];
        }
#pragma unroll
        for (int mt = 0; mt < 4; mt++)
#pragma unroll
            for (int nt = 0; nt < 4; nt++) mma_s8(acc[mt][nt], af[mt], bf[nt]);

        int chunk = NOISED ? sched.advance() : -1;
        if (NOISED && chunk >= 0) {
            // Fused transcript mix: the partial sums stay in registers.
            int ti = (row0 + wm * 64) / TILE, tj = (col0 + (wn >> 1) * 64) / TILE;
            if (ti * TILE < m && tj * TILE < n) {  // warp-uniform
                int g = lane >> 2, tg = lane & 3, jb = (wn & 1) * 32;
                u32 z = 0;
                if ((ti + 1) * TILE <= m && (tj + 1) * TILE <= n) {
                    // Interior tile: salt = base + compile-time offset, then xor and a wide multiply-add.
                    u32 base = salt(g, jb + tg * 2);
#pragma unroll
                    for (int mt = 0; mt < 4; mt++)
#pragma unroll
                        for (int nt = 0; nt < 4; nt++)
#pragma unroll
                            for (int e = 0; e < 4; e++) {
                                u32 off = (u32)(((mt * 16 + (e >> 1) * 8) * TILE + nt * 8 + (e & 1))) * MIXSTEP;
                                u32 x = (u32)acc[mt][nt][e] ^ (base + off);
                                z += x * x;
                            }
                } else {
#pragma unroll
                    for (int mt = 0; mt < 4; mt++)
#pragma unroll
                        for (int nt = 0; nt < 4; nt++)
#pragma unroll
                            for (int e = 0; e < 4; e++) {
                                int ii = mt * 16 + (e >> 1) * 8 + g, jj = jb + nt * 8 + tg * 2 + (e & 1);
                                u32 x = (u32)acc[mt][nt][e] ^ salt(ii, jj);
                                if (ti * TILE + ii < m && tj * TILE + jj < n) z += x * x;
                            }
                }
                z = warp_sum32(z);
                if (lane == 0) zpart[(((size_t)ti * tiles_n + tj) * chunks + chunk) * 2 + (wn & 1)] = z;
            }
        }
    }
    cp_async_wait<0>();
    if (c == 0) return;  // transcript only

    int g = lane >> 2, tg = lane & 3;
#pragma unroll
    for (int mt = 0; mt < 4; mt++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int i = row0 + wm * 64 + mt * 16 + h * 8 + g;
            if (i >= m) continue;
#pragma unroll
            for (int nt = 0; nt < 4; nt++) {
                int j = col0 + wn * 32 + nt * 8 + tg * 2;
                int v0 = acc[mt][nt][2 * h], v1 = acc[mt][nt][2 * h + 1];
                int* dst = c + (size_t)i * n + j;
                if (j + 1 < n && (n & 1) == 0) {
                    asm volatile("st.global.v2.s32 [%0], {%1, %2};" ::"l"(dst), "r"(v0), "r"(v1) : "memory");
                } else {
                    if (j < n) dst[0] = v0;
                    if (j + 1 < n) dst[1] = v1;
                }
            }
        }
}

#define GEMM_PARAMS                                                                                          \
    const i8 *__restrict__ ap, const i8 *__restrict__ bp, int kq, int m, int n, int *__restrict__ c, int width, \
        int spc, int segs, u32 *__restrict__ zpart, int chunks, int tiles_n
#define GEMM_ARGS ap, bp, kq, m, n, c, width, spc, segs, zpart, chunks, tiles_n

extern "C" __global__ void __launch_bounds__(THREADS, 2) quern_gemm_mma_plain(GEMM_PARAMS) {
    gemm_mma<false>(GEMM_ARGS);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) quern_gemm_mma_noised(GEMM_PARAMS) {
    gemm_mma<true>(GEMM_ARGS);
}
#endif  // __CUDA_ARCH__ >= 800

// ---- sm_61+: dp4a, one 64×64 transcript tile per CTA ----
// The fallback for Pascal–Turing, and a second, simpler implementation that
// QUERN_CUDA_KERNEL=dp4a selects anywhere to cross-check the tensor-core one.
#define DT 64
#define DK 32
#define DTHREADS 256

__device__ __forceinline__ int dp4a(int a, int b, int c) {
    int d;
    asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

template <bool NOISED>
__device__ __forceinline__ void gemm_dp4a(const i8* __restrict__ ap, const i8* __restrict__ bp, int kq, int m,
                                          int n, int* __restrict__ c, int width, int spc, int segs,
                                          u32* __restrict__ zpart, int chunks, int tiles_n) {
    __shared__ int sa[DT][DK / 4 + 1], sb[DT][DK / 4 + 1];
    __shared__ u32 red[DTHREADS / 32];
    int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    int ti = blockIdx.y, tj = blockIdx.x;
    int row0 = ti * DT, col0 = tj * DT;
    int ksteps = kq / DK;
    MixSchedule sched;
    sched.init(width, spc, segs, DK);
    int acc[4][4];
#pragma unroll
    for (int r = 0; r < 4; r++)
#pragma unroll
        for (int s = 0; s < 4; s++) acc[r][s] = 0;

#pragma unroll 1
    for (int ks = 0; ks < ksteps; ks++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int w = tid + h * DTHREADS, r = w >> 3, kw = w & 7;
            sa[r][kw] = *(const int*)(ap + (size_t)(row0 + r) * kq + (size_t)ks * DK + kw * 4);
            sb[r][kw] = *(const int*)(bp + (size_t)(col0 + r) * kq + (size_t)ks * DK + kw * 4);
        }
        __syncthreads();
#pragma unroll
        for (int kw = 0; kw < DK / 4; kw++) {
            int av[4], bv[4];
#pragma unroll
            for (int r = 0; r < 4; r++) av[r] = sa[ty + 16 * r][kw];
#pragma unroll
            for (int s = 0; s < 4; s++) bv[s] = sb[tx + 16 * s][kw];
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int s = 0; s < 4; s++) acc[r][s] = dp4a(av[r], bv[s], acc[r][s]);
        }
        __syncthreads();
        int chunk = NOISED ? sched.advance() : -1;
        if (NOISED && chunk >= 0 && row0 < m && col0 < n) {
            u32 z = 0;
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int s = 0; s < 4; s++) {
                    int ii = ty + 16 * r, jj = tx + 16 * s;
                    u32 x = (u32)acc[r][s] ^ salt(ii, jj);
                    if (row0 + ii < m && col0 + jj < n) z += x * x;
                }
            z = warp_sum32(z);
            if ((tid & 31) == 0) red[tid >> 5] = z;
            __syncthreads();
            if (tid == 0) {
                u32 t = 0;
#pragma unroll
                for (int w = 0; w < DTHREADS / 32; w++) t += red[w];
                size_t at = (((size_t)ti * tiles_n + tj) * chunks + chunk) * 2;
                zpart[at] = t;
                zpart[at + 1] = 0;
            }
        }
    }
    if (c == 0) return;  // transcript only
#pragma unroll
    for (int r = 0; r < 4; r++)
#pragma unroll
        for (int s = 0; s < 4; s++) {
            int i = row0 + ty + 16 * r, j = col0 + tx + 16 * s;
            if (i >= m || j >= n) continue;
            int v = acc[r][s];
            c[(size_t)i * n + j] = v;
        }
}

#define DP4A_PARAMS                                                                                          \
    const i8 *__restrict__ ap, const i8 *__restrict__ bp, int kq, int m, int n, int *__restrict__ c, int width, \
        int spc, int segs, u32 *__restrict__ zpart, int chunks, int tiles_n
#define DP4A_ARGS ap, bp, kq, m, n, c, width, spc, segs, zpart, chunks, tiles_n

extern "C" __global__ void __launch_bounds__(DTHREADS) quern_gemm_dp4a_plain(DP4A_PARAMS) {
    gemm_dp4a<false>(DP4A_ARGS);
}

extern "C" __global__ void __launch_bounds__(DTHREADS) quern_gemm_dp4a_noised(DP4A_PARAMS) {
    gemm_dp4a<true>(DP4A_ARGS);
}
