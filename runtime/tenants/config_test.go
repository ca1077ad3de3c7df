package tenants

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/runtime/sched"
)

func TestParseConfigGood(t *testing.T) {
	src := `# ElasticRoom tenants
---
listen: 127.0.0.1:9000   # where
device: cpu
policy: elasticroom
units: 4
tenants:
  - name: rt
    model: zoo:mlp
    class: realtime
    sms: 2
    slo: 20ms
    token: "s3cret"
  # a comment between items
  -   name: be
      model: 'models/it''s here.erp'
      class: besteffort
      batch: 4
      dim.height: 640
  -
    name: third
    model: "a\"b\\c # not a comment"
    class: be
`
	cfg, err := ParseConfig("tenants.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9000" || cfg.Device != "cpu" || cfg.Policy != "elasticroom" || cfg.Units != 4 {
		t.Errorf("settings: %+v", cfg)
	}
	want := []Spec{
		{Name: "rt", Model: "zoo:mlp", Class: sched.Realtime, Units: 2, SLO: 20 * time.Millisecond, Token: "s3cret", Source: "tenants.yaml:8"},
		{Name: "be", Model: "models/it's here.erp", Class: sched.BestEffort, MaxBatch: 4, Dims: map[string]int{"height": 640}, Source: "tenants.yaml:15"},
		{Name: "third", Model: `a"b\c # not a comment`, Class: sched.BestEffort, Source: "tenants.yaml:20"},
	}
	if !reflect.DeepEqual(cfg.Tenants, want) {
		t.Errorf("tenants:\n got %+v\nwant %+v", cfg.Tenants, want)
	}
}

// TestParseConfigErrors checks that each malformed file is refused with its line.
func TestParseConfigErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"", "t.yaml: no tenants"},
		{"listen: x\n", "t.yaml: no tenants"},
		{"tenants:\n  - name: a\n    model: m\n    class: rt\n    sms: 1\n    smz: 2\n", "t.yaml:6: tenant 1: unknown key \"smz\""},
		{"tenants:\n  - name: a\n    model: m\n    class: rt\n", "t.yaml:2: tenant 1: tenant \"a\": a realtime tenant needs its guarantee"},
		{"tenants:\n  - name: a\n    model: m\n    class: realtime\n    slo: fast\n", "t.yaml:5: tenant 1: slo=\"fast\""},
		{"tenants:\n  - name: a\n    name: b\n", "t.yaml:3: duplicate key \"name\" (first at line 2)"},
		{"tenants:\n  - name: a\n      model: m\n", "t.yaml:3: key at column 7, this tenant's keys are at column 5"},
		{"tenants:\n  - name: a\n - name: b\n", "t.yaml:3: list item at column 2, the list's items are at column 3"},
		{"tenants:\n\t- name: a\n", "t.yaml:2: a tab indents this line"},
		{"- name: a\n", "t.yaml:1: a list item outside \"tenants:\""},
		{"tenants: [a, b]\n", "t.yaml:1: \"[a, b]\": flow collections"},
		{"tenants:\n  - {name: a}\n", "t.yaml:2: \"{name: a}\": flow collections"},
		{"tenants:\n  - name\n", "t.yaml:2: want \"key: value\", got \"name\""},
		{"tenants:\n  - name: &x a\n", "t.yaml:2: \"&x a\": flow collections, anchors"},
		{"tenants:\n  - name: \"open\n", "t.yaml:2: unterminated double-quoted string"},
		{"tenants:\n  - model: 'x' y\n", "t.yaml:2: text after the closing quote"},
		{"tenants:\n  - model: a: b\n", "t.yaml:2: \"a: b\": a plain value may not contain"},
		{"listen: a\n  port: 3\n", "t.yaml:2: unexpected indentation"},
		{"listen: a\nlisten: b\n", "t.yaml:2: duplicate key \"listen\" (first at line 1)"},
		{"servers: 3\ntenants:\n  - name: a\n", "t.yaml:1: unknown key \"servers\""},
		{"units: many\n", "t.yaml:1: units=\"many\""},
		{"tenants:\n  - name: a\n    model: m\n    class: be\n---\nx: 1\n", "t.yaml:5: only one YAML document"},
		{"tenants:\n  - name: a/b\n", "t.yaml:2: tenant 1: name=\"a/b\""},
		{"tenants:\n  - name: a\n    model: m\n    class: be\n    batch: 0\n", "t.yaml:5: tenant 1: batch=\"0\": want an integer >= 1"},
		{"tenants:\n  - name: a\n    class: be\n", "t.yaml:2: tenant 1: tenant \"a\": no model"},
	}
	for _, c := range cases {
		_, err := ParseConfig("t.yaml", []byte(c.src))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("config %q:\n got %v\nwant prefix %q", c.src, err, c.want)
		}
	}
}

func TestParseSpec(t *testing.T) {
	s, err := ParseSpec("name=rt, model=zoo:mlp,class=rt,sms=20,slo=1.5s,token=tok,slots=2,queue=8,dim.seq=64")
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{Name: "rt", Model: "zoo:mlp", Class: sched.Realtime, Units: 20, SLO: 1500 * time.Millisecond, Token: "tok",
		Slots: 2, Queue: 8, Dims: map[string]int{"seq": 64}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v, want %+v", s, want)
	}
	for in, msg := range map[string]string{
		"model=m,class=be":                          "no name",
		"name=a,class=be":                           "no model",
		"name=a,model=m":                            "no class",
		"name=a,model=m,class=gold":                 "unknown priority class",
		"name=a,model=m,class=rt":                   "needs its guarantee",
		"name=a,model=m,class=rt,sms=1,batch=4":     "batch is for besteffort",
		"name=a,model=m,class=be,sms=-1":            `sms="-1"`,
		"name=a,model=m,class=be,color=red":         `unknown key "color"`,
		"name=a,name=b":                             `key "name" given twice`,
		"name=a,model":                              `"model": want key=value`,
		"name=a,model=m,class=be,token=":            "token: want a non-empty value",
		"name=a,model=m,class=be,dim.h=x":           `dim.h="x"`,
		"name=a,model=m,class=realtime,sms=1,slo=5": `slo="5"`,
	} {
		if _, err := ParseSpec(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseSpec(%q) = %v, want an error containing %q", in, err, msg)
		}
	}
}

func TestCheckAndAdmit(t *testing.T) {
	rt := func(name string, units int) Spec {
		return Spec{Name: name, Model: "m", Class: sched.Realtime, Units: units, Source: "--tenant " + name}
	}
	be := Spec{Name: "be", Model: "m", Class: sched.BestEffort}
	if err := Check(nil); err == nil || !strings.Contains(err.Error(), "no tenants") {
		t.Errorf("Check(nil) = %v", err)
	}
	if err := Check([]Spec{rt("a", 1), rt("a", 1)}); err == nil || !strings.Contains(err.Error(), `tenant "a" is defined twice`) {
		t.Errorf("duplicate: %v", err)
	}
	if err := Admit([]Spec{rt("a", 2), rt("b", 2), be}, 4, "units", sched.ElasticRoom); err != nil {
		t.Errorf("4 of 4 units guaranteed: %v", err)
	}
	err := Admit([]Spec{rt("a", 2), rt("b", 3), be}, 4, "SMs", sched.ElasticRoom)
	var ae *sched.AdmissionError
	if !errors.As(err, &ae) || ae.Tenant != "b" || !strings.Contains(err.Error(), `tenant "b" asks 3 SMs`) {
		t.Errorf("over-subscribed: %v, want an admission error naming b", err)
	}
	if got := rt("a", 3).BudgetUnits(8); got != 3 {
		t.Errorf("realtime budget %d, want its guarantee 3", got)
	}
	if got := be.BudgetUnits(8); got != 8 {
		t.Errorf("besteffort budget %d, want every unit", got)
	}
}
