package zoo

import (
	"math"
	"testing"
)

func TestMaxOfNormals(t *testing.T) {
	// Tabulated expected maxima and variances of n standard normals.
	for _, c := range []struct {
		n          int
		mean, vari float64
	}{
		{1, 0, 1}, {2, 0.5642, 0.6817}, {4, 1.0294, 0.4917}, {8, 1.4236, 0.3729}, {9, 1.4850, 0.3574},
	} {
		m, v := maxOfNormals(c.n)
		if math.Abs(m-c.mean) > 1e-3 || math.Abs(v-c.vari) > 2e-3 {
			t.Errorf("max of %d normals: mean %.4f var %.4f, want %.4f %.4f", c.n, m, v, c.mean, c.vari)
		}
	}
	// rectify of N(0, 1): mean 1/sqrt(2 pi), E[y^2] = 1/2.
	m, v := rectify(0, 1)
	if math.Abs(m-1/math.Sqrt(2*math.Pi)) > 1e-9 || math.Abs(v+m*m-0.5) > 1e-9 {
		t.Errorf("rectify(0, 1) = %v, %v", m, v)
	}
}
