package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

// Limits that keep malformed models from asking for absurd memory.
const (
	maxDim      = 1 << 40 // largest single dim accepted
	maxElements = 1 << 40 // largest element count of one tensor
)

var onnxToDType = map[onnxpb.TensorProto_DataType]tensor.DType{
	onnxpb.TensorProto_FLOAT:    tensor.Float32,
	onnxpb.TensorProto_FLOAT16:  tensor.Float16,
	onnxpb.TensorProto_BFLOAT16: tensor.BFloat16,
	onnxpb.TensorProto_DOUBLE:   tensor.Float64,
	onnxpb.TensorProto_INT8:     tensor.Int8,
	onnxpb.TensorProto_UINT8:    tensor.Uint8,
	onnxpb.TensorProto_INT16:    tensor.Int16,
	onnxpb.TensorProto_INT32:    tensor.Int32,
	onnxpb.TensorProto_INT64:    tensor.Int64,
	onnxpb.TensorProto_BOOL:     tensor.Bool,
}

// dtypeOf maps an ONNX element type to ours.
func dtypeOf(et int32) (tensor.DType, error) {
	if dt, ok := onnxToDType[onnxpb.TensorProto_DataType(et)]; ok {
		return dt, nil
	}
	name, ok := onnxpb.TensorProto_DataType_name[et]
	if !ok {
		name = strconv.Itoa(int(et))
	}
	return tensor.Undefined, fmt.Errorf("element type %s is not supported", name)
}

// onnxType maps our element type to ONNX's.
func onnxType(dt tensor.DType) (int32, error) {
	for k, v := range onnxToDType {
		if v == dt {
			return int32(k), nil
		}
	}
	return 0, fmt.Errorf("element type %v has no ONNX equivalent", dt)
}

// checkedShape converts ONNX dims, refusing negative or huge dims and overflowing products.
func checkedShape(dims []int64) ([]int, int, error) {
	shape := make([]int, len(dims))
	n := int64(1)
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("dim %d is negative (%d)", i, d)
		}
		if d > maxDim {
			return nil, 0, fmt.Errorf("dim %d is too large (%d)", i, d)
		}
		shape[i] = int(d)
		if d != 0 && n > maxElements/d {
			return nil, 0, fmt.Errorf("shape %v has too many elements", dims)
		}
		n *= d
	}
	return shape, int(n), nil
}

// tensorLoader reads TensorProtos, resolving external data against baseDir.
type tensorLoader struct {
	baseDir string
}

// load converts one TensorProto.
func (tl *tensorLoader) load(tp *onnxpb.TensorProto) (*tensor.Tensor, error) {
	if tp == nil {
		return nil, errors.New("missing tensor")
	}
	if tp.GetSegment() != nil {
		return nil, errors.New("segmented tensors are not supported")
	}
	dt, err := dtypeOf(tp.GetDataType())
	if err != nil {
		return nil, err
	}
	shape, n, err := checkedShape(tp.GetDims())
	if err != nil {
		return nil, err
	}
	raw := tp.GetRawData()
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if raw, err = tl.external(tp, n*dt.Size()); err != nil {
			return nil, err
		}
	}
	if raw != nil || tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		t, err := tensor.FromBytesLE(dt, shape, raw)
		if err != nil {
			return nil, fmt.Errorf("raw_data: %w", err)
		}
		return t, nil
	}
	t := &tensor.Tensor{DType: dt, Shape: shape}
	if t.Data, err = fromTyped(tp, dt, n); err != nil {
		return nil, err
	}
	return t, nil
}

// fromTyped decodes the typed repeated fields, as the ONNX spec packs them.
func fromTyped(tp *onnxpb.TensorProto, dt tensor.DType, n int) (any, error) {
	check := func(got int, name string) error {
		if got != n {
			return fmt.Errorf("%s holds %d values, shape %v needs %d", name, got, tp.GetDims(), n)
		}
		return nil
	}
	switch dt {
	case tensor.Float32:
		if err := check(len(tp.GetFloatData()), "float_data"); err != nil {
			return nil, err
		}
		return append(make([]float32, 0, n), tp.GetFloatData()...), nil
	case tensor.Float64:
		if err := check(len(tp.GetDoubleData()), "double_data"); err != nil {
			return nil, err
		}
		return append(make([]float64, 0, n), tp.GetDoubleData()...), nil
	case tensor.Int64:
		if err := check(len(tp.GetInt64Data()), "int64_data"); err != nil {
			return nil, err
		}
		return append(make([]int64, 0, n), tp.GetInt64Data()...), nil
	}
	src := tp.GetInt32Data()
	if err := check(len(src), "int32_data"); err != nil {
		return nil, err
	}
	switch dt {
	case tensor.Int32:
		return append(make([]int32, 0, n), src...), nil
	case tensor.Float16, tensor.BFloat16:
		v := make([]uint16, n)
		for i, x := range src {
			v[i] = uint16(x)
		}
		return v, nil
	case tensor.Int8:
		v := make([]int8, n)
		for i, x := range src {
			v[i] = int8(x)
		}
		return v, nil
	case tensor.Uint8:
		v := make([]uint8, n)
		for i, x := range src {
			v[i] = uint8(x)
		}
		return v, nil
	case tensor.Int16:
		v := make([]int16, n)
		for i, x := range src {
			v[i] = int16(x)
		}
		return v, nil
	case tensor.Bool:
		v := make([]bool, n)
		for i, x := range src {
			v[i] = x != 0
		}
		return v, nil
	}
	return nil, fmt.Errorf("element type %v cannot be read from typed fields", dt)
}

// external reads a tensor's bytes from its external file.
func (tl *tensorLoader) external(tp *onnxpb.TensorProto, want int) ([]byte, error) {
	var location string
	offset, length := int64(0), int64(-1)
	for _, kv := range tp.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			location = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("external data %s: %w", kv.GetKey(), err)
		}
	}
	if location == "" {
		return nil, errors.New("external data has no location")
	}
	if tl.baseDir == "" {
		return nil, fmt.Errorf("external data file %q: no base directory given (load the model from a file)", location)
	}
	if filepath.IsAbs(location) || !filepath.IsLocal(filepath.FromSlash(location)) {
		return nil, fmt.Errorf("external data file %q escapes the model directory", location)
	}
	path := filepath.Join(tl.baseDir, filepath.FromSlash(location))
	if offset < 0 || length < -1 {
		return nil, fmt.Errorf("external data file %s: negative offset or length", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("external data file %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data file %s: %w", path, err)
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if length != int64(want) {
		return nil, fmt.Errorf("external data file %s: length %d, tensor needs %d bytes", path, length, want)
	}
	if offset > st.Size() || length > st.Size()-offset {
		return nil, fmt.Errorf("external data file %s (%d bytes) is too short for offset %d length %d", path, st.Size(), offset, length)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return nil, fmt.Errorf("external data file %s: %w", path, err)
	}
	return buf, nil
}

// toProto converts a tensor to a TensorProto holding raw_data.
func toProto(name string, t *tensor.Tensor) (*onnxpb.TensorProto, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor %q is nil", name)
	}
	raw, err := t.BytesLE()
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	et, err := onnxType(t.DType)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	if len(raw) == 0 {
		raw = []byte{} // keep the field present so readers see an empty raw_data
	}
	return &onnxpb.TensorProto{Name: &name, DataType: &et, Dims: dims, RawData: raw}, nil
}
