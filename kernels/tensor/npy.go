package tensor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// The .npy format (numpy.lib.format): the magic "\x93NUMPY", a major and minor version byte,
// a little-endian header length (uint16 in 1.0, uint32 in 2.0 and 3.0), then the header: a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded
// with spaces and a final newline so the data starts on a 64-byte boundary. The data follows
// in C order. 3.0 only differs from 2.0 in allowing UTF-8 in the header.

const (
	npyMagic = "\x93NUMPY"
	// npyMaxHeader bounds the header a reader accepts; numpy itself refuses headers over
	// 10000 bytes unless told otherwise.
	npyMaxHeader = 1 << 20
	// npyMaxRank bounds the rank a reader accepts (numpy's own limit is 64).
	npyMaxRank = 64
	// npyAlign is the alignment of the data start, as numpy writes it.
	npyAlign = 64
	// npyGrowthDigits is numpy's GROWTH_AXIS_MAX_DIGITS: numpy >= 1.24 leaves room in the
	// header for the first dim to grow to this many digits.
	npyGrowthDigits = 21
)

// npyDescrs maps a type character and size (e.g. "f4") to our element type.
var npyDescrs = map[string]DType{
	"f2": Float16, "f4": Float32, "f8": Float64,
	"i1": Int8, "u1": Uint8, "i2": Int16, "i4": Int32, "i8": Int64,
	"b1": Bool,
}

// npyDescr is the descr a writer uses for an element type.
func npyDescr(dt DType) (string, error) {
	switch dt {
	case Float16:
		return "<f2", nil
	case Float32:
		return "<f4", nil
	case Float64:
		return "<f8", nil
	case Int8:
		return "|i1", nil
	case Uint8:
		return "|u1", nil
	case Int16:
		return "<i2", nil
	case Int32:
		return "<i4", nil
	case Int64:
		return "<i8", nil
	case Bool:
		return "|b1", nil
	}
	return "", fmt.Errorf("npy: element type %v has no .npy equivalent", dt)
}

// npyHeader is what a header declares.
type npyHeader struct {
	dtype     DType
	bigEndian bool
	shape     []int
}

// LoadNPY reads a .npy file.
func LoadNPY(path string) (*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var limit int64 = -1
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		limit = st.Size()
	}
	t, err := readNPY(bufio.NewReaderSize(f, 1<<16), limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// SaveNPY writes t to a .npy file, replacing it.
func SaveNPY(path string, t *Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := WriteNPY(bw, t); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// ReadNPY reads one array in .npy format (versions 1.0, 2.0 and 3.0) from r. It reads
// exactly the header and the data, nothing after them. Big-endian data is converted;
// Fortran-order arrays, structured types and element types the engine does not have are
// errors. A header that declares more data than r holds is an error, found before a buffer
// of the declared size is allocated.
func ReadNPY(r io.Reader) (*Tensor, error) {
	return readNPY(r, -1)
}

// readNPY reads from r; when size >= 0 it is the number of bytes r holds in all.
func readNPY(r io.Reader, size int64) (*Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy: reading magic: %w", noEOF(err))
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("npy: not a .npy file (magic %q)", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen int
	var prefix int64
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: reading header length: %w", noEOF(err))
		}
		hlen, prefix = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: reading header length: %w", noEOF(err))
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > npyMaxHeader {
			return nil, fmt.Errorf("npy: header length %d exceeds the limit of %d bytes", n, npyMaxHeader)
		}
		hlen, prefix = int(n), 12
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	if size >= 0 && prefix+int64(hlen) > size {
		return nil, fmt.Errorf("npy: header length %d exceeds the file (%d bytes)", hlen, size)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("npy: reading %d-byte header: %w", hlen, noEOF(err))
	}
	if major < 3 {
		for _, c := range hb {
			if c >= 0x80 {
				return nil, fmt.Errorf("npy: header of version %d.%d is not ASCII", major, minor)
			}
		}
	}
	h, err := parseNPYHeader(string(hb))
	if err != nil {
		return nil, fmt.Errorf("npy: header %q: %w", strings.TrimSpace(string(hb)), err)
	}
	n, err := npyElements(h.shape, h.dtype.Size())
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	nbytes := int64(n) * int64(h.dtype.Size())
	if size >= 0 && prefix+int64(hlen)+nbytes > size {
		return nil, fmt.Errorf("npy: shape %v of %v needs %d data bytes, the file holds %d",
			h.shape, h.dtype, nbytes, size-prefix-int64(hlen))
	}
	var data []byte
	if size >= 0 {
		data = make([]byte, nbytes)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("npy: reading %d data bytes: %w", nbytes, noEOF(err))
		}
	} else {
		// The length of r is unknown: let the buffer grow with what actually arrives, so a
		// lying header cannot make us allocate its declared size.
		data, err = io.ReadAll(io.LimitReader(r, nbytes))
		if err != nil {
			return nil, fmt.Errorf("npy: reading %d data bytes: %w", nbytes, err)
		}
		if int64(len(data)) != nbytes {
			return nil, fmt.Errorf("npy: shape %v of %v needs %d data bytes, got %d",
				h.shape, h.dtype, nbytes, len(data))
		}
	}
	return decodeNPY(h, n, data)
}

// npyElements is the element count of shape, refusing counts whose byte size would pass
// 2^48 (no file is that large; the bound keeps the arithmetic far from overflow).
func npyElements(shape []int, size int) (int, error) {
	for _, d := range shape {
		if d == 0 {
			return 0, nil
		}
	}
	const maxBytes = 1 << 48
	n := 1
	for _, d := range shape {
		if n > maxBytes/size/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// noEOF turns a bare io.EOF into io.ErrUnexpectedEOF: a truncated file is never a clean end.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodeNPY converts raw element bytes to a tensor: big-endian files are swapped to little
// endian first, then FromBytesLE reads them.
func decodeNPY(h npyHeader, n int, b []byte) (*Tensor, error) {
	size := h.dtype.Size()
	b = b[:n*size]
	if h.bigEndian && size > 1 {
		sw := make([]byte, len(b))
		for i := 0; i < len(b); i += size {
			for j := 0; j < size; j++ {
				sw[i+j] = b[i+size-1-j]
			}
		}
		b = sw
	}
	t, err := FromBytesLE(h.dtype, h.shape, b)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	return t, nil
}

// WriteNPY writes t in .npy format: version 1.0 (2.0 when the header needs it), little
// endian, C order, with the header numpy >= 1.24 writes, so the bytes match numpy.save's.
// BFloat16 tensors are an error: numpy has no such type.
func WriteNPY(w io.Writer, t *Tensor) error {
	if t == nil {
		return errors.New("npy: nil tensor")
	}
	if err := t.Check(); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	descr, err := npyDescr(t.DType)
	if err != nil {
		return err
	}
	if _, err := w.Write(npyHeaderBytes(descr, t.Shape)); err != nil {
		return fmt.Errorf("npy: writing header: %w", err)
	}
	const chunk = 1 << 15 // elements per write
	var buf []byte
	n := t.Len()
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		buf = encodeNPY(buf[:0], t.Data, lo, hi)
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("npy: writing data: %w", err)
		}
	}
	return nil
}

// npyHeaderBytes is the magic, version, length and padded header numpy would write.
func npyHeaderBytes(descr string, shape []int) []byte {
	var sb strings.Builder
	sb.WriteString("{'descr': '")
	sb.WriteString(descr)
	sb.WriteString("', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		sb.WriteByte(',')
	}
	sb.WriteString("), }")
	if len(shape) > 0 {
		sb.WriteString(strings.Repeat(" ", max(0, npyGrowthDigits-len(strconv.Itoa(shape[0])))))
	}
	header := sb.String()
	// numpy: padlen = 64 - (magic + version + length field + header + '\n') % 64, never 0;
	// version 1.0 while the padded length fits its uint16 length field.
	hlen := len(header) + 1
	major, lenField := byte(1), 2
	pad := npyAlign - (len(npyMagic)+2+lenField+hlen)%npyAlign
	if hlen+pad > math.MaxUint16 {
		major, lenField = 2, 4
		pad = npyAlign - (len(npyMagic)+2+lenField+hlen)%npyAlign
	}
	out := make([]byte, 0, len(npyMagic)+2+lenField+hlen+pad)
	out = append(out, npyMagic...)
	out = append(out, major, 0)
	if lenField == 2 {
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen+pad))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen+pad))
	}
	out = append(out, header...)
	out = append(out, bytes.Repeat([]byte{' '}, pad)...)
	return append(out, '\n')
}

// encodeNPY appends elements [lo, hi) of data, little endian.
func encodeNPY(buf []byte, data any, lo, hi int) []byte {
	le := binary.LittleEndian
	switch v := data.(type) {
	case []float32:
		for _, x := range v[lo:hi] {
			buf = le.AppendUint32(buf, math.Float32bits(x))
		}
	case []float64:
		for _, x := range v[lo:hi] {
			buf = le.AppendUint64(buf, math.Float64bits(x))
		}
	case []uint16:
		for _, x := range v[lo:hi] {
			buf = le.AppendUint16(buf, x)
		}
	case []int8:
		for _, x := range v[lo:hi] {
			buf = append(buf, byte(x))
		}
	case []uint8:
		buf = append(buf, v[lo:hi]...)
	case []int16:
		for _, x := range v[lo:hi] {
			buf = le.AppendUint16(buf, uint16(x))
		}
	case []int32:
		for _, x := range v[lo:hi] {
			buf = le.AppendUint32(buf, uint32(x))
		}
	case []int64:
		for _, x := range v[lo:hi] {
			buf = le.AppendUint64(buf, uint64(x))
		}
	case []bool:
		for _, x := range v[lo:hi] {
			if x {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
			}
		}
	}
	return buf
}
