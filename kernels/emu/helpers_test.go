package emu

import (
	"context"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

func newDev(t *testing.T, sms int) *Device {
	t.Helper()
	d, err := NewDevice(Config{SMs: sms, MaxBlocksPerSM: 4, MaxThreadsPerSM: 1024})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func build(t *testing.T, b *kir.Builder) *kir.Kernel {
	t.Helper()
	k, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}
