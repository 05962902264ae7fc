package vm

import "testing"

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
