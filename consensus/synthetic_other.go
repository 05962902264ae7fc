//go:build !amd64

package consensus

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/compute"
)

// No kernels off amd64.
const syntheticHasAsm, syntheticAsm = false, false

func syntheticLinesAsm(seed common.Hash, dim, r0, r1, c0, c1 int) (a, b compute.I8) {
	panic("consensus: no synthetic kernels off amd64")
}
