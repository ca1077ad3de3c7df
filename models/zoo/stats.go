package zoo

import "math"

// The builder estimates, for every value, the mean and variance of each channel (over
// positions and over inputs ~ N(0, 1)), treating each channel as Gaussian and the terms of a
// sum as independent. The estimates are used to
//   - scale each layer's weights so that its output has second moment about 1 (what He/Kaiming
//     init does for a ReLU network with unit inputs), which keeps activations O(1);
//   - give batch normalization realistic running statistics: a running mean near the actual
//     channel mean and a running variance near the actual channel variance, as in a trained
//     network. Without that, the mean offsets of ReLU outputs would pass through every layer
//     and swamp the part of the output that depends on the input.
// They need not be exact; the tests check the activations an evaluator actually computes.

// moments holds per-channel means and variances; slices of length 1 apply to every channel.
type moments struct {
	mean, vari []float64
}

func scalarMoments(mean, q float64) moments {
	return moments{mean: []float64{mean}, vari: []float64{max(q-mean*mean, 0)}}
}

// n is the number of channels described.
func (m moments) n() int { return max(len(m.mean), len(m.vari)) }

// at returns the mean and variance of channel c.
func (m moments) at(c int) (float64, float64) {
	mu, v := m.mean[0], m.vari[0]
	if len(m.mean) > 1 {
		mu = m.mean[c]
	}
	if len(m.vari) > 1 {
		v = m.vari[c]
	}
	return mu, v
}

// q is the second moment E[x^2] averaged over channels.
func (m moments) q() float64 {
	var s float64
	for c := range m.n() {
		mu, v := m.at(c)
		s += mu*mu + v
	}
	return max(s/float64(m.n()), 1e-6)
}

// stats returns what is estimated of a value (mean 0, variance 1 when nothing is).
func (b *builder) stats(name string) moments {
	if m, ok := b.st[name]; ok && m.n() > 0 {
		return m
	}
	return scalarMoments(0, 1)
}

// setPerChannel records per-channel estimates from f(c) = (mean, variance).
func (b *builder) setPerChannel(name string, channels int, f func(c int) (float64, float64)) {
	m := moments{mean: make([]float64, channels), vari: make([]float64, channels)}
	for c := range channels {
		m.mean[c], m.vari[c] = f(c)
	}
	b.st[name] = m
}

// linearStats records the statistics of y[o] = bias[o] + sum_i w[o, i] x[in(o, i)], where
// weight row o holds fan weights and channelOf maps (o, i) to the input channel.
func (b *builder) linearStats(out, x string, w, bias []float32, outputs, fan int, channelOf func(o, i int) int) {
	in := b.stats(x)
	b.setPerChannel(out, outputs, func(o int) (float64, float64) {
		var mu, v float64
		if bias != nil {
			mu = float64(bias[o])
		}
		for i, wi := range w[o*fan : (o+1)*fan] {
			m, vi := in.at(channelOf(o, i))
			mu += float64(wi) * m
			v += float64(wi) * float64(wi) * vi
		}
		return mu, v
	})
}

// rectify maps moments through max(x, 0) for Gaussian x with mean mu and sd s:
// E[y] = mu Phi(a) + s phi(a), E[y^2] = (mu^2 + s^2) Phi(a) + mu s phi(a), a = mu / s.
func rectify(mu, v float64) (float64, float64) {
	s := math.Sqrt(max(v, 1e-12))
	a := mu / s
	phi := math.Exp(-a*a/2) / math.Sqrt(2*math.Pi)
	cdf := 0.5 * math.Erfc(-a/math.Sqrt2)
	m := mu*cdf + s*phi
	q := (mu*mu+s*s)*cdf + mu*s*phi
	return m, max(q-m*m, 0)
}

// maxOfNormals returns the mean and variance of the largest of n independent N(0, 1)
// variables, by integrating x n phi(x) Phi(x)^(n-1) numerically.
func maxOfNormals(n int) (float64, float64) {
	const lo, hi, steps = -8.0, 8.0, 4000
	h := (hi - lo) / steps
	var m1, m2 float64
	for i := range steps {
		x := lo + (float64(i)+0.5)*h
		p := float64(n) * math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) * math.Pow(0.5*math.Erfc(-x/math.Sqrt2), float64(n-1)) * h
		m1 += x * p
		m2 += x * x * p
	}
	return m1, m2 - m1*m1
}
