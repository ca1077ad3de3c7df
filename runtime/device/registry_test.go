package device_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/runtime/device"
)

type fake struct {
	device.Memory
	name string
}

func (f fake) Name() string                               { return f.name }
func (f fake) Units() int                                 { return 1 }
func (f fake) Load(*plan.Kernel) (device.Function, error) { return nil, errors.New("no") }
func (f fake) Launch(context.Context, device.Function, device.LaunchConfig, ...any) error {
	return errors.New("no")
}
func (f fake) Close() error { return nil }

func TestRegistry(t *testing.T) {
	device.Register("test-ok", func(device.Options) (device.Device, error) { return fake{name: "ok"}, nil })
	device.Register("test-bad", func(device.Options) (device.Device, error) { return nil, errors.New("no driver") })
	d, err := device.Open("test-ok", device.Options{})
	if err != nil || d.Name() != "ok" {
		t.Fatalf("open test-ok: %v, %v", d, err)
	}
	if _, err := device.Open("test-bad", device.Options{}); err == nil || !strings.Contains(err.Error(), "no driver") {
		t.Errorf("open test-bad: %v", err)
	}
	_, err = device.Open("nope", device.Options{})
	if !errors.Is(err, device.ErrUnknown) || !strings.Contains(err.Error(), "test-ok") {
		t.Errorf("open nope: %v", err)
	}
	old := device.AutoOrder
	defer func() { device.AutoOrder = old }()
	device.AutoOrder = []string{"missing", "test-bad", "test-ok"}
	if d, err := device.Open(device.Auto, device.Options{}); err != nil || d.Name() != "ok" {
		t.Errorf("auto: %v, %v", d, err)
	}
	device.AutoOrder = []string{"missing", "test-bad"}
	_, err = device.Open(device.Auto, device.Options{})
	if err == nil || !strings.Contains(err.Error(), "missing: not built in") || !strings.Contains(err.Error(), "no driver") {
		t.Errorf("auto with nothing usable: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	device.Register("test-ok", func(device.Options) (device.Device, error) { return nil, nil })
}
