package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// NoColumn, passed to ReadFeatures, means the file has no column to skip.
const NoColumn = math.MinInt

// Table is a CSV read into memory: row i's features are X[i], its label
// Labels[i] (nil for a features-only table), and Lines[i] is the 1-based line
// of the file it came from, so later checks can name it.
type Table struct {
	Header []string // feature names, in column order; nil when the file had no header
	X      [][]float64
	Labels []int
	Lines  []int
}

// Features is the number of feature columns.
func (t *Table) Features() int {
	if len(t.X) == 0 {
		return len(t.Header)
	}
	return len(t.X[0])
}

// ReadCSV reads a labelled table. labelCol is the 0-based label column;
// negative values count from the end (−1 is the last column). The first line
// is a header when one of its feature cells is not a number. Labels must be
// non-negative integers ("3", or "3.0" as some exporters write them).
func ReadCSV(r io.Reader, labelCol int) (*Table, error) {
	if labelCol == NoColumn {
		return nil, errors.New("ReadCSV needs a label column; read a features-only file with ReadFeatures")
	}
	return read(r, labelCol, true)
}

// ReadFeatures reads a table of features only. skipCol, unless NoColumn,
// names a column (counted as in ReadCSV) that is ignored, whatever it holds:
// a label column left in the file.
func ReadFeatures(r io.Reader, skipCol int) (*Table, error) {
	return read(r, skipCol, false)
}

func read(r io.Reader, col int, labelled bool) (*Table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // we check widths ourselves, to say which line and what to do
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	t := &Table{}
	width, label := 0, -1 // label: the resolved column index, −1 for none
	headerLine := 0
	var names []string // column names (header cells) or nil
	colName := func(j int) string {
		if names != nil && names[j] != "" {
			return fmt.Sprintf("column %d (%q)", j, names[j])
		}
		return fmt.Sprintf("column %d", j)
	}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("line %d: %v; fix the quoting of that line", pe.Line, pe.Err)
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		for j := range rec {
			rec[j] = strings.TrimSpace(rec[j])
		}
		if first {
			width = len(rec)
			if col != NoColumn {
				label = col
				if label < 0 {
					label += width
				}
				if label < 0 || label >= width {
					what := "label column"
					if !labelled {
						what = "column to skip"
					}
					return nil, fmt.Errorf("line %d: %s %d is out of range: the file has %d columns (0 to %d, or −1 to −%d from the end); pass a column that exists", line, what, col, width, width-1, width)
				}
			}
			if labelled && width < 2 {
				return nil, fmt.Errorf("line %d: %d column: a labelled table needs at least one feature column and the label column", line, width)
			}
			if !labelled && width-btoi(label >= 0) < 1 {
				return nil, fmt.Errorf("line %d: no feature columns left after skipping column %d", line, label)
			}
			if isHeader(rec, label) {
				names = append([]string(nil), rec...)
				for j, n := range names {
					if j != label {
						t.Header = append(t.Header, n)
					}
				}
				headerLine = line
				continue
			}
		}
		if len(rec) != width {
			if headerLine != 0 {
				return nil, fmt.Errorf("line %d: %d columns, but the header on line %d has %d; every row needs one cell per header name (delete line %d if it is not a header)", line, len(rec), headerLine, width, headerLine)
			}
			return nil, fmt.Errorf("line %d: %d columns, but line %d has %d; every row needs the same number of columns", line, len(rec), t.firstLine(line), width)
		}
		x := make([]float64, 0, width-btoi(label >= 0))
		for j, cell := range rec {
			if j == label {
				if !labelled {
					continue
				}
				y, err := parseLabel(cell)
				if err != nil {
					return nil, fmt.Errorf("line %d: label %q in %s %v; labels are class numbers 0, 1, 2, …", line, cell, colName(j), err)
				}
				t.Labels = append(t.Labels, y)
				continue
			}
			v, ok := parseNumber(cell)
			if !ok {
				return nil, fmt.Errorf("line %d: cell %q in %s is not a finite number; every feature cell must be one (encode categories as numbers, fill empty cells)", line, cell, colName(j))
			}
			x = append(x, v)
		}
		t.X = append(t.X, x)
		t.Lines = append(t.Lines, line)
	}
	if len(t.X) == 0 {
		if headerLine != 0 {
			return nil, fmt.Errorf("line %d: the file has a header and no rows; give it at least one row of data", headerLine+1)
		}
		return nil, errors.New("line 1: the file is empty; give it at least one row of data")
	}
	return t, nil
}

// firstLine is the line of the first data row, or cur when there is none yet.
func (t *Table) firstLine(cur int) int {
	if len(t.Lines) > 0 {
		return t.Lines[0]
	}
	return cur
}

// isHeader: a first line is a header when a feature cell is not a number. A
// line of numbers is data, even if it was meant as names.
func isHeader(rec []string, label int) bool {
	for j, cell := range rec {
		if j == label {
			continue
		}
		if _, ok := parseNumber(cell); !ok {
			return true
		}
	}
	return false
}

// parseNumber accepts finite decimal numbers only (no NaN, no Inf: they have
// no place on a quantisation scale).
func parseNumber(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// maxLabel bounds a label so that counting classes never overflows.
const maxLabel = 1<<31 - 1

func parseLabel(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return 0, errors.New("is negative")
		}
		if n > maxLabel {
			return 0, fmt.Errorf("is above %d", maxLabel)
		}
		return n, nil
	}
	v, ok := parseNumber(s)
	if !ok {
		return 0, errors.New("is not a number")
	}
	if v != math.Trunc(v) {
		return 0, errors.New("is not an integer")
	}
	if v < 0 {
		return 0, errors.New("is negative")
	}
	if v > maxLabel {
		return 0, fmt.Errorf("is above %d", maxLabel)
	}
	return int(v), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CheckLabels reports the first row whose label is not below classes,
// naming its line.
func CheckLabels(t *Table, classes int) error {
	if t.Labels == nil {
		return errors.New("the table has no labels")
	}
	for i, y := range t.Labels {
		if y >= classes {
			return fmt.Errorf("line %d: label %d is not a class of this model (it has %d: 0 to %d); relabel the row or use a model with more classes", t.Lines[i], y, classes, classes-1)
		}
	}
	return nil
}

// MaxLabel is the largest label and the line of its first row (−1, 0 for a
// table without labels).
func (t *Table) MaxLabel() (label, line int) {
	label = -1
	for i, y := range t.Labels {
		if y > label {
			label, line = y, t.Lines[i]
		}
	}
	return label, line
}
