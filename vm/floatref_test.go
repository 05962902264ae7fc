package vm

import (
	"bufio"
	"flag"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quern-chain/quern/compute"
)

// floatNet is the float64 reference of the integer trainer, to measure what
// integer training costs: the same architecture (clipped ReLU at 127/128),
// the same init (the integer masters at their real scale), the same batch
// order (BatchIndices) and the same per-layer learning rate the shifts
// imply, η_l = 2^(−LRShift + 2·ActFrac − WShift − fracBits(in_l)) on the
// batch sum of gradients. Real scales: x = X/128, w = master/2^(WShift+F_l).
type floatNet struct {
	layers []int
	w, b   [][]float64
	lr     []float64
}

func newFloatNet(spec *TrainSpec, jobID common.Hash) *floatNet {
	s := InitState(spec, jobID)
	n := &floatNet{}
	for _, v := range spec.Layers {
		n.layers = append(n.layers, int(v))
	}
	for l := range spec.layers() {
		f := float64(int(WShift) + int(fracBits(spec.Layers[l])))
		w := make([]float64, len(s.W[l]))
		for i, v := range s.W[l] {
			w[i] = float64(v) / math.Exp2(f)
		}
		n.w = append(n.w, w)
		n.b = append(n.b, make([]float64, spec.Layers[l+1]))
		n.lr = append(n.lr, math.Exp2(float64(-int(spec.LRShift)+2*ActFrac-WShift-int(fracBits(spec.Layers[l])))))
	}
	return n
}

const floatClip = float64(OperandMax) / (1 << ActFrac)

// forward returns every layer's input (acts[0] = x) and the logits.
func (n *floatNet) forward(x []float64) (acts [][]float64, z []float64) {
	a := x
	nl := len(n.layers) - 1
	for l := range nl {
		in, out := n.layers[l], n.layers[l+1]
		acts = append(acts, a)
		z = append([]float64(nil), n.b[l]...)
		for i := range in {
			for j := range out {
				z[j] += a[i] * n.w[l][i*out+j]
			}
		}
		if l < nl-1 {
			h := make([]float64, out)
			for j, v := range z {
				h[j] = math.Min(math.Max(v, 0), floatClip)
			}
			a = h
		}
	}
	return acts, z
}

func (n *floatNet) step(spec *TrainSpec, jobID common.Hash, t uint32) {
	nl := len(n.layers) - 1
	dw, db := make([][]float64, nl), make([][]float64, nl)
	for l := range nl {
		dw[l], db[l] = make([]float64, len(n.w[l])), make([]float64, len(n.b[l]))
	}
	for _, r := range BatchIndices(spec, jobID, t) {
		acts, z := n.forward(floatRow(spec, int(r)))
		zmax := z[0]
		for _, v := range z {
			zmax = math.Max(zmax, v)
		}
		g, sum := make([]float64, len(z)), 0.0
		for j, v := range z {
			g[j] = math.Exp(v - zmax)
			sum += g[j]
		}
		for j := range g {
			g[j] /= sum
		}
		g[spec.Y[r]]--
		for l := nl - 1; l >= 0; l-- {
			in, out := n.layers[l], n.layers[l+1]
			for i := range in {
				for j := range out {
					dw[l][i*out+j] += acts[l][i] * g[j]
				}
			}
			for j := range out {
				db[l][j] += g[j]
			}
			if l == 0 {
				break
			}
			prev := make([]float64, in)
			for i := range in {
				if h := acts[l][i]; h > 0 && h < floatClip {
					for j := range out {
						prev[i] += g[j] * n.w[l][i*out+j]
					}
				}
			}
			g = prev
		}
	}
	for l := range nl {
		for i := range n.w[l] {
			n.w[l][i] -= n.lr[l] * dw[l][i]
		}
		for j := range n.b[l] {
			n.b[l][j] -= n.lr[l] * db[l][j]
		}
	}
}

func floatRow(spec *TrainSpec, r int) []float64 {
	in := int(spec.Layers[0])
	x := make([]float64, in)
	for j := range x {
		x[j] = float64(int8(spec.X[r*in+j])) / (1 << ActFrac)
	}
	return x
}

func (n *floatNet) train(spec *TrainSpec, jobID common.Hash) {
	for t := range spec.Steps {
		n.step(spec, jobID, t)
	}
}

func (n *floatNet) predict(x []float64) int {
	_, z := n.forward(x)
	best := 0
	for j, v := range z {
		if v > z[best] {
			best = j
		}
	}
	return best
}

// floatAccuracy is n's accuracy on rows (x int8, row-major) with labels y.
func (n *floatNet) accuracy(spec *TrainSpec, x, y []byte) float64 {
	probe := &TrainSpec{Layers: spec.Layers, X: x}
	ok := 0
	for i := range y {
		if n.predict(floatRow(probe, i)) == int(y[i]) {
			ok++
		}
	}
	return float64(ok) / float64(len(y))
}

func TestFloatReferenceBlobs(t *testing.T) {
	spec := blobSpec()
	final, _, err := Train(PlainProducts{compute.Portable()}, spec, jobA, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := newFloatNet(spec, jobA)
	ref.train(spec, jobA)
	ia, fa := accuracy(final.Model(spec), spec.X, spec.Y, 8), ref.accuracy(spec, spec.X, spec.Y)
	t.Logf("blobs 8,16,3, %d steps of %d, lr shift %d: integer %.3f, float %.3f", spec.Steps, spec.Batch, spec.LRShift, ia, fa)
	if ia <= 0.85 || fa <= 0.85 {
		t.Fatalf("integer %.3f, float %.3f: want both > 0.85", ia, fa)
	}
}

var digitsFlag = flag.Bool("quern.digits", false, "train digits (shared/data/digits.csv) for the full 1500 steps (default 400)")

// readDigits reads digits.csv: 64 features, the label last.
func readDigits(t *testing.T) (feat [][]float64, labels []byte) {
	var f *os.File
	for _, p := range []string{"../../shared/data/digits.csv", "../shared/data/digits.csv"} {
		var err error
		if f, err = os.Open(p); err == nil {
			break
		}
	}
	if f == nil {
		t.Skip("digits.csv not found (../../shared/data or ../shared/data)")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(fields) < 2 {
			continue
		}
		row := make([]float64, len(fields)-1)
		for j := range row {
			v, err := strconv.ParseFloat(fields[j], 64)
			if err != nil {
				t.Fatalf("digits.csv: %v", err)
			}
			row[j] = v
		}
		y, err := strconv.Atoi(fields[len(fields)-1])
		if err != nil {
			t.Fatalf("digits.csv: %v", err)
		}
		feat, labels = append(feat, row), append(labels, byte(y))
	}
	return feat, labels
}

// quantiseSplit applies the CLI's rule with lo/hi per feature from train:
// x_q = round((x − mid)/half · 127) clipped, 0 where half = 0.
func quantiseSplit(train, all [][]float64) []byte {
	n := len(train[0])
	lo, hi := make([]float64, n), make([]float64, n)
	for j := range n {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
		for _, r := range train {
			lo[j], hi[j] = math.Min(lo[j], r[j]), math.Max(hi[j], r[j])
		}
	}
	out := make([]byte, 0, len(all)*n)
	for _, r := range all {
		for j, v := range r {
			mid, half := (hi[j]+lo[j])/2, (hi[j]-lo[j])/2
			q := 0.0
			if half != 0 {
				q = math.Max(-OperandMax, math.Min(OperandMax, math.Round((v-mid)/half*OperandMax)))
			}
			out = append(out, byte(int8(q)))
		}
	}
	return out
}

func TestDigits(t *testing.T) {
	feat, labels := readDigits(t)
	nTrain := len(feat) * 8 / 10
	x := quantiseSplit(feat[:nTrain], feat)
	in := len(feat[0])
	spec := &TrainSpec{Layers: []uint32{uint32(in), 64, 10}, Steps: 1500, Batch: 32, LRShift: 8,
		Rows: uint32(nTrain), X: x[:nTrain*in], Y: labels[:nTrain]}
	if !*digitsFlag { // the default suite stays fast; -quern.digits runs the reported figures
		spec.Steps = 400
	}
	if err := NewTrain(*spec).Check(trainLimits()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	final, _, err := Train(PlainProducts{compute.CPU()}, spec, jobA, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	ref := newFloatNet(spec, jobA)
	ref.train(spec, jobA)
	testX, testY := x[nTrain*in:], labels[nTrain:]
	m := final.Model(spec)
	it, ft := accuracy(m, testX, testY, in), ref.accuracy(spec, testX, testY)
	itr, ftr := accuracy(m, spec.X, spec.Y, in), ref.accuracy(spec, spec.X, spec.Y)
	w := NewTrain(*spec).Work()
	t.Logf("digits %v, %d steps × batch %d, lr shift %d: test accuracy integer %.4f, float %.4f (train %.4f, %.4f); work %d MACs; integer training %v on %s",
		spec.Layers, spec.Steps, spec.Batch, spec.LRShift, it, ft, itr, ftr, w, wall, compute.CPU().Name())
	if it < 0.8 || ft < 0.8 {
		t.Fatalf("test accuracy integer %.3f, float %.3f: want both ≥ 0.8", it, ft)
	}
}
