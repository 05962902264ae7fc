package vm

import "testing"

func TestRoundShiftHalfEven(t *testing.T) {
	for _, c := range []struct {
		x    int64
		s    uint8
		want int64
	}{
		{5, 1, 2}, {7, 1, 4}, {6, 2, 2}, {2, 2, 0}, {10, 2, 2}, {-5, 1, -2}, {-7, 1, -4},
		{-6, 2, -2}, {-2, 2, 0}, {-10, 2, -2}, {9, 2, 2}, {-9, 2, -2}, {11, 2, 3}, {-11, 2, -3}, {3, 0, 3},
	} {
		if got := RoundShift(c.x, c.s); got != c.want {
			t.Errorf("RoundShift(%d, %d) = %d, want %d", c.x, c.s, got, c.want)
		}
	}
}

func TestModelPredict(t *testing.T) {
	// 2 → 2 → 2: the hidden layer copies x (ReLU cuts the negative one),
	// the output swaps the two.
	m := &Model{
		Layers:   []uint32{2, 2, 2},
		W:        [][]int8{{1, 0, 0, 1}, {0, 1, 1, 0}},
		B:        [][]int32{{0, 0}, {0, 0}},
		ActShift: []uint8{0},
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	if got := m.Predict([]int8{5, -3}); got != 1 { // hidden (5, 0) → logits (0, 5)
		t.Fatalf("Predict = %d, want 1", got)
	}
	if got := m.Predict([]int8{-1, 4}); got != 0 {
		t.Fatalf("Predict = %d, want 0", got)
	}
	m.ActShift = nil
	if m.Check() == nil {
		t.Fatal("Check accepted a model without its shifts")
	}
}
