package tensor

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// npyFile assembles a .npy file by hand: magic, version, length field, header, data.
func npyFile(major byte, header string, data []byte) []byte {
	b := []byte("\x93NUMPY")
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	b = append(b, header...)
	return append(b, data...)
}

// TestWriteNPYBytes checks the writer against bytes assembled by hand from numpy's format
// description: numpy >= 1.24 writes a 118-byte header ("v\x00") for a small 2-d array, with
// 21-digit growth room for the first dim and padding to 64 bytes.
func TestWriteNPYBytes(t *testing.T) {
	x := FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, -0.5})
	var buf bytes.Buffer
	if err := WriteNPY(&buf, x); err != nil {
		t.Fatal(err)
	}
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	want := "\x93NUMPY\x01\x00v\x00" + dict + strings.Repeat(" ", 20+38) + "\n"
	want += "\x00\x00\x80\x3f" + "\x00\x00\x00\x40" + "\x00\x00\x40\x40" + "\x00\x00\x80\x40" + "\x00\x00\xa0\x40" + "\x00\x00\x00\xbf"
	if got := buf.String(); got != want {
		t.Fatalf("bytes differ:\n got %q\nwant %q", got, want)
	}

	// A 1-d int64 array and a scalar: the tuple forms "(3,)" and "()".
	buf.Reset()
	if err := WriteNPY(&buf, FromInt64([]int{3}, []int64{-1, 0, 1 << 40})); err != nil {
		t.Fatal(err)
	}
	dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"
	want = "\x93NUMPY\x01\x00v\x00" + dict + strings.Repeat(" ", 20+40) + "\n"
	want += "\xff\xff\xff\xff\xff\xff\xff\xff" + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x01\x00\x00"
	if got := buf.String(); got != want {
		t.Fatalf("bytes differ:\n got %q\nwant %q", got, want)
	}
	buf.Reset()
	if err := WriteNPY(&buf, FromBool(nil, []bool{true})); err != nil {
		t.Fatal(err)
	}
	dict = "{'descr': '|b1', 'fortran_order': False, 'shape': (), }"
	want = "\x93NUMPY\x01\x00v\x00" + dict + strings.Repeat(" ", 118-len(dict)-1) + "\n\x01"
	if got := buf.String(); got != want {
		t.Fatalf("bytes differ:\n got %q\nwant %q", got, want)
	}
}

func TestNPYRoundTrip(t *testing.T) {
	cases := []*Tensor{
		FromFloat32([]int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, 1e-30}),
		{DType: Float64, Shape: []int{2}, Data: []float64{math.Pi, -1e300}},
		{DType: Float16, Shape: []int{3}, Data: []uint16{0x3c00, 0xc000, 0x7bff}},
		{DType: Int8, Shape: []int{2, 2}, Data: []int8{-128, 127, 0, -1}},
		{DType: Uint8, Shape: []int{3}, Data: []uint8{0, 255, 7}},
		{DType: Int16, Shape: []int{2}, Data: []int16{-32768, 513}},
		{DType: Int32, Shape: []int{1, 2}, Data: []int32{-7, 1 << 30}},
		FromInt64([]int{2, 1, 2}, []int64{math.MinInt64, -1, 0, math.MaxInt64}),
		FromBool([]int{4}, []bool{true, false, false, true}),
		FromFloat32(nil, []float32{42}),               // scalar
		FromFloat32([]int{0, 3}, []float32{}),         // zero-size
		FromInt64([]int{2, 0, 1000000000}, []int64{}), // zero-size with a big dim
	}
	for _, x := range cases {
		var buf bytes.Buffer
		if err := WriteNPY(&buf, x); err != nil {
			t.Fatalf("%v: %v", x, err)
		}
		if buf.Len() < 64 || (buf.Len()-x.Len()*x.DType.Size())%64 != 0 {
			t.Errorf("%v: data does not start on a 64-byte boundary (file %d bytes)", x, buf.Len())
		}
		y, err := ReadNPY(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("%v: %v", x, err)
		}
		if y.DType != x.DType || !reflect.DeepEqual(y.Shape, append([]int{}, x.Shape...)) && !(len(y.Shape) == 0 && len(x.Shape) == 0) {
			t.Fatalf("got %v, want %v", y, x)
		}
		if !reflect.DeepEqual(y.Data, x.Data) {
			t.Fatalf("%v: data %v, want %v", x, y.Data, x.Data)
		}
		if err := y.Check(); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteNPY(&bytes.Buffer{}, &Tensor{DType: BFloat16, Shape: []int{1}, Data: []uint16{0}}); err == nil {
		t.Error("bfloat16 written without error")
	}
	if err := WriteNPY(&bytes.Buffer{}, FromFloat32([]int{3}, []float32{1})); err == nil {
		t.Error("tensor with too little data written without error")
	}
}

func TestLoadSaveNPY(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.npy")
	x := FromFloat32([]int{1, 2, 2}, []float32{1, 2, 3, 4})
	if err := SaveNPY(p, x); err != nil {
		t.Fatal(err)
	}
	y, err := LoadNPY(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y, x) {
		t.Fatalf("got %v %v, want %v %v", y, y.Data, x, x.Data)
	}
	// A file that declares more data than it holds is refused before the data is read.
	b := npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }\n", make([]byte, 16))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadNPY(p); err == nil || !strings.Contains(err.Error(), "needs 40000000000 data bytes") {
		t.Fatalf("err = %v, want a data-size error", err)
	}
}

// TestReadNPYForms reads headers as other writers produce them: old numpy (16-byte
// alignment, Python 2 longs), versions 2.0 and 3.0, big-endian data, odd spacing.
func TestReadNPYForms(t *testing.T) {
	f32 := func(vs ...float32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	be64 := func(vs ...int64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.BigEndian.AppendUint64(b, uint64(v))
		}
		return b
	}
	cases := []struct {
		name string
		file []byte
		want *Tensor
	}{
		{"old numpy", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }    \n", f32(1, 2)),
			FromFloat32([]int{2}, []float32{1, 2})},
		{"v2", npyFile(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }\n", f32(3, 4)),
			FromFloat32([]int{1, 2}, []float32{3, 4})},
		{"v3 key order", npyFile(3, "{\"shape\": (2,), 'fortran_order': False, 'descr': '<f4'}\n", f32(5, 6)),
			FromFloat32([]int{2}, []float32{5, 6})},
		{"big endian", npyFile(1, "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }\n", be64(-2, 300)),
			FromInt64([]int{2}, []int64{-2, 300})},
		{"big endian f4", npyFile(1, "{'descr':'>f4','fortran_order':False,'shape':(1,)}", []byte{0x3f, 0x80, 0, 0}),
			FromFloat32([]int{1}, []float32{1})},
		{"bool bytes", npyFile(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n", []byte{0, 1, 2}),
			FromBool([]int{3}, []bool{false, true, true})},
		{"trailing bytes ignored", npyFile(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }\n", []byte{9, 10, 11}),
			&Tensor{DType: Uint8, Shape: []int{}, Data: []uint8{9}}},
	}
	for _, c := range cases {
		got, err := ReadNPY(bytes.NewReader(c.file))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.DType != c.want.DType || len(got.Shape) != len(c.want.Shape) || !reflect.DeepEqual(got.Data, c.want.Data) {
			t.Errorf("%s: got %v %v, want %v %v", c.name, got, got.Data, c.want, c.want.Data)
		}
		for i := range got.Shape {
			if got.Shape[i] != c.want.Shape[i] {
				t.Errorf("%s: shape %v, want %v", c.name, got.Shape, c.want.Shape)
			}
		}
	}
}

func TestReadNPYErrors(t *testing.T) {
	h := func(dict string) []byte { return npyFile(1, dict+"\n", make([]byte, 64)) }
	cases := []struct {
		name, want string
		file       []byte
	}{
		{"empty", "magic", nil},
		{"bad magic", "not a .npy file", []byte("\x93NUMPX\x01\x00\x00\x00")},
		{"version", "unsupported format version 4.0", []byte("\x93NUMPY\x04\x00\x00\x00")},
		{"short header", "header", []byte("\x93NUMPY\x01\x00\x50\x00{'descr'")},
		{"fortran", "fortran_order True", h("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }")},
		{"dtype", "element type \"<c8\" is not supported", h("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }")},
		{"unsigned", "not supported", h("{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }")},
		{"structured", "structured", h("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }")},
		{"pipe f4", "byte order '|'", h("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }")},
		{"missing key", "lacks", h("{'descr': '<f4', 'shape': (2,), }")},
		{"extra key", "unexpected key", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}")},
		{"dup key", "twice", h("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}")},
		{"negative dim", "non-negative", h("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }")},
		{"list shape", "tuple", h("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }")},
		{"huge dim", "too large", h("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }")},
		{"huge shape", "too large", h("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }")},
		{"not a dict", "dict", h("('descr', '<f4')")},
		{"garbage after", "after the dict", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x")},
		{"unterminated", "unterminated", h("{'descr")},
		{"bool word", "True or False", h("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }")},
		{"short data", "needs 4000 data bytes, got 64", h("{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }")},
		{"non-ascii v1", "not ASCII", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } \xff")},
	}
	for _, c := range cases {
		_, err := ReadNPY(bytes.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestReadNPYLyingShape checks that a header declaring far more data than the stream holds
// fails without allocating the declared size (here 4 GiB).
func TestReadNPYLyingShape(t *testing.T) {
	f := npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }\n", make([]byte, 100))
	var before, after testingMemStats
	before.read()
	if _, err := ReadNPY(bytes.NewReader(f)); err == nil {
		t.Fatal("no error for a short stream")
	}
	after.read()
	if grew := after.total - before.total; grew > 64<<20 {
		t.Fatalf("reading a lying header allocated %d bytes", grew)
	}
}

func FuzzReadNPY(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteNPY(&buf, FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}))
	f.Add(buf.Bytes())
	buf.Reset()
	_ = WriteNPY(&buf, FromBool(nil, []bool{true}))
	f.Add(buf.Bytes())
	f.Add(npyFile(3, "{'descr': '>i8', 'fortran_order': False, 'shape': (1, 0), }\n", nil))
	f.Add(npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }\n", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadNPY(bytes.NewReader(b))
		if err != nil {
			return
		}
		if err := x.Check(); err != nil {
			t.Fatalf("ReadNPY returned an inconsistent tensor: %v", err)
		}
		// What was read must survive a round trip.
		var out bytes.Buffer
		if err := WriteNPY(&out, x); err != nil {
			t.Fatalf("cannot write back %v: %v", x, err)
		}
		y, err := ReadNPY(&out)
		if err != nil {
			t.Fatalf("cannot read back %v: %v", x, err)
		}
		if y.DType != x.DType || len(y.Shape) != len(x.Shape) {
			t.Fatalf("round trip changed %v into %v", x, y)
		}
	})
}

// testingMemStats records the bytes allocated so far by the process.
type testingMemStats struct{ total uint64 }

func (m *testingMemStats) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
