package consensus

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/vm"
)

// trainParams are testParams with a 4-step checkpoint interval and 4
// samples, tiles of 64 (every product of the tiny network is one tile).
func trainParams() *types.Params {
	p := testParams()
	p.TileSize, p.ChunkSize = 64, 16
	p.TrainCheckpointInterval, p.TrainSamples = 4, 4
	return p
}

// tinySpec is a 6-16-3 MLP on random data, batch 8: a step is a few µs.
func tinySpec(steps uint32) *vm.TrainSpec {
	r := rand.New(rand.NewPCG(3, 4))
	const rows, in = 64, 6
	x, y := make([]byte, rows*in), make([]byte, rows)
	for i := range x {
		x[i] = byte(int8(r.IntN(255) - 127))
	}
	for i := range y {
		y[i] = byte(r.IntN(3))
	}
	return &vm.TrainSpec{Layers: []uint32{in, 16, 3}, Steps: steps, Batch: 8, LRShift: 6, Rows: rows, X: x, Y: y}
}

// trainJobs is a WorkSource holding training jobs and their checkpoints on chain.
type trainJobs struct {
	progs map[common.Hash]*vm.Program
	ckpt  map[common.Hash][]byte
}

func (j trainJobs) PendingJobProgram(id common.Hash) (*vm.Program, error) {
	if p, ok := j.progs[id]; ok {
		return p, nil
	}
	return nil, errors.New("no such pending job")
}

func (j trainJobs) PendingTrainCheckpoint(id common.Hash) ([]byte, error) {
	if s, ok := j.ckpt[id]; ok {
		return s, nil
	}
	return nil, errors.New("no such pending training job")
}

// plainRun is the exact trajectory from start to step to, one state per boundary.
func plainRun(t testing.TB, p *types.Params, id common.Hash, spec *vm.TrainSpec, start *vm.TrainState, to uint32) *TrainRun {
	t.Helper()
	run := &TrainRun{JobID: id, Spec: spec, States: []*vm.TrainState{start}}
	prods := vm.PlainProducts{Backend: compute.Portable()}
	for s := start; s.Step < to; {
		var err error
		if s, err = s.Next(spec, id, prods); err != nil {
			t.Fatal(err)
		}
		if s.Step%p.TrainCheckpointInterval == 0 || s.Step == to {
			run.States = append(run.States, s)
		}
	}
	return run
}

func encodeState(t testing.TB, s *vm.TrainState) []byte {
	t.Helper()
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrainSealAndSegment: a training ticket mined in the third interval of
// a segment (the first two computed with another nonce and kept: the
// trajectory does not depend on the seed) verifies with the real engine;
// the segment's sampled replay passes; and each attack on the ticket is
// refused with its own error.
func TestTrainSealAndSegment(t *testing.T) {
	p, be := trainParams(), compute.Portable()
	spec, id := tinySpec(16), common.Hash{0x77}
	init := vm.InitState(spec, id)
	jobs := trainJobs{progs: map[common.Hash]*vm.Program{id: vm.NewTrain(*spec)}, ckpt: map[common.Hash][]byte{id: encodeState(t, init)}}
	parent := &types.Header{Number: 5, Difficulty: 1}
	m, ctx, d := NewMiner(p, be), context.Background(), uint64(1) // every tile wins

	run, _, err := m.MineTrain(ctx, parent, d, coinbase, 1, id, spec, init, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	more, seal, err := m.MineTrain(ctx, parent, d, coinbase, 2, id, spec, run.States[len(run.States)-1], 16, true)
	if err != nil || seal == nil {
		t.Fatalf("mine: %v %v", seal, err)
	}
	if seal.Work.Step != 9 || seal.Work.Op != 0 || more.To() != 12 {
		t.Fatalf("first win at step %d op %d, run stopped at %d; want step 9 op 0, stopped at 12", seal.Work.Step, seal.Work.Op, more.To())
	}
	if err := run.Extend(more); err != nil {
		t.Fatal(err)
	}
	if want := plainRun(t, p, id, spec, init, 12); want.States[3].Root() != run.States[3].Root() {
		t.Fatal("the noised run's trajectory differs from the plain one")
	}
	h := &types.Header{ParentHash: parent.Hash(), Number: 6, Coinbase: coinbase, Difficulty: d, Seal: *seal}
	seg, err := run.Segment(p, seal)
	if err != nil {
		t.Fatal(err)
	}
	body := &types.Body{Results: []*types.JobResult{{JobID: id, Train: seg}}}
	e := New(be)
	if err := e.VerifySeal(p, h, body, jobs); err != nil {
		t.Fatalf("honest training seal: %v", err)
	}
	if err := e.VerifyTrainSegment(p, h, spec, id, init, seg); err != nil {
		t.Fatalf("honest segment: %v", err)
	}

	with := func(edit func(h *types.Header, seg *types.TrainSegment)) (*types.Header, *types.Body) {
		h2, s2 := h.Copy(), *seg
		s2.Roots = append([]common.Hash(nil), seg.Roots...)
		s2.Samples = append([]types.TrainSample(nil), seg.Samples...)
		edit(h2, &s2)
		return h2, &types.Body{Results: []*types.JobResult{{JobID: id, Train: &s2}}}
	}
	for name, c := range map[string]struct {
		edit func(h *types.Header, seg *types.TrainSegment)
		want error
	}{
		// The miner's states after a wrong checkpoint: the replay from the
		// sample in the body does not lead to the sealed tile.
		"checkpoint does not lead to the ticket": {func(h *types.Header, seg *types.TrainSegment) {
			wrong := run.States[2].Clone()
			for i, w := range wrong.W[0] {
				wrong.W[0][i] = -w // the int8 copies change too (masters carry 8 bits more)
			}
			for i := range seg.Samples {
				if seg.Samples[i].Interval == 2 {
					seg.Samples[i].State = encodeState(t, wrong)
				}
			}
		}, ErrCheckpointMismatch},
		"first step after a checkpoint": {func(h *types.Header, _ *types.TrainSegment) { h.Seal.Work.Step = 8 }, ErrTicketAfterCheckpoint},
		"step outside the segment":      {func(h *types.Header, _ *types.TrainSegment) { h.Seal.Work.Step = 13 }, ErrTicketStep},
		"no sample for the ticket": {func(h *types.Header, seg *types.TrainSegment) {
			seg.Samples = nil
		}, ErrMissingSample},
		"op the step does not compute": {func(h *types.Header, _ *types.TrainSegment) { h.Seal.Work.Op = 99 }, ErrTicketOp},
		"digest of another product":    {func(h *types.Header, _ *types.TrainSegment) { h.Seal.Work.Op = 1 }, ErrCheckpointMismatch},
	} {
		h2, body2 := with(c.edit)
		if err := e.VerifySeal(p, h2, body2, jobs); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	if err := e.VerifySeal(p, h, &types.Body{}, jobs); !errors.Is(err, ErrWorkNotInBlock) {
		t.Errorf("ticket without its segment: %v", err)
	}
}

// TestTrainSegmentRules: wrong fromStep, toStep, roots count, end state and
// samples are refused with their typed errors, before any replay.
func TestTrainSegmentRules(t *testing.T) {
	p := trainParams()
	spec, id := tinySpec(10), common.Hash{0x78}
	init := vm.InitState(spec, id)
	run := plainRun(t, p, id, spec, init, 10) // intervals end at 4, 8, 10
	h := &types.Header{Number: 1, Difficulty: 1 << 20, Seal: types.Seal{Nonce: 3}}
	seg, err := run.Segment(p, &h.Seal)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewFaker().VerifyTrainSegment(p, h, spec, id, init, seg); err != nil {
		t.Fatalf("honest segment: %v", err)
	}
	for name, c := range map[string]struct {
		edit func(seg *types.TrainSegment)
		want error
	}{
		"from step not the steps done": {func(s *types.TrainSegment) { s.FromStep = 4 }, ErrSegmentSteps},
		"to step off a checkpoint":     {func(s *types.TrainSegment) { s.ToStep = 9 }, ErrSegmentSteps},
		"past the job's steps":         {func(s *types.TrainSegment) { s.ToStep = 12 }, ErrSegmentSteps},
		"a root missing":               {func(s *types.TrainSegment) { s.Roots = s.Roots[1:] }, ErrSegmentRoots},
		"a root too many":              {func(s *types.TrainSegment) { s.Roots = append(s.Roots, common.Hash{}) }, ErrSegmentRoots},
		"end state of another step": {func(s *types.TrainSegment) {
			s.EndState = encodeState(t, run.States[2])
		}, ErrSegmentEndState},
		"end state off its root": {func(s *types.TrainSegment) {
			end := run.States[3].Clone()
			end.B[1][0]++
			s.EndState = encodeState(t, end)
		}, ErrSegmentEndState},
		"end state garbage": {func(s *types.TrainSegment) { s.EndState = []byte{1, 2, 3} }, ErrSegmentEndState},
		"sample off its root": {func(s *types.TrainSegment) {
			bad := run.States[1].Clone()
			bad.W[1][2]++
			s.Samples = []types.TrainSample{{Interval: 1, State: encodeState(t, bad)}, {Interval: 2, State: encodeState(t, run.States[2])}}
		}, ErrSegmentSample},
		"sample for interval 0": {func(s *types.TrainSegment) {
			s.Samples = append([]types.TrainSample{{Interval: 0, State: encodeState(t, init)}}, s.Samples...)
		}, ErrSegmentSample},
		"samples missing": {func(s *types.TrainSegment) { s.Samples = nil }, ErrMissingSample},
	} {
		s2 := *seg
		s2.Roots = append([]common.Hash(nil), seg.Roots...)
		s2.Samples = append([]types.TrainSample(nil), seg.Samples...)
		c.edit(&s2)
		if err := NewFaker().VerifyTrainSegment(p, h, spec, id, init, &s2); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}

// TestForgedIntervalCaughtAtSampledRate: a miner claims a wrong state at one
// checkpoint boundary of a 16-interval segment and trains on honestly from
// it, so only the replay of that one interval can expose it. Over 2000
// random seals the sampled replay (s = 4) must catch it in s/N = 25% of
// them, exactly when the forged interval is among the sampled ones.
func TestForgedIntervalCaughtAtSampledRate(t *testing.T) {
	p := trainParams()
	const n, forged, seals = 16, 9, 2000
	k := p.TrainCheckpointInterval
	spec, id := tinySpec(n*k), common.Hash{0x79}
	init := vm.InitState(spec, id)
	honest := plainRun(t, p, id, spec, init, (forged+1)*k)
	// The claimed state after interval `forged` is not what its steps give;
	// every interval after it is trained honestly from the claim.
	fake := honest.States[forged+1].Clone()
	fake.W[0][3] += 5
	rest := plainRun(t, p, id, spec, fake, n*k)
	run := &TrainRun{JobID: id, Spec: spec, States: append(append([]*vm.TrainState(nil), honest.States[:forged+1]...), rest.States...)}
	if len(run.States) != n+1 {
		t.Fatalf("%d states, want %d", len(run.States), n+1)
	}
	r := rand.New(rand.NewPCG(11, 12))
	caught := 0
	for range seals {
		h := &types.Header{Number: 9, Difficulty: 1 << 20, Seal: types.Seal{Nonce: r.Uint64(), TileDigest: common.Hash{byte(r.Uint32())}}}
		seg, err := run.Segment(p, &h.Seal)
		if err != nil {
			t.Fatal(err)
		}
		err = NewFaker().VerifyTrainSegment(p, h, spec, id, init, seg)
		sampled := false
		for _, i := range TrainSampleIntervals(&h.Seal, id, n, p.TrainSamples) {
			sampled = sampled || i == forged
		}
		switch {
		case err != nil && !errors.Is(err, ErrIntervalRoot):
			t.Fatalf("forged segment: unexpected %v", err)
		case (err != nil) != sampled:
			t.Fatalf("seal %d: caught %v, forged interval sampled %v", h.Seal.Nonce, err != nil, sampled)
		case err != nil:
			caught++
		}
	}
	rate := float64(caught) / seals
	t.Logf("forged interval caught under %d of %d seals: %.1f%% (s/N = %.1f%%)", caught, seals, 100*rate, 100*float64(p.TrainSamples)/n)
	if rate < 0.215 || rate > 0.285 { // ±3.6 σ around 25%
		t.Fatalf("caught %.3f of forgeries, want 0.25 ± 0.035", rate)
	}
}

// BenchmarkTrainTicketOperands: the noised product a training ticket costs,
// on all-zero operands (a degenerate checkpoint) and on random ones, side
// by side. The kernels are dense and the noise full rank, so the cost does
// not depend on the values (docs/security.md).
func BenchmarkTrainTicketOperands(b *testing.B) {
	p := trainParams()
	const rows, inner, cols = 256, 256, 256
	r := rand.New(rand.NewPCG(1, 2))
	for _, be := range compute.Backends() {
		for _, kind := range []string{"zero", "random"} {
			a, bm := compute.NewI8(rows, inner), compute.NewI8(inner, cols)
			if kind == "random" {
				for i := range a.Data {
					a.Data[i] = int8(r.IntN(255) - 127)
				}
				for i := range bm.Data {
					bm.Data[i] = int8(r.IntN(255) - 127)
				}
			}
			b.Run(fmt.Sprintf("%s/%s", be.Name(), kind), func(b *testing.B) {
				m := NewMiner(p, be)
				parent := &types.Header{Number: 1}
				i := 0
				for b.Loop() {
					w := types.Work{JobID: common.Hash{1}, Op: 0, Step: 1}
					if _, _, err := m.search(context.Background(), parent, 1<<62, coinbase, uint64(i), w, a, bm, false); err != nil {
						b.Fatal(err)
					}
					i++
				}
				tiles := (rows / int(p.TileSize)) * (cols / int(p.TileSize))
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*tiles), "ns/ticket")
			})
		}
	}
}

// A segment of more intervals than the samples holds at most s·D of work:
// with it, the seals a forger must discard to hide one interval cost more
// than the interval it skipped, for any segment length (docs/security.md).
func TestTrainSegmentWorkCap(t *testing.T) {
	p := trainParams()
	k, s := p.TrainCheckpointInterval, p.TrainSamples
	spec := tinySpec(64 * k)
	sw, _ := spec.StepWork()
	seg := func(steps uint32) *types.TrainSegment { return &types.TrainSegment{FromStep: 0, ToStep: steps} }
	// D such that s·D is exactly 2s intervals' work.
	d := 2 * uint64(k) * sw
	if err := CheckTrainSegmentWork(p, spec, d, seg(2*s*k)); err != nil {
		t.Fatalf("segment of exactly s·D: %v", err)
	}
	if err := CheckTrainSegmentWork(p, spec, d, seg((2*s+1)*k)); !errors.Is(err, ErrSegmentWork) {
		t.Fatalf("segment over s·D: %v, want ErrSegmentWork", err)
	}
	// Every interval replayed: no cap, however small D.
	if err := CheckTrainSegmentWork(p, spec, 1, seg(s*k)); err != nil {
		t.Fatalf("segment of s intervals (all replayed): %v", err)
	}
	// The miner's bound is the longest valid segment.
	for _, dd := range []uint64{1, d, 10 * d} {
		n := MaxTrainSegmentSteps(p, spec, dd, 0)
		if n%k != 0 && n != spec.Steps {
			t.Fatalf("D=%d: %d steps do not end on a checkpoint", dd, n)
		}
		if err := CheckTrainSegmentWork(p, spec, dd, seg(n)); err != nil {
			t.Fatalf("D=%d: MaxTrainSegmentSteps %d is refused: %v", dd, n, err)
		}
		if n+k <= spec.Steps && CheckTrainSegmentWork(p, spec, dd, seg(n+k)) == nil && n >= s*k {
			t.Fatalf("D=%d: %d steps allowed but MaxTrainSegmentSteps said %d", dd, n+k, n)
		}
	}
}
