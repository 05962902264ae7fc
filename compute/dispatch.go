package compute

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

// DisableEnv names the environment variable that hides backends from
// Backends, CPU and ByName: a comma-separated list of names, e.g.
// "avx512-vnni" to run the AVX2 kernels on an AVX-512 machine, or
// "avx512-vnni,avx2" to force the portable backend. Portable cannot be hidden.
const DisableEnv = "QUERN_COMPUTE_DISABLE"

// Backends lists every CPU backend usable on this machine, best first; the
// portable backend is always last.
func Backends() []Backend {
	off := strings.Split(os.Getenv(DisableEnv), ",")
	var out []Backend
	for _, be := range simdBackends() {
		if !slices.Contains(off, be.Name()) {
			out = append(out, be)
		}
	}
	return append(out, Portable())
}

// CPU returns the fastest CPU backend this machine supports.
func CPU() Backend { return Backends()[0] }

// ByName returns the usable CPU backend called name.
func ByName(name string) (Backend, error) {
	var names []string
	for _, be := range Backends() {
		if be.Name() == name {
			return be, nil
		}
		names = append(names, be.Name())
	}
	return nil, fmt.Errorf("compute: no backend %q on this machine (usable: %s)", name, strings.Join(names, ", "))
}

// describer is implemented by backends that can say why they were chosen.
type describer interface{ describe() string }

// Describe is a one-line account of a backend for logs, e.g.
// "avx512-vnni: CPU has AVX-512 VNNI, 2 cores".
func Describe(be Backend) string {
	reason := "pure Go"
	if d, ok := be.(describer); ok {
		reason = d.describe()
	}
	if bad := SelfCheckError(); bad != "" {
		reason += "; " + bad
	}
	return fmt.Sprintf("%s: %s, %d cores", be.Name(), reason, runtime.GOMAXPROCS(0))
}

func (*portable) describe() string {
	if len(simdBackends()) == 0 {
		return "pure Go (no SIMD backend for this CPU)"
	}
	return "pure Go"
}
