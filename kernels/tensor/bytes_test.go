package tensor

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

// bytesCases pair hand-written little-endian bytes with the tensor they hold.
var bytesCases = []struct {
	name  string
	dt    DType
	shape []int
	raw   []byte
	data  any
}{
	{"float32", Float32, []int{2}, []byte{0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0}, []float32{1, -2.5}},
	{"float32 scalar", Float32, []int{}, []byte{1, 0, 0xc0, 0x7f}, []float32{math.Float32frombits(0x7fc00001)}},
	{"float16", Float16, []int{1}, []byte{0x00, 0x3c}, []uint16{0x3c00}},
	{"bfloat16", BFloat16, []int{2}, []byte{0x80, 0x3f, 0x20, 0xc0}, []uint16{0x3f80, 0xc020}},
	{"float64", Float64, []int{1}, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, []float64{1}},
	{"int8", Int8, []int{3}, []byte{0xff, 0x7f, 0x80}, []int8{-1, 127, -128}},
	{"uint8", Uint8, []int{2}, []byte{0xff, 0x00}, []uint8{255, 0}},
	{"int16", Int16, []int{2}, []byte{0xfe, 0xff, 0x34, 0x12}, []int16{-2, 0x1234}},
	{"int32", Int32, []int{1, 2}, []byte{0xff, 0xff, 0xff, 0xff, 0x78, 0x56, 0x34, 0x12}, []int32{-1, 0x12345678}},
	{"int64", Int64, []int{1}, []byte{8, 7, 6, 5, 4, 3, 2, 0x81}, []int64{-0x7efdfcfbfaf9f8f8}},
	{"bool", Bool, []int{3}, []byte{1, 0, 1}, []bool{true, false, true}},
	{"empty", Int64, []int{0, 3}, []byte{}, []int64{}},
}

func TestFromBytesLE(t *testing.T) {
	for _, c := range bytesCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromBytesLE(c.dt, c.shape, c.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got.DType != c.dt || !reflect.DeepEqual(got.Shape, c.shape) {
				t.Fatalf("got %v%v, want %v%v", got.DType, got.Shape, c.dt, c.shape)
			}
			if err := got.Check(); err != nil {
				t.Fatal(err)
			}
			if f, ok := c.data.([]float32); ok && math.IsNaN(float64(f[0])) {
				// NaN != NaN: compare the bits, which must survive untouched.
				if b := math.Float32bits(got.Float32s()[0]); b != 0x7fc00001 {
					t.Fatalf("NaN bits %#x, want 0x7fc00001", b)
				}
				return
			}
			if !reflect.DeepEqual(got.Data, c.data) {
				t.Fatalf("data %v, want %v", got.Data, c.data)
			}
		})
	}
}

func TestBytesLE(t *testing.T) {
	for _, c := range bytesCases {
		t.Run(c.name, func(t *testing.T) {
			in := &Tensor{DType: c.dt, Shape: c.shape, Data: c.data}
			got, err := in.BytesLE()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.raw) {
				t.Fatalf("bytes % x, want % x", got, c.raw)
			}
			// Appending keeps what dst held.
			app, err := in.AppendBytesLE([]byte{0xaa})
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]byte{0xaa}, c.raw...); !bytes.Equal(app, want) {
				t.Fatalf("appended % x, want % x", app, want)
			}
		})
	}
}

func TestBytesLERoundTrip(t *testing.T) {
	for _, dt := range []DType{Float32, Float16, BFloat16, Float64, Int8, Uint8, Int16, Int32, Int64, Bool} {
		raw := make([]byte, 6*dt.Size())
		for i := range raw {
			raw[i] = byte(37*i + 11)
		}
		if dt == Bool {
			copy(raw, []byte{0, 1, 1, 0, 0, 1})
		}
		if dt.IsFloat() {
			// Keep NaNs out so DeepEqual below stays meaningful: clear every exponent's top bit.
			for i := dt.Size() - 1; i < len(raw); i += dt.Size() {
				raw[i] &^= 0x40
			}
		}
		tt, err := FromBytesLE(dt, []int{2, 3}, raw)
		if err != nil {
			t.Fatalf("%v: %v", dt, err)
		}
		back, err := tt.BytesLE()
		if err != nil || !bytes.Equal(back, raw) {
			t.Fatalf("%v: round trip % x, want % x (err %v)", dt, back, raw, err)
		}
		again, err := FromBytesLE(dt, []int{2, 3}, back)
		if err != nil || !reflect.DeepEqual(again.Data, tt.Data) {
			t.Fatalf("%v: second decode %v, want %v (err %v)", dt, again.Data, tt.Data, err)
		}
	}
}

func TestFromBytesLEDoesNotAlias(t *testing.T) {
	raw := []byte{1, 2, 3}
	tt, err := FromBytesLE(Uint8, []int{3}, raw)
	if err != nil {
		t.Fatal(err)
	}
	raw[0] = 9
	if v := tt.Data.([]uint8); v[0] != 1 {
		t.Fatalf("tensor shares memory with its input: %v", v)
	}
}

func TestFromBytesLEBoolNonZero(t *testing.T) {
	tt, err := FromBytesLE(Bool, []int{3}, []byte{2, 0, 0xff})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true}; !reflect.DeepEqual(tt.Data, want) {
		t.Fatalf("got %v, want %v", tt.Data, want)
	}
	back, _ := tt.BytesLE()
	if want := []byte{1, 0, 1}; !bytes.Equal(back, want) {
		t.Fatalf("bools written as % x, want % x", back, want)
	}
}

func TestFromBytesLEErrors(t *testing.T) {
	cases := []struct {
		name  string
		dt    DType
		shape []int
		n     int
		want  string
	}{
		{"short", Float32, []int{2}, 7, "float32[2] needs 8 bytes, got 7"},
		{"long", Int16, []int{1, 3}, 7, "int16[1 3] needs 6 bytes, got 7"},
		{"scalar", Float64, nil, 0, "float64[] needs 8 bytes, got 0"},
		{"empty tensor with bytes", Bool, []int{4, 0}, 1, "bool[4 0] needs 0 bytes, got 1"},
		{"negative dim", Int8, []int{2, -1}, 2, "negative dim"},
		{"overflow", Int64, []int{1 << 31, 1 << 31, 1 << 31}, 8, "too large (8 bytes given)"},
		{"undefined", Undefined, []int{1}, 1, "element type undefined has no byte layout"},
		{"unknown", DType(200), []int{1}, 1, "dtype(200) has no byte layout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromBytesLE(c.dt, c.shape, make([]byte, c.n))
			if err == nil {
				t.Fatalf("no error, got %v", got)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestBytesLEErrors(t *testing.T) {
	cases := []struct {
		name string
		t    *Tensor
		want string
	}{
		{"nil", nil, "nil tensor"},
		{"wrong Go type", &Tensor{DType: Float32, Shape: []int{1}, Data: []int32{1}}, "holds data of Go type []int32"},
		{"wrong length", &Tensor{DType: Int8, Shape: []int{3}, Data: []int8{1}}, "needs 3 elements, holds 1"},
		{"no data", &Tensor{DType: Bool, Shape: []int{1}}, "not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte{7}
			got, err := c.t.AppendBytesLE(dst)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
			if !bytes.Equal(got, dst) {
				t.Fatalf("failed append changed dst to % x", got)
			}
		})
	}
}
