package node

import (
	"testing"

	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/consensus"
)

// TestJobLimitsRPC: quern_jobLimits serves every cap of the node's genesis,
// the answer rebuilds the same vm limits, and quern_jobBaseFee takes the
// block space as an optional second parameter (old callers send work only).
func TestJobLimitsRPC(t *testing.T) {
	v := startNode(t, "validator", testConfig(t.TempDir()))
	p := v.Chain().Params()
	var got RPCJobLimits
	v.call(&got, "jobLimits")
	if got != JobLimitsOf(p) || got.MaxTxBytes != p.MaxTxBytes() ||
		got.MaxBlockBytes != p.MaxBlockBytes || got.MaxLifetime != p.MaxJobLifetime || got.JobByteFee != p.JobByteFee.Dec() {
		t.Fatalf("jobLimits %+v", got)
	}
	q, err := got.Params()
	if err != nil {
		t.Fatal(err)
	}
	if chain.JobLimits(q) != chain.JobLimits(p) {
		t.Fatalf("limits from the answer %+v, node's %+v", chain.JobLimits(q), chain.JobLimits(p))
	}

	d := v.nextDifficulty()
	var workOnly, withBytes string
	v.call(&workOnly, "jobBaseFee", uint64(1_000_000))
	v.call(&withBytes, "jobBaseFee", uint64(1_000_000), uint64(5000))
	if want := consensus.JobBaseFee(p, d, 1_000_000, 0); workOnly != want.Dec() {
		t.Fatalf("jobBaseFee(work) = %s, want %s", workOnly, want)
	}
	want := consensus.JobBaseFee(p, d, 1_000_000, 5000)
	if withBytes != want.Dec() {
		t.Fatalf("jobBaseFee(work, bytes) = %s, want %s", withBytes, want)
	}
	diff := new(uint256.Int).Sub(uint256.MustFromDecimal(withBytes), uint256.MustFromDecimal(workOnly))
	if !diff.Eq(new(uint256.Int).Mul(p.JobByteFee, uint256.NewInt(5000))) {
		t.Fatalf("byte part %s, want 5000 × %s", diff, p.JobByteFee)
	}
}
