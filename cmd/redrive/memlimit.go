package main

import (
	"log/slog"
	"math"
	"os"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// memLimitRatio leaves a tenth of the container's memory limit to what
// the Go runtime does not count (thread stacks, page tables, the binary).
const memLimitRatio = 0.9

// setMemoryLimit makes the Go runtime collect harder as the heap nears
// the container's memory limit, instead of leaving the kernel to OOM-kill
// the pod: the runtime's soft limit (GOMEMLIMIT) is set to 90% of the
// cgroup's memory limit, read from provider. A GOMEMLIMIT the operator
// set wins, and AUTOMEMLIMIT ("off", or a ratio such as 0.8) overrides the
// ratio. Outside a memory-limited container nothing changes.
func setMemoryLimit(log *slog.Logger, provider memlimit.Provider) {
	limit, err := memlimit.Set(memlimit.WithRatio(memLimitRatio), memlimit.WithProvider(provider))
	from := "container limit"
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		from = "GOMEMLIMIT"
	}
	switch {
	case err != nil:
		log.Info("no container memory limit found; Go memory limit left unset", "reason", err)
	case limit == math.MaxInt64:
		log.Info("memory is not limited; Go memory limit left unset")
	default:
		log.Info("Go memory limit set", "limit_mib", limit>>20, "from", from)
	}
}
