package dataset

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func readString(t *testing.T, s string, labelCol int) *Table {
	t.Helper()
	tab, err := ReadCSV(strings.NewReader(s), labelCol)
	if err != nil {
		t.Fatalf("ReadCSV(%q): %v", s, err)
	}
	return tab
}

func TestReadCSVHeader(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		labelCol  int
		header    []string
		x         [][]float64
		labels    []int
		lines     []int
	}{
		{"no header", "1,2,0\n3,4.5,1\n", -1, nil, [][]float64{{1, 2}, {3, 4.5}}, []int{0, 1}, []int{1, 2}},
		{"header", "a,b,class\n1,2,0\n3,4,1\n", -1, []string{"a", "b"}, [][]float64{{1, 2}, {3, 4}}, []int{0, 1}, []int{2, 3}},
		{"numeric names are data", "10,20,1\n1,2,0\n", -1, nil, [][]float64{{10, 20}, {1, 2}}, []int{1, 0}, []int{1, 2}},
		{"label first", "y,a,b\n2,1,2\n", 0, []string{"a", "b"}, [][]float64{{1, 2}}, []int{2}, []int{2}},
		{"label counted from the end", "a,y,b\n1,3,2\n", -2, []string{"a", "b"}, [][]float64{{1, 2}}, []int{3}, []int{2}},
		{"spaces, blank lines, 3.0 label", " a , b ,y\n\n 1 , 2 , 3.0 \n", -1, []string{"a", "b"}, [][]float64{{1, 2}}, []int{3}, []int{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := readString(t, tc.csv, tc.labelCol)
			if !reflect.DeepEqual(tab.Header, tc.header) || !reflect.DeepEqual(tab.X, tc.x) ||
				!reflect.DeepEqual(tab.Labels, tc.labels) || !reflect.DeepEqual(tab.Lines, tc.lines) {
				t.Fatalf("got header %q x %v labels %v lines %v\nwant header %q x %v labels %v lines %v",
					tab.Header, tab.X, tab.Labels, tab.Lines, tc.header, tc.x, tc.labels, tc.lines)
			}
		})
	}
}

func TestReadFeatures(t *testing.T) {
	tab, err := ReadFeatures(strings.NewReader("a,b\n1,2\n3,4\n"), NoColumn)
	if err != nil || tab.Labels != nil || !reflect.DeepEqual(tab.X, [][]float64{{1, 2}, {3, 4}}) || !reflect.DeepEqual(tab.Header, []string{"a", "b"}) {
		t.Fatalf("got %+v, %v", tab, err)
	}
	// The skipped column is ignored whatever it holds.
	tab, err = ReadFeatures(strings.NewReader("1,cat,2\n3,,4\n"), 1)
	if err != nil || tab.Labels != nil || !reflect.DeepEqual(tab.X, [][]float64{{1, 2}, {3, 4}}) || tab.Header != nil {
		t.Fatalf("got %+v, %v", tab, err)
	}
}

// Every error names its line and says what to do.
func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		labelCol  int
		want      []string
	}{
		{"empty file", "", -1, []string{"line 1:", "empty"}},
		{"header only", "a,b,y\n", -1, []string{"line 2:", "header and no rows"}},
		{"short row", "1,2,0\n1,2,3,0\n", -1, []string{"line 2:", "4 columns", "line 1 has 3"}},
		{"short row after header", "a,b,y\n1,2,0\n1,0\n", -1, []string{"line 3:", "2 columns", "header on line 1 has 3"}},
		{"label column out of range", "1,2,0\n", 3, []string{"line 1:", "label column 3 is out of range", "3 columns"}},
		{"label column out of range from the end", "1,2,0\n", -4, []string{"line 1:", "label column -4"}},
		{"non-numeric cell, named", "a,b,y\n1,2,0\n1,x7,1\n", -1, []string{"line 3:", `"x7"`, `column 1 ("b")`, "not a finite number"}},
		{"non-numeric cell, by index", "1,2,0\n1,2,1\nNaN,2,1\n", -1, []string{"line 3:", `"NaN"`, "column 0", "not a finite number"}},
		{"empty cell", "1,2,0\n,2,1\n", -1, []string{"line 2:", `""`, "column 0"}},
		{"negative label", "1,2,0\n1,2,-1\n", -1, []string{"line 2:", `label "-1"`, "negative"}},
		{"fractional label", "a,b,y\n1,2,0.5\n", -1, []string{"line 2:", `label "0.5"`, `column 2 ("y")`, "not an integer"}},
		{"word label", "1,2,0\n1,2,cat\n", -1, []string{"line 2:", `label "cat"`, "not a number"}},
		{"bad quoting", "1,2,0\n1,\"2,0\n", -1, []string{"line 2:", "quot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.csv), tc.labelCol)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCheckLabels(t *testing.T) {
	tab := readString(t, "a,y\n1,0\n2,1\n3,2\n", -1)
	if err := CheckLabels(tab, 3); err != nil {
		t.Fatal(err)
	}
	err := CheckLabels(tab, 2)
	if err == nil || !strings.Contains(err.Error(), "line 4: label 2") {
		t.Fatalf("got %v, want line 4: label 2", err)
	}
	if y, line := tab.MaxLabel(); y != 2 || line != 4 {
		t.Fatalf("MaxLabel = %d, line %d", y, line)
	}
}

// Two columns a thousand times apart in scale each fill the int8 range.
func TestQuantScales(t *testing.T) {
	tab := readString(t, "0.001,1000,0\n0.002,2000,1\n0.003,3000,0\n0.0025,2500,1\n", -1)
	q := FitQuant(tab)
	if !reflect.DeepEqual(q.Lo, []float64{0.001, 1000}) || !reflect.DeepEqual(q.Hi, []float64{0.003, 3000}) {
		t.Fatalf("quant %+v", q)
	}
	x, y, err := q.ApplyTable(tab)
	if err != nil {
		t.Fatal(err)
	}
	// (2500 − 2000)/1000·112 = 56; likewise 0.0025.
	want := []int8{-112, -112, 0, 0, 112, 112, 56, 56}
	for i, b := range x {
		if int8(b) != want[i] {
			t.Fatalf("x[%d] = %d, want %d (all %v)", i, int8(b), want[i], x)
		}
	}
	if !reflect.DeepEqual(y, []byte{0, 1, 0, 1}) {
		t.Fatalf("y = %v", y)
	}
}

func TestQuantRule(t *testing.T) {
	q := Quant{Lo: []float64{-1, 5, 0}, Hi: []float64{1, 5, 254}}
	for _, tc := range []struct {
		x    []float64
		want []int8
	}{
		{[]float64{0, 5, 127}, []int8{0, 0, 0}},
		{[]float64{1, 5, 254}, []int8{112, 0, 112}},
		{[]float64{-1, -1e9, 0}, []int8{-112, 0, -112}},               // a constant feature is 0 whatever comes
		{[]float64{3, 6, -1000}, []int8{112, 0, -112}},                // clip above and below
		{[]float64{-0.5669642857142857, 5, 127.5}, []int8{-64, 0, 0}}, // −63.5 → −64: half away from zero; 0.44 → 0
		{[]float64{0.004464285714285714, 5, 128.49}, []int8{1, 0, 1}}, // 0.5 → 1, 1.31 → 1
		{[]float64{-1e300, 5, 1e300}, []int8{-112, 0, 112}},           // far outside still clips
	} {
		if got := q.Apply(tc.x); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Apply(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestQuantConstantColumn(t *testing.T) {
	tab := readString(t, "7,1,0\n7,2,1\n7,3,1\n", -1)
	q := FitQuant(tab)
	x, _, err := q.ApplyTable(tab)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(x); i += 2 {
		if x[i] != 0 {
			t.Fatalf("constant column quantised to %d in row %d", int8(x[i]), i/2)
		}
	}
	if err := q.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestQuantJSON(t *testing.T) {
	tab := readString(t, "0.1,1e-7,123456.789,0\n0.7,3.3e-7,-98765.4321,1\n", -1)
	q := FitQuant(tab)
	q.Lo[0] = 1.0 / 3 // a value with no short decimal form
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"lo":[`) || !strings.Contains(string(b), `"hi":[`) {
		t.Fatalf("json %s", b)
	}
	var back Quant
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, q) {
		t.Fatalf("round trip %+v → %s → %+v", q, b, back)
	}
	for _, v := range [][]float64{{0.2, 2e-7, 5}, {5, -1, 1e6}} {
		if !reflect.DeepEqual(q.Apply(v), back.Apply(v)) {
			t.Fatalf("Apply differs after the round trip")
		}
	}
}

func TestQuantCheck(t *testing.T) {
	for _, tc := range []struct {
		q    Quant
		want string
	}{
		{Quant{Lo: []float64{0}, Hi: []float64{1, 2}}, "1 lo values but 2 hi"},
		{Quant{}, "no features"},
		{Quant{Lo: []float64{2}, Hi: []float64{1}}, "above hi"},
		{Quant{Lo: []float64{-math.MaxFloat64}, Hi: []float64{math.MaxFloat64}}, "not a finite range"},
	} {
		if err := tc.q.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%+v) = %v, want %q", tc.q, err, tc.want)
		}
	}
}

func TestApplyTableLabelByte(t *testing.T) {
	tab := readString(t, "1,255\n2,256\n", -1)
	_, _, err := FitQuant(tab).ApplyTable(tab)
	if err == nil || !strings.Contains(err.Error(), "line 2: label 256") {
		t.Fatalf("got %v", err)
	}
}
