package eltwise

import (
	"fmt"
	"testing"
)

// Hand-computed broadcast strides and collapsed iteration spaces.
func TestBroadcastStridesAndCollapse(t *testing.T) {
	if got := fmt.Sprint(BroadcastStrides([]int{3, 1}, []int{2, 3, 4})); got != "[0 1 0]" {
		t.Errorf("BroadcastStrides([3 1], [2 3 4]) = %s, want [0 1 0]", got)
	}
	for _, c := range []struct {
		shape   []int
		strides [][]int
		want    string
	}{
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {0, 1, 0}}, "[2 3 4] [[12 4 1] [0 1 0]]"},
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {12, 4, 1}}, "[24] [[1] [1]]"},
		{[]int{2, 1, 3}, [][]int{{3, 0, 1}}, "[6] [[1]]"},
		{[]int{2, 3}, [][]int{{1, 2}}, "[2 3] [[1 2]]"},
		{[]int{1, 1}, [][]int{{0, 0}, {0, 0}}, "[1] [[0] [0]]"}, // all size 1: stride 0, no index math
	} {
		dims, sts := Collapse(c.shape, c.strides...)
		if got := fmt.Sprint(dims, sts); got != c.want {
			t.Errorf("Collapse(%v, %v) = %s, want %s", c.shape, c.strides, got, c.want)
		}
	}
}
