package tenants

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/sched"
)

// Spec is one tenant as the user describes it: a model served under a priority class.
type Spec struct {
	// Name names the tenant and its model on the HTTP API (/v2/models/{Name}).
	Name string
	// Model is a .onnx or .erp file, or zoo:NAME.
	Model string
	Class sched.Class
	// Units is the guarantee ("sms" or "units"): the SMs (cpu: worker units) reserved for a
	// realtime tenant; for a besteffort tenant its share under static-partition (0: equal).
	Units int
	// SLO is the latency target of a request (0: none).
	SLO time.Duration
	// MaxBatch > 1 lets a besteffort tenant run up to that many queued requests back to back.
	MaxBatch int
	// Token, when set, is the bearer token the tenant's requests must carry.
	Token string
	// Slots is the number of requests the tenant runs at once (0: DefaultSlots).
	Slots int
	// Queue bounds the tenant's requests queued or running; beyond it requests are refused
	// as overloaded (HTTP 429). 0: DefaultQueue.
	Queue int
	// Dims sizes the model's symbolic input dims (key dim.NAME=SIZE) for compilation.
	Dims map[string]int
	// Source says where the spec came from ("--tenant 2", "tenants.yaml:7"), for messages.
	Source string
}

// Defaults of a Spec.
const (
	DefaultSlots = 1
	DefaultQueue = 256
)

// Keys lists the keys a spec takes, in the order --help shows them.
var Keys = []string{"name", "model", "class", "sms", "units", "slo", "batch", "token", "slots", "queue", "dim.NAME"}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Set sets one key of the spec from its text.
func (s *Spec) Set(key, value string) error {
	atoi := func(lo int) (int, error) {
		n, err := strconv.Atoi(value)
		if err != nil || n < lo {
			return 0, fmt.Errorf("%s=%q: want an integer >= %d", key, value, lo)
		}
		return n, nil
	}
	var err error
	switch {
	case key == "name":
		if !nameRE.MatchString(value) {
			return fmt.Errorf("name=%q: want 1 to 64 of A-Z a-z 0-9 _ . - (starting with a letter or digit)", value)
		}
		s.Name = value
	case key == "model":
		if value == "" {
			return errors.New("model is empty (give a .onnx or .erp file, or zoo:NAME)")
		}
		s.Model = value
	case key == "class":
		if s.Class, err = sched.ParseClass(value); err != nil {
			return err
		}
	case key == "sms" || key == "units":
		s.Units, err = atoi(0)
	case key == "slo":
		d, perr := time.ParseDuration(value)
		if perr != nil || d < 0 {
			return fmt.Errorf("slo=%q: want a duration such as 20ms or 1.5s", value)
		}
		s.SLO = d
	case key == "batch":
		s.MaxBatch, err = atoi(1)
	case key == "token":
		if value == "" || strings.ContainsAny(value, " \t\r\n") {
			return errors.New("token: want a non-empty value without spaces")
		}
		s.Token = value
	case key == "slots":
		s.Slots, err = atoi(1)
	case key == "queue":
		s.Queue, err = atoi(1)
	case strings.HasPrefix(key, "dim."):
		var n int
		if n, err = atoi(1); err == nil {
			if s.Dims == nil {
				s.Dims = map[string]int{}
			}
			s.Dims[strings.TrimPrefix(key, "dim.")] = n
		}
	default:
		return fmt.Errorf("unknown key %q (known: %s)", key, strings.Join(Keys, ", "))
	}
	return err
}

// ParseSpec reads a spec written as comma-separated key=value pairs, as --tenant takes it:
//
//	name=rt,model=zoo:mlp,class=realtime,sms=20,slo=20ms,token=s3cret
func ParseSpec(text string) (Spec, error) {
	var s Spec
	seen := map[string]bool{}
	for part := range strings.SplitSeq(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return s, fmt.Errorf("%q: want key=value", part)
		}
		if seen[k] {
			return s, fmt.Errorf("key %q given twice", k)
		}
		seen[k] = true
		if err := s.Set(k, v); err != nil {
			return s, err
		}
	}
	return s, s.Validate()
}

// Validate checks that the spec is complete and coherent.
func (s *Spec) Validate() error {
	switch {
	case s.Name == "":
		return errors.New("no name (name=...)")
	case s.Model == "":
		return fmt.Errorf("tenant %q: no model (model=FILE.onnx|FILE.erp|zoo:NAME)", s.Name)
	case s.Class == 0:
		return fmt.Errorf("tenant %q: no class (class=realtime or class=besteffort)", s.Name)
	case s.Class == sched.Realtime && s.Units < 1:
		return fmt.Errorf("tenant %q: a realtime tenant needs its guarantee, sms=K (K >= 1)", s.Name)
	case s.Class == sched.Realtime && s.MaxBatch > 1:
		return fmt.Errorf("tenant %q: batch is for besteffort tenants (a realtime request never waits for a batch)", s.Name)
	}
	return nil
}

// where prefixes a message with the spec's source.
func (s *Spec) where() string {
	if s.Source == "" {
		return ""
	}
	return s.Source + ": "
}

// Check validates every spec and that tenant names are unique.
func Check(specs []Spec) error {
	if len(specs) == 0 {
		return errors.New("no tenants: give --tenant name=...,model=...,class=... (or --config tenants.yaml)")
	}
	seen := map[string]string{}
	for i := range specs {
		s := &specs[i]
		if err := s.Validate(); err != nil {
			return fmt.Errorf("%s%w", s.where(), err)
		}
		if first, dup := seen[s.Name]; dup {
			return fmt.Errorf("%stenant %q is defined twice (first at %s)", s.where(), s.Name, first)
		}
		seen[s.Name] = s.Source
		if seen[s.Name] == "" {
			seen[s.Name] = fmt.Sprintf("tenant %d", i+1)
		}
	}
	return nil
}

// BudgetUnits is the number of units the tenant's model is compiled for: its guarantee for a
// realtime tenant, every unit for a besteffort one (it grows into whatever is idle).
func (s Spec) BudgetUnits(deviceUnits int) int {
	if s.Class == sched.Realtime && s.Units > 0 {
		return min(s.Units, deviceUnits)
	}
	return deviceUnits
}

// Admit checks admission of specs on a device of units under policy before any model is
// loaded, with the scheduler's own rules: a refusal is a *sched.AdmissionError naming the
// tenant (the realtime guarantees, and static partitions, must fit the device's units).
func Admit(specs []Spec, units int, unitName string, policy sched.Policy) error {
	ts := make([]sched.Tenant, len(specs))
	for i, s := range specs {
		ts[i] = schedTenant(s, placeholder{})
	}
	s, err := sched.New(sched.Config{Units: units, UnitName: unitName, Policy: policy}, ts...)
	if err != nil {
		return err
	}
	s.Stop()
	return nil
}

func schedTenant(s Spec, r sched.Runner) sched.Tenant {
	return sched.Tenant{Name: s.Name, Class: s.Class, Units: s.Units, SLO: s.SLO, MaxBatch: s.MaxBatch, Runner: r}
}

// placeholder is the runner of an admission check: it never runs.
type placeholder struct{}

func (placeholder) Slots() int { return 1 }
func (placeholder) Run(context.Context, map[string]*tensor.Tensor, *sched.Lease) (map[string]*tensor.Tensor, error) {
	return nil, errors.New("admission check only")
}
