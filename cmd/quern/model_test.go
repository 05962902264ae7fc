package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/quern-chain/quern/vm"
	"github.com/quern-chain/quern/vm/dataset"
)

// ruleModel is a hand-made 2-2-2 network that says 1 when feature 0 is the
// larger (0 on a tie): the hidden layer maps q to (q+127)/2, which keeps
// the order of the quantised values; the output layer swaps the two.
func ruleModel() (*vm.Model, dataset.Quant) {
	return &vm.Model{
		Layers:   []uint32{2, 2, 2},
		W:        [][]int8{{1, 0, 0, 1}, {0, 1, 1, 0}},
		B:        [][]int32{{127, 127}, {0, 0}},
		ActShift: []uint8{1},
	}, dataset.Quant{Lo: []float64{0, 0}, Hi: []float64{10, 10}}
}

// ruleRows: 16 rows, the last one labelled against the rule: 15/16 right,
// 8/8 of class 0 and 7/8 of class 1. Rows 8 and 9 lie outside [0, 10] and
// clip.
var ruleRows = [][3]string{
	{"3", "1", "1"}, {"1", "3", "0"}, {"10", "0", "1"}, {"0", "10", "0"},
	{"5", "5", "0"}, {"7", "2", "1"}, {"2", "7", "0"}, {"20", "9", "1"},
	{"-5", "0", "0"}, {"6", "4", "1"}, {"4", "6", "0"}, {"9", "8", "1"},
	{"8", "9", "0"}, {"0.5", "0.2", "1"}, {"1", "1", "0"}, {"5", "6", "1"},
}

// ruleCSV writes the rows with a header, the label in column labelCol
// (0 or 2), or no label at all (−1).
func ruleCSV(t *testing.T, labelCol int) string {
	t.Helper()
	var b strings.Builder
	switch labelCol {
	case 0:
		b.WriteString("label,a,b\n")
	case 2:
		b.WriteString("a,b,label\n")
	default:
		b.WriteString("a,b\n")
	}
	for _, r := range ruleRows {
		switch labelCol {
		case 0:
			b.WriteString(r[2] + "," + r[0] + "," + r[1] + "\n")
		case 2:
			b.WriteString(strings.Join(r[:], ",") + "\n")
		default:
			b.WriteString(r[0] + "," + r[1] + "\n")
		}
	}
	return writeTemp(t, "rows.csv", b.String())
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeRuleModel(t *testing.T, labelColumn int) string {
	t.Helper()
	m, q := ruleModel()
	dir := filepath.Join(t.TempDir(), "model")
	if err := writeModelDir(dir, m, q, modelMeta{LabelColumn: labelColumn, Classes: 2, Features: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// modelFails checks a failed command in-process and, unless -short, from the
// built binary: non-zero exit, one error line containing want, no usage.
func modelFails(t *testing.T, want string, args ...string) {
	t.Helper()
	_, stderr, code := quern(t, args...)
	wantError(t, stderr, code, want)
	if quernBin != "" {
		cliFails(t, want, args...)
	}
}

func TestModelDirRoundTrip(t *testing.T) {
	m, q := ruleModel()
	job := common.HexToHash("0xabc")
	meta := modelMeta{LabelColumn: 0, Classes: 2, Features: []string{"a", "b"}, Job: &job, Steps: 300}
	dir := t.TempDir()
	if err := writeModelDir(dir, m, q, meta); err != nil {
		t.Fatal(err)
	}
	m2, q2, meta2, err := readModelDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m2, m) || !reflect.DeepEqual(q2, q) || !reflect.DeepEqual(meta2, meta) {
		t.Fatalf("round trip:\n%+v %+v %+v\n%+v %+v %+v", m, q, meta, m2, q2, meta2)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "model.json"))
	for _, want := range []string{`"layers": [2,2,2],`, `"actShift": [1],`, `"quant": {"lo":[0,0],"hi":[10,10]},`, `"labelColumn": 0`, `"classes": 2`, `"job": "0x0000`, `"steps": 300`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("model.json lacks %s:\n%s", want, raw)
		}
	}
	// One layer, no hidden layer: actShift is [] and no job or steps.
	one := &vm.Model{Layers: []uint32{2, 3}, W: [][]int8{{1, 2, 3, -4, -5, -112}}, B: [][]int32{{-1 << 31, 0, 1<<31 - 1}}, ActShift: []uint8{}}
	dir = t.TempDir()
	if err := writeModelDir(dir, one, q, modelMeta{LabelColumn: -1, Classes: 3}); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(filepath.Join(dir, "model.json"))
	if !bytes.Contains(raw, []byte(`"actShift": [],`)) || bytes.Contains(raw, []byte(`"job"`)) || bytes.Contains(raw, []byte(`"steps"`)) {
		t.Errorf("model.json:\n%s", raw)
	}
	m3, _, _, err := readModelDir(dir)
	if err != nil || !reflect.DeepEqual(m3, one) {
		t.Fatalf("got %+v, %v", m3, err)
	}
}

func TestModelNPYFiles(t *testing.T) {
	dir := t.TempDir()
	w := []int8{-112, 0, 112, 5, -6, 7}
	if err := writeInt8Matrix(filepath.Join(dir, "w.npy"), 2, 3, w); err != nil {
		t.Fatal(err)
	}
	rows, cols, got, err := readInt8Matrix(filepath.Join(dir, "w.npy"))
	if err != nil || rows != 2 || cols != 3 || !reflect.DeepEqual(got, w) {
		t.Fatalf("int8: %d×%d %v %v", rows, cols, got, err)
	}
	b := []int32{-1 << 31, -1, 0, 1<<31 - 1}
	if err := writeInt32Vector(filepath.Join(dir, "b.npy"), b); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "b.npy"))
	if !bytes.Contains(raw, []byte("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }")) || (len(raw)-16)%64 != 0 {
		t.Fatalf("b.npy header: %q", raw[:min(len(raw), 128)])
	}
	gotB, err := readInt32Vector(filepath.Join(dir, "b.npy"))
	if err != nil || !reflect.DeepEqual(gotB, b) {
		t.Fatalf("int32: %v %v", gotB, err)
	}
	if err := writeInt32Matrix(filepath.Join(dir, "c.npy"), 2, 2, b); err != nil {
		t.Fatal(err)
	}
	if _, err := readInt32Vector(filepath.Join(dir, "c.npy")); err == nil || !strings.Contains(err.Error(), "want a 1-D vector") {
		t.Fatalf("2-D read as a vector: %v", err)
	}
	if _, err := readInt32Vector(filepath.Join(dir, "w.npy")); err == nil || !strings.Contains(err.Error(), "not little-endian int32") {
		t.Fatalf("int8 read as int32: %v", err)
	}
}

func TestModelDirErrors(t *testing.T) {
	m, q := ruleModel()
	for _, tc := range []struct {
		name  string
		spoil func(dir string)
		want  string
	}{
		{"no model.json", func(dir string) { os.Remove(filepath.Join(dir, "model.json")) }, "no model.json here"},
		{"invalid JSON", func(dir string) { os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{"layers": [2, 2`), 0o644) }, "model.json is not valid model JSON"},
		{"missing weights", func(dir string) { os.Remove(filepath.Join(dir, "w1.npy")) }, "w1.npy is missing: model.json's layers [2 2 2] need w0.npy…w1.npy"},
		{"missing bias", func(dir string) { os.Remove(filepath.Join(dir, "b0.npy")) }, "b0.npy is missing"},
		{"weights of another shape", func(dir string) {
			writeInt8Matrix(filepath.Join(dir, "w1.npy"), 3, 2, make([]int8, 6))
		}, "w1.npy is 3×2 but model.json's layers [2 2 2] make layer 1 2×2"},
		{"biases of another length", func(dir string) {
			writeInt32Vector(filepath.Join(dir, "b1.npy"), make([]int32, 3))
		}, "b1.npy holds 3 biases but model.json's layers [2 2 2] make layer 1 2 wide"},
		{"weights not int8", func(dir string) {
			writeInt32Matrix(filepath.Join(dir, "w0.npy"), 2, 2, make([]int32, 4))
		}, "w0.npy: dtype <i4 is not int8"},
		{"shift count", func(dir string) { editModelJSON(t, dir, `"actShift": [1]`, `"actShift": [1, 2]`) }, "2 actShift values for 1 hidden layers"},
		{"quant width", func(dir string) { editModelJSON(t, dir, `"lo":[`, `"lo":[1,`) }, "3 lo values but 2 hi values"},
		{"quant of another width", func(dir string) {
			editModelJSON(t, dir, `"lo":[`, `"lo":[1,`)
			editModelJSON(t, dir, `"hi":[`, `"hi":[2,`)
		}, "quant scales 3 features but the input layer is 2 wide"},
		{"too many classes", func(dir string) { editModelJSON(t, dir, `"classes": 2`, `"classes": 3`) }, "classes 3: want 1 to 2"},
		{"no label column", func(dir string) { editModelJSON(t, dir, `"labelColumn": -1,`, ``) }, "labelColumn is missing"},
		{"future version", func(dir string) { editModelJSON(t, dir, `"version": 1`, `"version": 2`) }, "version 2 is not one this quern reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeModelDir(dir, m, q, modelMeta{LabelColumn: -1, Classes: 2}); err != nil {
				t.Fatal(err)
			}
			tc.spoil(dir)
			_, _, _, err := readModelDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// writeModelDir refuses pieces that disagree.
	if err := writeModelDir(t.TempDir(), m, dataset.Quant{Lo: []float64{0}, Hi: []float64{1}}, modelMeta{Classes: 2}); err == nil || !strings.Contains(err.Error(), "quant scales 1 features") {
		t.Fatalf("write with a 1-wide quant: %v", err)
	}
}

func editModelJSON(t *testing.T, dir, old, new string) {
	t.Helper()
	path := filepath.Join(dir, "model.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(old)) {
		t.Fatalf("model.json lacks %q:\n%s", old, raw)
	}
	if err := os.WriteFile(path, bytes.Replace(raw, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestModelEval(t *testing.T) {
	dir := writeRuleModel(t, -1)
	data := ruleCSV(t, 2)
	stdout, stderr, code := quern(t, "model", "eval", "--model", dir, "--data", data)
	if code != 0 || stdout != "93.75%\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 93.75%%", code, stdout, stderr)
	}
	if want := "15/16 correct\nclass 0: 8/8 100.00%\nclass 1: 7/8 87.50%\n"; stderr != want {
		t.Fatalf("stderr %q, want %q", stderr, want)
	}
	// The label column defaults to the model's training column, and a flag
	// overrides it.
	first := ruleCSV(t, 0)
	if stdout, stderr, code := quern(t, "model", "eval", "--model", writeRuleModel(t, 0), "--data", first); code != 0 || stdout != "93.75%\n" {
		t.Fatalf("training label column 0: exit %d, %q %q", code, stdout, stderr)
	}
	if stdout, stderr, code := quern(t, "model", "eval", "--model", dir, "--data", first, "--label-column", "0"); code != 0 || stdout != "93.75%\n" {
		t.Fatalf("--label-column 0: exit %d, %q %q", code, stdout, stderr)
	}
	if quernBin != "" {
		if out := runQuern(t, "model", "eval", "--model", dir, "--data", data); out != "93.75%" {
			t.Fatalf("binary: %q", out)
		}
	}
}

func TestModelPredict(t *testing.T) {
	dir := writeRuleModel(t, -1)
	var want strings.Builder
	for i, r := range ruleRows {
		y := r[2]
		if i == len(ruleRows)-1 {
			y = "0" // the row labelled against the rule
		}
		want.WriteString(y + "\n")
	}
	for _, args := range [][]string{
		{"--data", ruleCSV(t, -1)},
		{"--data", ruleCSV(t, 2), "--label-column", "-1"},
		{"--data", ruleCSV(t, 0), "--label-column", "0"},
	} {
		stdout, stderr, code := quern(t, append([]string{"model", "predict", "--model", dir}, args...)...)
		if code != 0 || stdout != want.String() {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want %q", args, code, stdout, stderr, want.String())
		}
	}
	if quernBin != "" {
		if out := runQuern(t, "model", "predict", "--model", dir, "--data", ruleCSV(t, -1)); out != strings.TrimSpace(want.String()) {
			t.Fatalf("binary: %q", out)
		}
	}
}

// Every CSV error comes back as one line naming the line of the file.
func TestModelCSVErrors(t *testing.T) {
	dir := writeRuleModel(t, -1)
	for _, tc := range []struct {
		name, cmd, csv string
		flags          []string
		want           string
	}{
		{"bad row", "eval", "a,b,label\n1,2,0\n1,2\n", nil, "line 3: 2 columns, but the header on line 1 has 3"},
		{"bad row, no header", "predict", "1,2\n1,2,3\n", nil, "line 2: 3 columns, but line 1 has 2"},
		{"missing column", "eval", "1,2,0\n", []string{"--label-column", "5"}, "line 1: label column 5 is out of range: the file has 3 columns"},
		{"missing column to skip", "predict", "1,2,0\n", []string{"--label-column", "-4"}, "line 1: column to skip -4 is out of range"},
		{"non-numeric cell", "eval", "a,b,label\n1,2,0\n1,x,0\n", nil, `line 3: cell "x" in column 1 ("b") is not a finite number`},
		{"non-numeric cell in predict", "predict", "1,2\n3,4\n5,six\n", nil, `line 3: cell "six" in column 1 is not a finite number`},
		{"empty file", "eval", "", nil, "line 1: the file is empty"},
		{"empty predict file", "predict", "", nil, "line 1: the file is empty"},
		{"negative label", "eval", "1,2,0\n1,2,-1\n", nil, `line 2: label "-1" in column 2 is negative`},
		{"fractional label", "eval", "1,2,0.5\n", nil, `line 1: label "0.5" in column 2 is not an integer`},
		{"label the model does not know", "eval", "a,b,y\n1,2,0\n1,2,2\n", nil, "line 3: label 2 is not a class of this model (it has 2: 0 to 1)"},
		{"width mismatch", "eval", "1,2,3,0\n", nil, "has 3 feature columns but the model takes 2 (its input layer)"},
		{"width mismatch in predict", "predict", "1\n2\n", nil, "has 1 feature columns but the model takes 2"},
		{"label column left in", "predict", "1,2,0\n", nil, "has 3 feature columns but the model takes 2 (its input layer); if the file has a label column, name it with --label-column"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := writeTemp(t, "data.csv", tc.csv)
			args := append([]string{"model", tc.cmd, "--model", dir, "--data", data}, tc.flags...)
			modelFails(t, data, args...)
			modelFails(t, tc.want, args...)
		})
	}
	t.Run("no data file", func(t *testing.T) {
		modelFails(t, "no such file", "model", "eval", "--model", dir, "--data", filepath.Join(t.TempDir(), "none.csv"))
	})
	t.Run("no model", func(t *testing.T) {
		modelFails(t, "no model.json here", "model", "predict", "--model", t.TempDir(), "--data", ruleCSV(t, -1))
	})
}

func TestLoadTrainingCSV(t *testing.T) {
	path := writeTemp(t, "train.csv", "small,big,label\n0.001,1000,0\n0.003,3000,2\n0.002,2000,1\n")
	x, y, quant, rows, err := loadTrainingCSV(path, -1, []uint32{2, 8, 3})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 3 || !reflect.DeepEqual(y, []byte{0, 2, 1}) ||
		!reflect.DeepEqual(x, []byte{0x90, 0x90, 112, 112, 0, 0}) || // −112 is 0x90
		!reflect.DeepEqual(quant, dataset.Quant{Lo: []float64{0.001, 1000}, Hi: []float64{0.003, 3000}}) {
		t.Fatalf("x %v y %v quant %+v rows %d", x, y, quant, rows)
	}
	for _, tc := range []struct {
		name   string
		csv    string
		layers []uint32
		want   string
	}{
		{"input width", "1,2,0\n", []uint32{3, 2}, "has 2 feature columns but the input layer is 3 wide; make the first width 2"},
		{"output width", "1,2,0\n3,4,2\n5,6,2\n", []uint32{2, 4, 2}, "line 2: label 2 needs an output layer at least 3 wide (one unit per class 0 to 2), but it is 2"},
		{"no layers", "1,2,0\n", []uint32{2}, "want at least an input and an output width"},
		{"label over a byte", "1,2,0\n1,2,256\n", []uint32{2, 300}, "line 2: label 256 does not fit a byte"},
		{"csv error", "1,2,0\n1,2\n", []uint32{2, 2}, "line 2: 2 columns, but line 1 has 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "train.csv", tc.csv)
			_, _, _, _, err := loadTrainingCSV(path, -1, tc.layers)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (len(tc.layers) > 1 && !strings.HasPrefix(err.Error(), path)) { // a layer error is not about the file
				t.Fatalf("got %v, want %q after the path", err, tc.want)
			}
		})
	}
}

// TestModelDirNumpyInterop loads a model directory's tensors with real NumPy
// and reads tensors NumPy saved, when the system python has it.
func TestModelDirNumpyInterop(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skip("numpy not available to /usr/bin/python3")
	}
	dir := writeRuleModel(t, -1)
	check := fmt.Sprintf(`
import numpy as np, os
d = %q
w0, b0, w1 = np.load(os.path.join(d, "w0.npy")), np.load(os.path.join(d, "b0.npy")), np.load(os.path.join(d, "w1.npy"))
assert w0.dtype == np.int8 and w0.shape == (2, 2) and w0.tolist() == [[1, 0], [0, 1]], (w0.dtype, w0)
assert w1.tolist() == [[0, 1], [1, 0]], w1
assert b0.dtype == np.dtype('<i4') and b0.shape == (2,) and b0.tolist() == [127, 127], (b0.dtype, b0)
np.save(os.path.join(d, "w1.npy"), np.array([[0, -112], [112, 0]], dtype=np.int8))
np.save(os.path.join(d, "b1.npy"), np.array([-2147483648, 2147483647], dtype=np.int32))
print("ok")
`, dir)
	if out, err := exec.Command(python, "-c", check).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	m, _, _, err := readModelDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.W[1], []int8{0, -112, 112, 0}) || !reflect.DeepEqual(m.B[1], []int32{-1 << 31, 1<<31 - 1}) {
		t.Fatalf("read back w1 %v b1 %v", m.W[1], m.B[1])
	}
}

// FuzzDecodeInt32Vector: bytes from a user's bias file never panic or
// allocate more than they hold.
func FuzzDecodeInt32Vector(f *testing.F) {
	var buf bytes.Buffer
	encodeNPY(&buf, "<i4", []int{3}, int32Bytes([]int32{1, -2, 3}))
	f.Add(buf.Bytes())
	f.Add([]byte("\x93NUMPY\x01\x00\x46\x00{'descr': '<i4', 'fortran_order': False, 'shape': (1073741823,), }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeInt32Vector(bytes.NewReader(data))
		if err == nil && 4*len(v) > len(data) {
			t.Fatalf("%d values from %d bytes", len(v), len(data))
		}
	})
}
