package compute

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux keeps AMX tile data (XTILEDATA, 8 KiB per thread) off until a process
// asks for it: an AMX instruction before that raises SIGILL. The permission is
// per process, so one request covers every thread the Go runtime runs.
const (
	archGetXcompPerm  = 0x1022
	archReqXcompPerm  = 0x1023
	xfeatureXtiledata = 18
)

// amxPermit asks the kernel for tile data once; a nil error means the AMX
// instructions may run on any thread of this process.
func amxPermit() error {
	if _, _, e := unix.Syscall(unix.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0); e != 0 {
		return fmt.Errorf("arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) refused: %v", e)
	}
	var perm uint64
	if _, _, e := unix.Syscall(unix.SYS_ARCH_PRCTL, archGetXcompPerm, uintptr(unsafe.Pointer(&perm)), 0); e != 0 {
		return fmt.Errorf("arch_prctl(ARCH_GET_XCOMP_PERM) failed: %v", e)
	}
	if perm&(1<<xfeatureXtiledata) == 0 {
		return fmt.Errorf("arch_prctl granted no XTILEDATA (permitted features %#x)", perm)
	}
	return nil
}
