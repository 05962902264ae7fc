//go:build cgo && linux

package cuda

// Every #cgo line of quern lives here (STYLE.md: one leaf package). No CUDA
// header is needed: the few driver and NVRTC types are declared below and the
// libraries are opened at run time, so the binary builds and starts on a
// machine with no CUDA at all.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef void* CUcontext;
typedef void* CUmodule;
typedef void* CUfunction;
typedef void* CUstream;
typedef unsigned long long CUdeviceptr;
typedef int nvrtcResult;
typedef void* nvrtcProgram;

#define Q_FN(ret, name, args) typedef ret(*q_##name##_t) args; static q_##name##_t p_##name;
// Driver API (the _v2 names where the driver has them).
Q_FN(CUresult, cuInit, (unsigned int))
Q_FN(CUresult, cuDriverGetVersion, (int*))
Q_FN(CUresult, cuGetErrorName, (CUresult, const char**))
Q_FN(CUresult, cuDeviceGetCount, (int*))
Q_FN(CUresult, cuDeviceGet, (CUdevice*, int))
Q_FN(CUresult, cuDeviceGetName, (char*, int, CUdevice))
Q_FN(CUresult, cuDeviceTotalMem_v2, (size_t*, CUdevice))
Q_FN(CUresult, cuDeviceGetAttribute, (int*, int, CUdevice))
Q_FN(CUresult, cuCtxCreate_v2, (CUcontext*, unsigned int, CUdevice))
Q_FN(CUresult, cuCtxDestroy_v2, (CUcontext))
Q_FN(CUresult, cuCtxPushCurrent_v2, (CUcontext))
Q_FN(CUresult, cuCtxPopCurrent_v2, (CUcontext*))
Q_FN(CUresult, cuModuleLoadData, (CUmodule*, const void*))
Q_FN(CUresult, cuModuleUnload, (CUmodule))
Q_FN(CUresult, cuModuleGetFunction, (CUfunction*, CUmodule, const char*))
Q_FN(CUresult, cuMemAlloc_v2, (CUdeviceptr*, size_t))
Q_FN(CUresult, cuMemFree_v2, (CUdeviceptr))
Q_FN(CUresult, cuMemcpyHtoD_v2, (CUdeviceptr, const void*, size_t))
Q_FN(CUresult, cuMemcpyDtoH_v2, (void*, CUdeviceptr, size_t))
Q_FN(CUresult, cuMemsetD32Async, (CUdeviceptr, unsigned int, size_t, CUstream))
Q_FN(CUresult, cuStreamCreate, (CUstream*, unsigned int))
Q_FN(CUresult, cuStreamDestroy_v2, (CUstream))
Q_FN(CUresult, cuStreamSynchronize, (CUstream))
Q_FN(CUresult, cuLaunchKernel, (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                unsigned, CUstream, void**, void**))
// NVRTC.
Q_FN(nvrtcResult, nvrtcVersion, (int*, int*))
Q_FN(const char*, nvrtcGetErrorString, (nvrtcResult))
Q_FN(nvrtcResult, nvrtcCreateProgram, (nvrtcProgram*, const char*, const char*, int, const char**, const char**))
Q_FN(nvrtcResult, nvrtcDestroyProgram, (nvrtcProgram*))
Q_FN(nvrtcResult, nvrtcCompileProgram, (nvrtcProgram, int, const char**))
Q_FN(nvrtcResult, nvrtcGetProgramLogSize, (nvrtcProgram, size_t*))
Q_FN(nvrtcResult, nvrtcGetProgramLog, (nvrtcProgram, char*))
Q_FN(nvrtcResult, nvrtcGetPTXSize, (nvrtcProgram, size_t*))
Q_FN(nvrtcResult, nvrtcGetPTX, (nvrtcProgram, char*))
Q_FN(nvrtcResult, nvrtcGetCUBINSize, (nvrtcProgram, size_t*))
Q_FN(nvrtcResult, nvrtcGetCUBIN, (nvrtcProgram, char*))

static void* q_cuda_lib;
static void* q_nvrtc_lib;

// q_sym resolves one entry point; optional ones may be missing.
static int q_sym(void* lib, const char* name, void** dst, int optional, char* err, size_t errlen) {
	*dst = dlsym(lib, name);
	if (*dst == NULL && !optional) {
		snprintf(err, errlen, "symbol %s not found", name);
		return -1;
	}
	return 0;
}

#define Q_SYM(lib, name, opt) if (q_sym(lib, #name, (void**)&p_##name, opt, err, errlen)) goto fail;

// q_open_cuda opens the driver library at path and resolves every entry
// point; on failure err says why and nothing stays loaded.
static int q_open_cuda(const char* path, char* err, size_t errlen) {
	if (q_cuda_lib != NULL) return 0;
	void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		const char* e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		return -1;
	}
	Q_SYM(lib, cuInit, 0)
	Q_SYM(lib, cuDriverGetVersion, 0)
	Q_SYM(lib, cuGetErrorName, 0)
	Q_SYM(lib, cuDeviceGetCount, 0)
	Q_SYM(lib, cuDeviceGet, 0)
	Q_SYM(lib, cuDeviceGetName, 0)
	Q_SYM(lib, cuDeviceTotalMem_v2, 0)
	Q_SYM(lib, cuDeviceGetAttribute, 0)
	Q_SYM(lib, cuCtxCreate_v2, 0)
	Q_SYM(lib, cuCtxDestroy_v2, 0)
	Q_SYM(lib, cuCtxPushCurrent_v2, 0)
	Q_SYM(lib, cuCtxPopCurrent_v2, 0)
	Q_SYM(lib, cuModuleLoadData, 0)
	Q_SYM(lib, cuModuleUnload, 0)
	Q_SYM(lib, cuModuleGetFunction, 0)
	Q_SYM(lib, cuMemAlloc_v2, 0)
	Q_SYM(lib, cuMemFree_v2, 0)
	Q_SYM(lib, cuMemcpyHtoD_v2, 0)
	Q_SYM(lib, cuMemcpyDtoH_v2, 0)
	Q_SYM(lib, cuMemsetD32Async, 0)
	Q_SYM(lib, cuStreamCreate, 0)
	Q_SYM(lib, cuStreamDestroy_v2, 0)
	Q_SYM(lib, cuStreamSynchronize, 0)
	Q_SYM(lib, cuLaunchKernel, 0)
	q_cuda_lib = lib;
	return 0;
fail:
	dlclose(lib);
	return -1;
}

static int q_open_nvrtc(const char* path, char* err, size_t errlen) {
	if (q_nvrtc_lib != NULL) return 0;
	void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		const char* e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		return -1;
	}
	Q_SYM(lib, nvrtcVersion, 0)
	Q_SYM(lib, nvrtcGetErrorString, 0)
	Q_SYM(lib, nvrtcCreateProgram, 0)
	Q_SYM(lib, nvrtcDestroyProgram, 0)
	Q_SYM(lib, nvrtcCompileProgram, 0)
	Q_SYM(lib, nvrtcGetProgramLogSize, 0)
	Q_SYM(lib, nvrtcGetProgramLog, 0)
	Q_SYM(lib, nvrtcGetPTXSize, 0)
	Q_SYM(lib, nvrtcGetPTX, 0)
	Q_SYM(lib, nvrtcGetCUBINSize, 1)  // NVRTC ≥ 11.1
	Q_SYM(lib, nvrtcGetCUBIN, 1)
	q_nvrtc_lib = lib;
	return 0;
fail:
	dlclose(lib);
	return -1;
}

static int q_has_cubin(void) { return p_nvrtcGetCUBIN != NULL && p_nvrtcGetCUBINSize != NULL; }

static const char* q_error_name(CUresult r) {
	const char* s = NULL;
	if (p_cuGetErrorName == NULL || p_cuGetErrorName(r, &s) != 0 || s == NULL) return "CUDA_ERROR_UNKNOWN_CODE";
	return s;
}

static CUresult q_cuInit(unsigned int f) { return p_cuInit(f); }
static CUresult q_cuDriverGetVersion(int* v) { return p_cuDriverGetVersion(v); }
static CUresult q_cuDeviceGetCount(int* n) { return p_cuDeviceGetCount(n); }
static CUresult q_cuDeviceGet(CUdevice* d, int i) { return p_cuDeviceGet(d, i); }
static CUresult q_cuDeviceGetName(char* s, int n, CUdevice d) { return p_cuDeviceGetName(s, n, d); }
static CUresult q_cuDeviceTotalMem(size_t* b, CUdevice d) { return p_cuDeviceTotalMem_v2(b, d); }
static CUresult q_cuDeviceGetAttribute(int* v, int a, CUdevice d) { return p_cuDeviceGetAttribute(v, a, d); }
static CUresult q_cuCtxCreate(CUcontext* c, unsigned int f, CUdevice d) { return p_cuCtxCreate_v2(c, f, d); }
static CUresult q_cuCtxDestroy(CUcontext c) { return p_cuCtxDestroy_v2(c); }
static CUresult q_cuCtxPushCurrent(CUcontext c) { return p_cuCtxPushCurrent_v2(c); }
static CUresult q_cuCtxPopCurrent(void) { CUcontext c; return p_cuCtxPopCurrent_v2(&c); }
static CUresult q_cuModuleLoadData(CUmodule* m, const void* img) { return p_cuModuleLoadData(m, img); }
static CUresult q_cuModuleUnload(CUmodule m) { return p_cuModuleUnload(m); }
static CUresult q_cuModuleGetFunction(CUfunction* f, CUmodule m, const char* n) { return p_cuModuleGetFunction(f, m, n); }
static CUresult q_cuMemAlloc(CUdeviceptr* p, size_t n) { return p_cuMemAlloc_v2(p, n); }
static CUresult q_cuMemFree(CUdeviceptr p) { return p_cuMemFree_v2(p); }
static CUresult q_cuMemcpyHtoD(CUdeviceptr d, const void* s, size_t n) { return p_cuMemcpyHtoD_v2(d, s, n); }
static CUresult q_cuMemcpyDtoH(void* d, CUdeviceptr s, size_t n) { return p_cuMemcpyDtoH_v2(d, s, n); }
static CUresult q_cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s) { return p_cuMemsetD32Async(d, v, n, s); }
static CUresult q_cuStreamCreate(CUstream* s) { return p_cuStreamCreate(s, 0); }
static CUresult q_cuStreamDestroy(CUstream s) { return p_cuStreamDestroy_v2(s); }
static CUresult q_cuStreamSynchronize(CUstream s) { return p_cuStreamSynchronize(s); }

// Kernel launches build their parameter arrays here, in C memory.
static CUresult q_launch_pack_a(CUfunction f, unsigned grid, CUstream s, CUdeviceptr a, int m, int k,
		CUdeviceptr out, int rows, int segs) {
	void* p[] = {&a, &m, &k, &out, &rows, &segs};
	return p_cuLaunchKernel(f, grid, 1, 1, 256, 1, 1, 0, s, p, NULL);
}

static CUresult q_launch_pack_b(CUfunction f, unsigned grid, CUstream s, CUdeviceptr b, int k, int n,
		CUdeviceptr out, int cols, int segs) {
	void* p[] = {&b, &k, &n, &out, &cols, &segs};
	return p_cuLaunchKernel(f, grid, 1, 1, 256, 1, 1, 0, s, p, NULL);
}

static CUresult q_launch_gemm(CUfunction f, unsigned gx, unsigned gy, unsigned threads, CUstream s,
		CUdeviceptr ap, CUdeviceptr bp, int kq, int m, int n, CUdeviceptr c, int width, int spc, int segs,
		CUdeviceptr zpart, int chunks, int tiles_n) {
	void* p[] = {&ap, &bp, &kq, &m, &n, &c, &width, &spc, &segs, &zpart, &chunks, &tiles_n};
	return p_cuLaunchKernel(f, gx, gy, 1, threads, 1, 1, 0, s, p, NULL);
}

static const char* q_nvrtc_error(nvrtcResult r) {
	const char* s = p_nvrtcGetErrorString ? p_nvrtcGetErrorString(r) : NULL;
	return s ? s : "NVRTC_ERROR";
}

// q_nvrtc_compile compiles src with opts into *out (malloc'd; PTX when
// cubin is 0, else CUBIN) or returns the NVRTC error with the program log in
// *log (malloc'd). The caller frees both.
static nvrtcResult q_nvrtc_compile(const char* src, const char** opts, int nopts, int cubin,
		char** out, size_t* outlen, char** log) {
	nvrtcProgram prog = NULL;
	*out = NULL;
	*log = NULL;
	*outlen = 0;
	nvrtcResult r = p_nvrtcCreateProgram(&prog, src, "kernels.cu", 0, NULL, NULL);
	if (r != 0) return r;
	r = p_nvrtcCompileProgram(prog, nopts, opts);
	size_t ln = 0;
	if (p_nvrtcGetProgramLogSize(prog, &ln) == 0 && ln > 1) {
		*log = (char*)malloc(ln);
		if (*log != NULL && p_nvrtcGetProgramLog(prog, *log) != 0) (*log)[0] = 0;
	}
	if (r == 0) {
		r = cubin ? p_nvrtcGetCUBINSize(prog, outlen) : p_nvrtcGetPTXSize(prog, outlen);
		if (r == 0) {
			*out = (char*)malloc(*outlen);
			r = cubin ? p_nvrtcGetCUBIN(prog, *out) : p_nvrtcGetPTX(prog, *out);
		}
	}
	p_nvrtcDestroyProgram(&prog);
	return r;
}

static int q_nvrtc_version(int* major, int* minor) { return p_nvrtcVersion(major, minor); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"
)

// CUDA driver constants used here (cuda.h).
const (
	attrMultiprocessorCount = 16
	attrComputeMajor        = 75
	attrComputeMinor        = 76
)

type (
	cuDevice   = C.CUdevice
	cuContext  = C.CUcontext
	cuModule   = C.CUmodule
	cuFunction = C.CUfunction
	cuStream   = C.CUstream
	devPtr     = C.CUdeviceptr
)

// cuError is a failed driver call: what was called and the CUresult's name.
type cuError struct {
	call string
	code int
	name string
}

func (e *cuError) Error() string { return fmt.Sprintf("%s: %s (%d)", e.call, e.name, e.code) }

func check(call string, r C.CUresult) error {
	if r == 0 {
		return nil
	}
	return &cuError{call: call, code: int(r), name: C.GoString(C.q_error_name(r))}
}

// Default names tried for the libraries; QUERN_CUDA_LIB and QUERN_NVRTC_LIB
// replace them with one path each.
var (
	cudaLibNames  = []string{"libcuda.so.1", "libcuda.so"}
	nvrtcLibNames = []string{
		"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11.1",
		"libnvrtc.so.11.0", "/usr/local/cuda/lib64/libnvrtc.so",
	}
)

// loadMu serializes dlopen. The resolved entry points are process-wide, like
// the libraries themselves: the first library that loads stays, and loaded
// remembers which it was.
var (
	loadMu sync.Mutex
	loaded = map[string]string{} // env name → path in use
)

func openLib(env string, names []string, open func(*C.char, *C.char, C.size_t) C.int) (string, error) {
	p := os.Getenv(env)
	if lib, ok := loaded[env]; ok {
		if p != "" && p != lib {
			return "", fmt.Errorf("%s=%s: %s is already loaded in this process", env, p, lib)
		}
		return lib, nil
	}
	if p != "" {
		names = []string{p}
	}
	var errs []error
	buf := (*C.char)(C.malloc(512))
	defer C.free(unsafe.Pointer(buf))
	for _, name := range names {
		cs := C.CString(name)
		r := open(cs, buf, 512)
		C.free(unsafe.Pointer(cs))
		if r == 0 {
			loaded[env] = name
			return name, nil
		}
		errs = append(errs, fmt.Errorf("%s: %s", name, C.GoString(buf)))
	}
	return "", errors.Join(errs...)
}

// loadDriver opens libcuda and calls cuInit.
func loadDriver() (lib string, version int, err error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	lib, err = openLib("QUERN_CUDA_LIB", cudaLibNames, func(p, e *C.char, n C.size_t) C.int { return C.q_open_cuda(p, e, n) })
	if err != nil {
		return "", 0, fmt.Errorf("no CUDA driver (set QUERN_CUDA_LIB to libcuda.so.1's path if it is installed elsewhere): %w", err)
	}
	if err := check("cuInit", C.q_cuInit(0)); err != nil {
		return lib, 0, err
	}
	var v C.int
	if err := check("cuDriverGetVersion", C.q_cuDriverGetVersion(&v)); err != nil {
		return lib, 0, err
	}
	return lib, int(v), nil
}

// loadNVRTC opens NVRTC; it needs no driver and no GPU.
func loadNVRTC() (lib string, major, minor int, err error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	lib, err = openLib("QUERN_NVRTC_LIB", nvrtcLibNames, func(p, e *C.char, n C.size_t) C.int { return C.q_open_nvrtc(p, e, n) })
	if err != nil {
		return "", 0, 0, fmt.Errorf("no NVRTC, which compiles the kernels (install the CUDA toolkit's libnvrtc or set QUERN_NVRTC_LIB): %w", err)
	}
	var ma, mi C.int
	if r := C.q_nvrtc_version(&ma, &mi); r != 0 {
		return lib, 0, 0, fmt.Errorf("nvrtcVersion: %s", C.GoString(C.q_nvrtc_error(r)))
	}
	return lib, int(ma), int(mi), nil
}

// compileImage compiles the embedded kernels for one architecture with NVRTC:
// a CUBIN for sm_XY when NVRTC knows the architecture (and has nvrtcGetCUBIN),
// else PTX for the highest virtual architecture tried, which the driver JITs.
func compileImage(major, minor int) (image []byte, target string, err error) {
	arch := major*10 + minor
	type attempt struct {
		target string
		cubin  bool
	}
	var tries []attempt
	if C.q_has_cubin() != 0 {
		tries = append(tries, attempt{fmt.Sprintf("sm_%d", arch), true})
	}
	tries = append(tries, attempt{fmt.Sprintf("compute_%d", arch), false})
	for _, v := range []int{90, 80, 75, 61} { // newer GPUs than this NVRTC knows still run older PTX
		if v < arch {
			tries = append(tries, attempt{fmt.Sprintf("compute_%d", v), false})
		}
	}
	var errs []error
	for _, t := range tries {
		image, err := nvrtcCompile(kernelSource, []string{"--gpu-architecture=" + t.target}, t.cubin)
		if err == nil {
			return image, t.target, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t.target, err))
	}
	return nil, "", fmt.Errorf("compile kernels for sm_%d: %w", arch, errors.Join(errs...))
}

// nvrtcCompile runs NVRTC on src; the error carries NVRTC's log.
func nvrtcCompile(src string, opts []string, cubin bool) ([]byte, error) {
	csrc := C.CString(src)
	defer C.free(unsafe.Pointer(csrc))
	copts := (*[1 << 10]*C.char)(C.malloc(C.size_t(len(opts)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	defer C.free(unsafe.Pointer(copts))
	for i, o := range opts {
		copts[i] = C.CString(o)
		defer C.free(unsafe.Pointer(copts[i]))
	}
	var out, log *C.char
	var n C.size_t
	flag := C.int(0)
	if cubin {
		flag = 1
	}
	r := C.q_nvrtc_compile(csrc, &copts[0], C.int(len(opts)), flag, &out, &n, &log)
	defer C.free(unsafe.Pointer(out))
	defer C.free(unsafe.Pointer(log))
	if r != 0 {
		msg := C.GoString(C.q_nvrtc_error(r))
		if log != nil {
			msg += ":\n" + C.GoString(log)
		}
		return nil, errors.New(msg)
	}
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}

func deviceCount() (int, error) {
	var n C.int
	if err := check("cuDeviceGetCount", C.q_cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

func probe(i int) (*device, error) {
	d := &device{fns: map[string]cuFunction{}}
	if err := check("cuDeviceGet", C.q_cuDeviceGet(&d.handle, C.int(i))); err != nil {
		return nil, err
	}
	var name [256]C.char
	if err := check("cuDeviceGetName", C.q_cuDeviceGetName(&name[0], C.int(len(name)), d.handle)); err != nil {
		return nil, err
	}
	d.name = C.GoString(&name[0])
	var mem C.size_t
	if err := check("cuDeviceTotalMem_v2", C.q_cuDeviceTotalMem(&mem, d.handle)); err != nil {
		return nil, err
	}
	d.mem = uint64(mem)
	for _, a := range []struct {
		attr int
		dst  *int
	}{{attrComputeMajor, &d.major}, {attrComputeMinor, &d.minor}, {attrMultiprocessorCount, &d.sms}} {
		var v C.int
		if err := check("cuDeviceGetAttribute", C.q_cuDeviceGetAttribute(&v, C.int(a.attr), d.handle)); err != nil {
			return nil, err
		}
		*a.dst = int(v)
	}
	return d, nil
}

// createContext makes the device's context and stream, leaving no context
// current on the calling thread.
func (d *device) createContext() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := check("cuCtxCreate_v2", C.q_cuCtxCreate(&d.ctx, 0, d.handle)); err != nil {
		return err
	}
	err := check("cuStreamCreate", C.q_cuStreamCreate(&d.stream))
	if perr := check("cuCtxPopCurrent_v2", C.q_cuCtxPopCurrent()); err == nil {
		err = perr
	}
	return err
}

func (d *device) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if C.q_cuCtxPushCurrent(d.ctx) == 0 {
		if d.mod != nil {
			C.q_cuModuleUnload(d.mod)
		}
		if d.stream != nil {
			C.q_cuStreamDestroy(d.stream)
		}
		C.q_cuCtxPopCurrent()
	}
	C.q_cuCtxDestroy(d.ctx)
	d.ctx, d.mod, d.stream = nil, nil, nil
}

// do runs fn with the device's context current on a locked OS thread, one
// caller at a time (CUDA contexts are per thread; goroutines are not); the
// module is loaded on first use and kept.
func (d *device) do(fn func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		return errors.New("device is closed")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := check("cuCtxPushCurrent_v2", C.q_cuCtxPushCurrent(d.ctx)); err != nil {
		return err
	}
	defer C.q_cuCtxPopCurrent()
	if d.mod == nil {
		var mod cuModule
		if err := check("cuModuleLoadData", C.q_cuModuleLoadData(&mod, unsafe.Pointer(&d.image[0]))); err != nil {
			return fmt.Errorf("load kernels (%s): %w", d.target, err)
		}
		d.mod = mod
	}
	return fn()
}

func (d *device) function(name string) (cuFunction, error) {
	if f, ok := d.fns[name]; ok {
		return f, nil
	}
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var f cuFunction
	if err := check("cuModuleGetFunction("+name+")", C.q_cuModuleGetFunction(&f, d.mod, cs)); err != nil {
		return nil, err
	}
	d.fns[name] = f
	return f, nil
}

// The calls below need the device's context current (inside do).

func memAlloc(bytes int) (devPtr, error) {
	var p devPtr
	return p, check("cuMemAlloc_v2", C.q_cuMemAlloc(&p, C.size_t(bytes)))
}

func memFree(p devPtr) { C.q_cuMemFree(p) }

func copyToDevice(dst devPtr, src unsafe.Pointer, bytes int) error {
	return check("cuMemcpyHtoD_v2", C.q_cuMemcpyHtoD(dst, src, C.size_t(bytes)))
}

func copyFromDevice(dst unsafe.Pointer, src devPtr, bytes int) error {
	return check("cuMemcpyDtoH_v2", C.q_cuMemcpyDtoH(dst, src, C.size_t(bytes)))
}

func (d *device) zero32(p devPtr, words int) error {
	return check("cuMemsetD32Async", C.q_cuMemsetD32Async(p, 0, C.size_t(words), d.stream))
}

func (d *device) sync() error { return check("cuStreamSynchronize", C.q_cuStreamSynchronize(d.stream)) }

func (d *device) launchPackA(f cuFunction, grid int, a devPtr, m, k int, out devPtr, rows, segs int) error {
	return check("cuLaunchKernel", C.q_launch_pack_a(f, C.uint(grid), d.stream, a, C.int(m), C.int(k), out,
		C.int(rows), C.int(segs)))
}

func (d *device) launchPackB(f cuFunction, grid int, b devPtr, k, n int, out devPtr, cols, segs int) error {
	return check("cuLaunchKernel", C.q_launch_pack_b(f, C.uint(grid), d.stream, b, C.int(k), C.int(n), out,
		C.int(cols), C.int(segs)))
}

// launchGemm runs one GEMM kernel; c = 0 skips the store of C (transcript
// only) and zpart = 0 goes with the plain kernels, which never mix.
func (d *device) launchGemm(f cuFunction, gx, gy int, ap, bp devPtr, kq, m, n int, c devPtr, width, spc, segs int,
	zpart devPtr, chunks, tilesN int) error {
	return check("cuLaunchKernel", C.q_launch_gemm(f, C.uint(gx), C.uint(gy), threads, d.stream, ap, bp, C.int(kq),
		C.int(m), C.int(n), c, C.int(width), C.int(spc), C.int(segs), zpart, C.int(chunks), C.int(tilesN)))
}
