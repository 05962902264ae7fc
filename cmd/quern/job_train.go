package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/node"
	"github.com/quern-chain/quern/vm"
	"github.com/quern-chain/quern/vm/dataset"
)

var (
	trainDataFlag = &cli.StringFlag{
		Name:     "data",
		Usage:    "training rows, a `FILE.csv`: one column per feature and a label column (a first line of names is a header)",
		Required: true,
	}
	trainLabelColumnFlag = &cli.IntFlag{
		Name:  "label-column",
		Usage: "label column `N` of --data, 0-based, negative from the end (-1: the last)",
		Value: -1,
	}
	trainLayersFlag = &cli.StringFlag{
		Name:     "layers",
		Usage:    "the network's `WIDTHS`, comma-separated: the features first, hidden layers, the classes last (64,64,10)",
		Required: true,
	}
	trainStepsFlag = &cli.UintFlag{
		Name:     "steps",
		Usage:    "`N` gradient steps of SGD",
		Required: true,
	}
	trainBatchFlag = &cli.UintFlag{
		Name:  "batch",
		Usage: "`B` examples per step, drawn with replacement",
		Value: 32,
	}
	trainLRShiftFlag = &cli.UintFlag{
		Name:        "lr-shift",
		Usage:       "learning-rate shift `S`: each step subtracts the batch's summed gradient / 2^S (docs/training.md)",
		DefaultText: "3 + log2(batch), a batch-mean rate",
	}
)

var jobSubmitTrainCommand = &cli.Command{
	Name:      "train",
	Usage:     "submit a training job: an integer network trained on a CSV by the chain's miners",
	ArgsUsage: " ",
	Flags: []cli.Flag{rpcFlag, keystoreFlag, fromFlag, trainDataFlag, trainLabelColumnFlag, trainLayersFlag, trainStepsFlag,
		trainBatchFlag, trainLRShiftFlag, jobFeeFlag, expiryFlag, passwordFileFlag, waitFlag, jobTimeoutFlag, pollFlag},
	Action: jobSubmitTrain,
}

// trainMeta is a training job's meta (vm.TrainSpec.Meta), JSON: the
// quantisation rule (dataset.Quant's "lo" and "hi") and beside it what
// model.json needs from the training CSV. The chain carries it unread.
type trainMeta struct {
	dataset.Quant
	LabelColumn int `json:"labelColumn"`
	Classes     int `json:"classes"`
}

// parseLayers reads --layers: comma-separated positive widths.
func parseLayers(s string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.Split(s, ",") {
		w, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
		if err != nil || w == 0 {
			return nil, fmt.Errorf("--layers %q: %q is not a positive width; give comma-separated widths, the features first and the classes last (64,64,10)", s, f)
		}
		out = append(out, uint32(w))
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("--layers %q: want at least an input and an output width (64,10)", s)
	}
	return out, nil
}

// loadTraining reads the flags and the CSV into a training program, refusing
// widths that do not fit the data before anything is signed or sent.
func loadTraining(c *cli.Context) (program []byte, spec *vm.TrainSpec, err error) {
	layers, err := parseLayers(c.String(trainLayersFlag.Name))
	if err != nil {
		return nil, nil, err
	}
	steps, batch := c.Uint(trainStepsFlag.Name), c.Uint(trainBatchFlag.Name)
	if steps == 0 || steps > 1<<32-1 {
		return nil, nil, fmt.Errorf("--steps %d: want at least 1 (and below 2^32)", steps)
	}
	if batch == 0 || batch > 1<<32-1 {
		return nil, nil, fmt.Errorf("--batch %d: want at least 1 example a step", batch)
	}
	lr := uint(3 + bits.Len(batch-1)) // 3 + ⌈log2 batch⌉
	if c.IsSet(trainLRShiftFlag.Name) {
		lr = c.Uint(trainLRShiftFlag.Name)
	}
	if lr > vm.MaxLRShift {
		return nil, nil, fmt.Errorf("--lr-shift %d: at most %d (a larger shift makes every update zero)", lr, vm.MaxLRShift)
	}
	path, labelCol := c.String(trainDataFlag.Name), c.Int(trainLabelColumnFlag.Name)
	x, y, quant, rows, err := loadTrainingCSV(path, labelCol, layers)
	if err != nil {
		return nil, nil, err
	}
	classes := 0
	for _, l := range y {
		classes = max(classes, int(l)+1)
	}
	meta, err := json.Marshal(trainMeta{Quant: quant, LabelColumn: labelCol, Classes: classes})
	if err != nil {
		return nil, nil, err
	}
	if len(meta) > vm.MaxTrainMetaBytes {
		return nil, nil, fmt.Errorf("%s: the quantisation rule of its %d features takes %d bytes, more than the %d a training job carries; use fewer features (or features with shorter ranges)", path, quant.Width(), len(meta), vm.MaxTrainMetaBytes)
	}
	spec = &vm.TrainSpec{Layers: layers, Steps: uint32(steps), Batch: uint32(batch), LRShift: uint8(lr),
		Rows: uint32(rows), X: x, Y: y, Meta: meta}
	if program, err = vm.Encode(vm.NewTrain(*spec)); err != nil {
		return nil, nil, fmt.Errorf("encoding the job: %v", err)
	}
	return program, spec, nil
}

func jobSubmitTrain(c *cli.Context) error {
	var spec *vm.TrainSpec
	sub, err := prepareJob(c, func() (program []byte, err error) {
		program, spec, err = loadTraining(c)
		return program, err
	})
	if err != nil {
		return err
	}
	defer sub.nc.Close()
	params, err := sub.limits.Params()
	if err != nil {
		return fmt.Errorf("node's job limits: %v", err)
	}
	// The escrow pays the program's bytes now and each segment's states as
	// it lands (docs/protocol.md §12): ask for a job done in one segment.
	work := sub.prog.Work()
	bytes := consensus.JobBytes(len(sub.program), 0, 0) + node.TrainSegmentBytes(params, spec, 0, spec.Steps)
	note := "; a job done in several segments pays each one's bytes, so leave a margin"
	if err := checkJobFee(c, sub.nc, sub.limits, sub.fee, work, bytes, "program and a segment's states", note); err != nil {
		return err
	}
	return sub.send(c, fmt.Sprintf("training job of %d steps (%d MACs, layers %s)", spec.Steps, work, layersString(spec.Layers)))
}

func layersString(layers []uint32) string {
	s := make([]string, len(layers))
	for i, w := range layers {
		s[i] = strconv.FormatUint(uint64(w), 10)
	}
	return strings.Join(s, ",")
}

func stepsString(done, of uint32) string {
	if of == 0 {
		return fmt.Sprintf("%d steps", done)
	}
	return fmt.Sprintf("%d/%d steps (%d%%)", done, of, uint64(done)*100/uint64(of))
}

// writeTrainedModel writes a training job's model as a model directory,
// with the quantisation rule from the job's meta.
func writeTrainedModel(c *cli.Context, id common.Hash, res *node.RPCJobResult, dir string) error {
	tm := res.Train
	var meta trainMeta
	if err := json.Unmarshal(tm.Meta, &meta); err != nil {
		return fmt.Errorf("job %s: its meta is not the quantisation rule \"quern job submit train\" writes (%v); the weights alone cannot be used on raw rows", id.Hex(), err)
	}
	if len(tm.W) != len(tm.Layers)-1 || len(tm.B) != len(tm.Layers)-1 {
		return fmt.Errorf("job %s: bad model from node: %d weight and %d bias tensors for layers %v", id.Hex(), len(tm.W), len(tm.B), tm.Layers)
	}
	m := &vm.Model{Layers: tm.Layers, ActShift: make([]uint8, len(tm.ActShift)), B: tm.B, W: make([][]int8, len(tm.W))}
	for i, s := range tm.ActShift {
		if s > 255 {
			return fmt.Errorf("job %s: bad model from node: activation shift %d", id.Hex(), s)
		}
		m.ActShift[i] = uint8(s)
	}
	for l, w := range tm.W {
		m.W[l] = make([]int8, len(w))
		for i, v := range w {
			m.W[l][i] = int8(v)
		}
	}
	classes := meta.Classes
	if classes == 0 {
		classes = int(tm.Layers[len(tm.Layers)-1])
	}
	mm := modelMeta{LabelColumn: meta.LabelColumn, Classes: classes, Job: &id, Steps: uint64(tm.Steps)}
	if err := writeModelDir(dir, m, meta.Quant, mm); err != nil {
		return fmt.Errorf("job %s: %w", id.Hex(), err)
	}
	if tm.Steps < tm.TotalSteps {
		fmt.Fprintf(c.App.ErrWriter, "job %s expired at %s: this is the model at its last checkpoint\n", id.Hex(), stepsString(tm.Steps, tm.TotalSteps))
	}
	return nil
}

// trainProgress shows a training job's steps while --wait polls: on a
// terminal one line rewritten in place, with rate and ETA; otherwise a
// plain line whenever the steps on chain move.
type trainProgress struct {
	w          io.Writer
	tty        bool
	start      time.Time
	startSteps uint32
	last       uint32
	shown      bool
	status     string // a matmul job's last status shown
}

func newTrainProgress(w io.Writer) *trainProgress {
	f, ok := w.(*os.File)
	return &trainProgress{w: w, tty: ok && isTerminal(int(f.Fd()))}
}

func (p *trainProgress) show(job *node.RPCJob) {
	if job.Kind != "train" {
		p.showStatus(job)
		return
	}
	now := time.Now()
	if !p.shown {
		p.start, p.startSteps, p.last, p.shown = now, job.StepsDone, job.StepsDone, true
		if !p.tty {
			fmt.Fprintf(p.w, "training: %s\n", stepsString(job.StepsDone, job.Steps))
			return
		}
	}
	if !p.tty && job.StepsDone == p.last {
		return
	}
	p.last = job.StepsDone
	line := "training: " + stepsString(job.StepsDone, job.Steps)
	if secs := now.Sub(p.start).Seconds(); job.StepsDone > p.startSteps && secs > 0 {
		rate := float64(job.StepsDone-p.startSteps) / secs
		line += fmt.Sprintf(", %.1f steps/s", rate)
		if job.Steps > job.StepsDone {
			eta := time.Duration(float64(job.Steps-job.StepsDone) / rate * float64(time.Second))
			line += ", ETA " + eta.Round(time.Second).String()
		}
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// showStatus shows a matmul job's status while --wait polls: on a terminal
// one line with the time waited, rewritten in place; otherwise a plain line
// when the status changes.
func (p *trainProgress) showStatus(job *node.RPCJob) {
	now := time.Now()
	if !p.shown {
		p.start, p.shown = now, true
	}
	line := "job " + job.Status
	if job.Status == "pending" && job.Work > 0 {
		line += fmt.Sprintf(" (%d MACs to compute)", job.Work)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s, waited %s", line, now.Sub(p.start).Round(time.Second))
		return
	}
	if job.Status != p.status {
		fmt.Fprintln(p.w, line)
	}
	p.status = job.Status
}

// end ends the terminal's progress line.
func (p *trainProgress) end() {
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
	}
}
