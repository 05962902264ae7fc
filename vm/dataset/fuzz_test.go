package dataset

import (
	"bytes"
	"testing"
)

// FuzzReadCSV: any bytes give a table or an error naming a line, never a
// panic, and a table always quantises.
func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"a,b,y\n1,2,0\n3,4,1\n", "1,2,0\n", "", "1,\"2,0\n", "x\n", "1e308,-1e308,0\n", "1,2,3.0\n\n4,5,6\n"} {
		f.Add([]byte(s), int8(-1))
	}
	f.Fuzz(func(t *testing.T, data []byte, col int8) {
		tab, err := ReadCSV(bytes.NewReader(data), int(col))
		if err != nil {
			if !bytes.HasPrefix([]byte(err.Error()), []byte("line ")) {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		if len(tab.X) == 0 || len(tab.Labels) != len(tab.X) || len(tab.Lines) != len(tab.X) {
			t.Fatalf("table of %d rows, %d labels, %d lines", len(tab.X), len(tab.Labels), len(tab.Lines))
		}
		for i, x := range tab.X {
			if len(x) != tab.Features() || tab.Labels[i] < 0 || (i > 0 && tab.Lines[i] <= tab.Lines[i-1]) {
				t.Fatalf("row %d: %d features of %d, label %d, line %d", i, len(x), tab.Features(), tab.Labels[i], tab.Lines[i])
			}
		}
		q := FitQuant(tab)
		if q.Check() != nil {
			return // a range too wide for float64: the CLI refuses it
		}
		if x, _, err := q.ApplyTable(tab); err == nil && len(x) != len(tab.X)*tab.Features() {
			t.Fatalf("%d bytes for %d×%d", len(x), len(tab.X), tab.Features())
		}
	})
}
