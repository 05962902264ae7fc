package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/vm"
	"github.com/quern-chain/quern/vm/dataset"
)

// A model directory holds a trained integer network and what a user needs
// to run it on raw CSV rows: model.json (widths, shifts, the quantisation
// scale and provenance) and the tensors as NumPy files, w<l>.npy (int8,
// in×out) and b<l>.npy (int32, out) for each layer l.
const modelJSONName = "model.json"

// modelVersion is the model.json layout this quern writes and reads.
const modelVersion = 1

func weightsName(l int) string { return fmt.Sprintf("w%d.npy", l) }
func biasName(l int) string    { return fmt.Sprintf("b%d.npy", l) }

// modelMeta is what model.json records beyond the network and its scale.
type modelMeta struct {
	LabelColumn int          // the label column of the training CSV (0-based, negative from the end)
	Classes     int          // labels the model was trained on: 0 … Classes−1
	Features    []string     // feature names from the training CSV's header, if it had one
	Job         *common.Hash // the training job, when the chain trained it
	Steps       uint64       // gradient steps run
}

// modelFile is model.json.
type modelFile struct {
	Version     int           `json:"version"`
	Layers      []uint32      `json:"layers"`
	ActShift    []int         `json:"actShift"` // not []uint8: encoding/json writes those as base64
	Quant       dataset.Quant `json:"quant"`
	LabelColumn *int          `json:"labelColumn"`
	Classes     int           `json:"classes"`
	Features    []string      `json:"features,omitempty"`
	Job         *common.Hash  `json:"job,omitempty"`
	Steps       uint64        `json:"steps,omitempty"`
}

// checkModel checks that the pieces of a model directory agree.
func checkModel(m *vm.Model, quant dataset.Quant, meta modelMeta) error {
	if err := m.Check(); err != nil {
		return err
	}
	if err := quant.Check(); err != nil {
		return err
	}
	in, out := int(m.Layers[0]), int(m.Layers[len(m.Layers)-1])
	if quant.Width() != in {
		return fmt.Errorf("quant scales %d features but the input layer is %d wide", quant.Width(), in)
	}
	if meta.Classes < 1 || meta.Classes > out {
		return fmt.Errorf("classes %d: want 1 to %d (the output layer's width)", meta.Classes, out)
	}
	if meta.Features != nil && len(meta.Features) != in {
		return fmt.Errorf("%d feature names for an input layer %d wide", len(meta.Features), in)
	}
	return nil
}

// writeModelDir writes m, its scale and meta into dir (created if need be).
// model.json goes last, so a directory that has it is complete.
func writeModelDir(dir string, m *vm.Model, quant dataset.Quant, meta modelMeta) error {
	if err := checkModel(m, quant, meta); err != nil {
		return fmt.Errorf("model %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for l := range len(m.Layers) - 1 {
		in, out := int(m.Layers[l]), int(m.Layers[l+1])
		if err := writeInt8Matrix(filepath.Join(dir, weightsName(l)), in, out, m.W[l]); err != nil {
			return err
		}
		if err := writeInt32Vector(filepath.Join(dir, biasName(l)), m.B[l]); err != nil {
			return err
		}
	}
	f := modelFile{
		Version: modelVersion, Layers: m.Layers, ActShift: make([]int, len(m.ActShift)), Quant: quant,
		LabelColumn: &meta.LabelColumn, Classes: meta.Classes, Features: meta.Features, Job: meta.Job, Steps: meta.Steps,
	}
	for i, s := range m.ActShift {
		f.ActShift[i] = int(s)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if b, err = fieldPerLine(b); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, modelJSONName), b)
}

// fieldPerLine lays out a compact JSON object one field a line, each value
// kept compact: a model.json a person can read, with its arrays of numbers
// on one line each rather than one number a line.
func fieldPerLine(compact []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(compact))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("{")
	for sep := "\n"; dec.More(); sep = ",\n" {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		k, _ := json.Marshal(key)
		fmt.Fprintf(&out, "%s  %s: %s", sep, k, value)
	}
	out.WriteString("\n}\n")
	return out.Bytes(), nil
}

// readModelDir reads a model directory and checks that its pieces agree;
// errors name the file and what is wrong with it.
func readModelDir(dir string) (*vm.Model, dataset.Quant, modelMeta, error) {
	fail := func(err error) (*vm.Model, dataset.Quant, modelMeta, error) {
		return nil, dataset.Quant{}, modelMeta{}, err
	}
	jsonPath := filepath.Join(dir, modelJSONName)
	raw, err := os.ReadFile(jsonPath)
	if errors.Is(err, fs.ErrNotExist) {
		return fail(fmt.Errorf("%s: no %s here; a model directory holds model.json, w0.npy… and b0.npy…: check --model", dir, modelJSONName))
	}
	if err != nil {
		return fail(err)
	}
	var f modelFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return fail(fmt.Errorf("%s is not valid model JSON: %v", jsonPath, err))
	}
	bad := func(format string, args ...any) (*vm.Model, dataset.Quant, modelMeta, error) {
		return fail(fmt.Errorf("%s: %s", jsonPath, fmt.Sprintf(format, args...)))
	}
	if f.Version != 0 && f.Version != modelVersion {
		return bad("version %d is not one this quern reads (version %d); use a newer quern", f.Version, modelVersion)
	}
	if len(f.Layers) < 2 {
		return bad("layers %v: want at least an input and an output width", f.Layers)
	}
	for l, w := range f.Layers {
		if w == 0 {
			return bad("layers[%d] is 0; every width must be at least 1", l)
		}
	}
	if len(f.ActShift) != len(f.Layers)-2 {
		return bad("%d actShift values for %d hidden layers; want one per hidden layer", len(f.ActShift), len(f.Layers)-2)
	}
	if f.LabelColumn == nil {
		return bad("labelColumn is missing; set it to the training CSV's label column (-1 for the last)")
	}
	m := &vm.Model{Layers: f.Layers, ActShift: make([]uint8, len(f.ActShift))}
	for i, s := range f.ActShift {
		if s < 0 || s > 255 {
			return bad("actShift[%d] = %d is outside 0 to 255", i, s)
		}
		m.ActShift[i] = uint8(s)
	}
	meta := modelMeta{LabelColumn: *f.LabelColumn, Classes: f.Classes, Features: f.Features, Job: f.Job, Steps: f.Steps}
	nl := len(f.Layers) - 1
	for l := range nl {
		in, out := int(f.Layers[l]), int(f.Layers[l+1])
		files := fmt.Sprintf("layers %v need w0.npy…w%d.npy and b0.npy…b%d.npy", f.Layers, nl-1, nl-1)
		wPath, bPath := filepath.Join(dir, weightsName(l)), filepath.Join(dir, biasName(l))
		rows, cols, w, err := readInt8Matrix(wPath)
		if errors.Is(err, fs.ErrNotExist) {
			return fail(fmt.Errorf("%s is missing: model.json's %s", wPath, files))
		}
		if err != nil {
			return fail(err)
		}
		if rows != in || cols != out {
			return fail(fmt.Errorf("%s is %d×%d but model.json's layers %v make layer %d %d×%d", wPath, rows, cols, f.Layers, l, in, out))
		}
		b, err := readInt32Vector(bPath)
		if errors.Is(err, fs.ErrNotExist) {
			return fail(fmt.Errorf("%s is missing: model.json's %s", bPath, files))
		}
		if err != nil {
			return fail(err)
		}
		if len(b) != out {
			return fail(fmt.Errorf("%s holds %d biases but model.json's layers %v make layer %d %d wide", bPath, len(b), f.Layers, l, out))
		}
		m.W, m.B = append(m.W, w), append(m.B, b)
	}
	if err := checkModel(m, f.Quant, meta); err != nil {
		return bad("%v", err)
	}
	return m, f.Quant, meta, nil
}

// loadTrainingCSV reads a training CSV and quantises it into the bytes a
// training job carries, refusing layer widths that cannot fit the data
// before anything is signed or sent.
func loadTrainingCSV(path string, labelCol int, layers []uint32) (x, y []byte, quant dataset.Quant, rows int, err error) {
	if len(layers) < 2 {
		return nil, nil, dataset.Quant{}, 0, fmt.Errorf("layers %v: want at least an input and an output width", layers)
	}
	t, err := readCSVFile(path, labelCol, true)
	if err != nil {
		return nil, nil, dataset.Quant{}, 0, err
	}
	in, out := int(layers[0]), int(layers[len(layers)-1])
	if in != t.Features() {
		return nil, nil, dataset.Quant{}, 0, fmt.Errorf("%s has %d feature columns but the input layer is %d wide; make the first width %d", path, t.Features(), in, t.Features())
	}
	if label, line := t.MaxLabel(); out <= label {
		return nil, nil, dataset.Quant{}, 0, fmt.Errorf("%s: line %d: label %d needs an output layer at least %d wide (one unit per class 0 to %d), but it is %d; make the last width %d or more", path, line, label, label+1, label, out, label+1)
	}
	quant = dataset.FitQuant(t)
	if err := quant.Check(); err != nil {
		return nil, nil, dataset.Quant{}, 0, fmt.Errorf("%s: %w", path, err)
	}
	x, y, err = quant.ApplyTable(t)
	if err != nil {
		return nil, nil, dataset.Quant{}, 0, fmt.Errorf("%s: %w", path, err)
	}
	return x, y, quant, len(t.X), nil
}

// readCSVFile reads path as a labelled table (labelled) or as features
// with column col skipped (col may be dataset.NoColumn); errors start with
// the path.
func readCSVFile(path string, col int, labelled bool) (*dataset.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var t *dataset.Table
	if labelled {
		t, err = dataset.ReadCSV(bufio.NewReader(f), col)
	} else {
		t, err = dataset.ReadFeatures(bufio.NewReader(f), col)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

var (
	modelDirFlag = &cli.StringFlag{
		Name:     "model",
		Usage:    "the model's `DIR`: model.json, w0.npy… and b0.npy…",
		Required: true,
	}
	modelDataFlag = &cli.StringFlag{
		Name:     "data",
		Usage:    "the rows, a `FILE.csv` (a first line of names is a header)",
		Required: true,
	}
	evalLabelColumnFlag = &cli.IntFlag{
		Name:        "label-column",
		Usage:       "label column `N` of --data, 0-based, negative from the end (-1: the last)",
		DefaultText: "the training CSV's, from model.json",
	}
	predictLabelColumnFlag = &cli.IntFlag{
		Name:        "label-column",
		Usage:       "a label column `N` of --data to ignore, 0-based, negative from the end (-1: the last)",
		DefaultText: "none: every column is a feature",
	}
)

var modelCommand = &cli.Command{
	Name:  "model",
	Usage: "run a trained integer network on CSV rows",
	Subcommands: []*cli.Command{
		{
			Name:      "eval",
			Usage:     "print a model's accuracy on labelled rows",
			ArgsUsage: " ",
			Flags:     []cli.Flag{modelDirFlag, modelDataFlag, evalLabelColumnFlag, jsonFlag},
			Action:    modelEval,
		},
		{
			Name:      "predict",
			Usage:     "print the model's label for each row of features, one a line",
			ArgsUsage: " ",
			Flags:     []cli.Flag{modelDirFlag, modelDataFlag, predictLabelColumnFlag},
			Action:    modelPredict,
		},
	},
}

// modelAndData reads --model and --data and checks that their widths agree.
func modelAndData(c *cli.Context, labelled bool) (*vm.Model, dataset.Quant, modelMeta, *dataset.Table, error) {
	fail := func(err error) (*vm.Model, dataset.Quant, modelMeta, *dataset.Table, error) {
		return nil, dataset.Quant{}, modelMeta{}, nil, err
	}
	if err := noArgs(c); err != nil {
		return fail(err)
	}
	m, quant, meta, err := readModelDir(c.String(modelDirFlag.Name))
	if err != nil {
		return fail(err)
	}
	col := dataset.NoColumn
	switch {
	case c.IsSet("label-column"):
		col = c.Int("label-column")
	case labelled:
		col = meta.LabelColumn
	}
	path := c.String(modelDataFlag.Name)
	t, err := readCSVFile(path, col, labelled)
	if err != nil {
		return fail(err)
	}
	if t.Features() != quant.Width() {
		hint := "pass rows with the model's features"
		if !labelled && col == dataset.NoColumn && t.Features() == quant.Width()+1 {
			hint = "if the file has a label column, name it with --label-column"
		}
		return fail(fmt.Errorf("%s has %d feature columns but the model takes %d (its input layer); %s", path, t.Features(), quant.Width(), hint))
	}
	return m, quant, meta, t, nil
}

func modelEval(c *cli.Context) error {
	m, quant, meta, t, err := modelAndData(c, true)
	if err != nil {
		return err
	}
	if err := dataset.CheckLabels(t, meta.Classes); err != nil {
		return fmt.Errorf("%s: %w", c.String(modelDataFlag.Name), err)
	}
	right, seen := make([]int, meta.Classes), make([]int, meta.Classes)
	for i, x := range t.X {
		y := t.Labels[i]
		seen[y]++
		if m.Predict(quant.Apply(x)) == y {
			right[y]++
		}
	}
	correct := 0
	for _, n := range right {
		correct += n
	}
	if c.Bool(jsonFlag.Name) {
		type class struct {
			Class   int `json:"class"`
			Correct int `json:"correct"`
			Rows    int `json:"rows"`
		}
		out := struct {
			Accuracy float64 `json:"accuracy"` // 0..1
			Correct  int     `json:"correct"`
			Rows     int     `json:"rows"`
			Classes  []class `json:"classes"`
		}{Correct: correct, Rows: len(t.X), Classes: []class{}}
		if len(t.X) > 0 {
			out.Accuracy = float64(correct) / float64(len(t.X))
		}
		for k := range meta.Classes {
			out.Classes = append(out.Classes, class{k, right[k], seen[k]})
		}
		return printJSON(c, out)
	}
	fmt.Fprintln(c.App.Writer, percent(correct, len(t.X)))
	fmt.Fprintf(c.App.ErrWriter, "%d/%d correct\n", correct, len(t.X))
	for k := range meta.Classes {
		if seen[k] == 0 {
			fmt.Fprintf(c.App.ErrWriter, "class %d: no rows\n", k)
			continue
		}
		fmt.Fprintf(c.App.ErrWriter, "class %d: %d/%d %s\n", k, right[k], seen[k], percent(right[k], seen[k]))
	}
	return nil
}

func percent(n, of int) string { return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of)) }

func modelPredict(c *cli.Context) error {
	m, quant, _, t, err := modelAndData(c, false)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.App.Writer)
	for _, x := range t.X {
		fmt.Fprintln(w, m.Predict(quant.Apply(x)))
	}
	return w.Flush()
}
