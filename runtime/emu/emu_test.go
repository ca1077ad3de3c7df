package emu_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/runtime/device"
	"github.com/elasticroom/elasticroom/runtime/emu"
)

func TestOpenFromRegistry(t *testing.T) {
	d, err := device.Open("emu", device.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Units() != 132 {
		t.Errorf("default emu has %d units, want sm_90's 132", d.Units())
	}
	a100, err := budget.LookupTarget("sm_80")
	if err != nil {
		t.Fatal(err)
	}
	d, err = device.Open("emu", device.Options{Target: a100})
	if err != nil || d.Units() != 108 {
		t.Fatalf("sm_80 emu: %v units, %v", d.Units(), err)
	}
	d, err = device.Open("emu", device.Options{Target: a100, Units: 7})
	if err != nil || d.Units() != 7 || !strings.Contains(d.Name(), "7 SMs") {
		t.Fatalf("7-unit emu: %v, %v", d, err)
	}
}

func TestCopyBytes(t *testing.T) {
	d, err := emu.New(emu.Config{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	if p%device.Alignment != 0 {
		t.Errorf("allocation %#x not %d-aligned", uint64(p), device.Alignment)
	}
	all := make([]byte, 16)
	for i := range all {
		all[i] = byte(100 + i)
	}
	if err := d.CopyToDevice(p, all); err != nil {
		t.Fatal(err)
	}
	// a 7-byte write keeps byte 7 of the second word
	if err := d.CopyToDevice(p, []byte{1, 2, 3, 4, 5, 6, 7}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if err := d.CopyToHost(got, p); err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, 2, 3, 4, 5, 6, 7, 107, 108, 109}; !bytes.Equal(got, want) {
		t.Errorf("read back %v, want %v", got, want)
	}
	if w, err := d.Load32(p.Add(8)); err != nil || w != 0x6f6e6d6c {
		t.Errorf("Load32 = %#x, %v", w, err)
	}
	if err := d.CopyToDevice(p.Add(2), []byte{1}); err == nil {
		t.Error("unaligned copy accepted")
	}
	if err := d.CopyToHost(make([]byte, 100), p); err == nil {
		t.Error("read past the allocation accepted")
	}
	if _, err := d.Load(&plan.Kernel{Name: "k"}); err == nil || !strings.Contains(err.Error(), "kernel IR") {
		t.Errorf("load without IR: %v", err)
	}
}
