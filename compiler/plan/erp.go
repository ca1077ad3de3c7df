package plan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// The .erp layout (little endian):
//
//	magic    "ERPLAN\x00"
//	version  u32                      FormatVersion
//	count    u32                      number of sections
//	section  tag [4]byte, len u64, payload [len]byte   (count times)
//	checksum u32                      CRC-32C of every byte before it
//
// Sections: "META" (JSON: everything but tensor data) and "BLOB" (the tensors: u32 count,
// then per tensor: u32 name length, name, u8 dtype, u32 rank, rank x i64 dims, u64 byte
// length, raw little-endian data; bool as one byte 0/1, float16/bfloat16 as their bits).
// A reader refuses sections it does not know: a new section kind bumps FormatVersion.

// Magic starts every .erp file.
const Magic = "ERPLAN\x00"

var (
	// ErrFormat is wrapped by every error of a malformed file (bad magic, checksum, layout).
	ErrFormat = errors.New("malformed plan file")
	// ErrVersion is wrapped by the error of a file of another format version.
	ErrVersion = errors.New("unsupported plan format version")
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type jPlan struct {
	Model    string        `json:"model"`
	Key      string        `json:"key"`
	Target   budget.Target `json:"target"`
	Budget   budget.Budget `json:"budget"`
	Graph    *jGraph       `json:"graph"`
	Kernels  []Kernel      `json:"kernels"`
	Launches []Launch      `json:"launches"`
	Memory   MemoryPlan    `json:"memory"`
	Inputs   []jValue      `json:"inputs"`
	Outputs  []jValue      `json:"outputs"`
}

// Encode writes p in the .erp format.
func Encode(w io.Writer, p *Plan) error {
	if p == nil || p.Graph == nil {
		return errors.New("plan: encode: no plan or no graph")
	}
	tt := &tensorTable{}
	jg, err := toJGraph(p.Graph, tt, "")
	if err != nil {
		return fmt.Errorf("plan: encode %q: %w", p.Model, err)
	}
	jp := jPlan{Model: p.Model, Key: p.Key, Target: p.Target, Budget: p.Budget, Graph: jg,
		Kernels: p.Kernels, Launches: p.Launches, Memory: p.Memory}
	for i := range p.Inputs {
		jp.Inputs = append(jp.Inputs, toJValue(&p.Inputs[i]))
	}
	for i := range p.Outputs {
		jp.Outputs = append(jp.Outputs, toJValue(&p.Outputs[i]))
	}
	meta, err := json.Marshal(jp)
	if err != nil {
		return fmt.Errorf("plan: encode %q metadata: %w", p.Model, err)
	}
	blob, err := encodeTensors(tt)
	if err != nil {
		return fmt.Errorf("plan: encode %q: %w", p.Model, err)
	}
	var b bytes.Buffer
	b.WriteString(Magic)
	binary.Write(&b, binary.LittleEndian, uint32(FormatVersion))
	binary.Write(&b, binary.LittleEndian, uint32(2))
	for _, s := range []struct {
		tag  string
		data []byte
	}{{"META", meta}, {"BLOB", blob}} {
		b.WriteString(s.tag)
		binary.Write(&b, binary.LittleEndian, uint64(len(s.data)))
		b.Write(s.data)
	}
	binary.Write(&b, binary.LittleEndian, crc32.Checksum(b.Bytes(), crcTable))
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("plan: write %q: %w", p.Model, err)
	}
	return nil
}

func encodeTensors(tt *tensorTable) ([]byte, error) {
	var b bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&b, le, uint32(len(tt.tensors)))
	for i, t := range tt.tensors {
		if err := t.Check(); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", tt.names[i], err)
		}
		raw, err := rawBytes(t)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", tt.names[i], err)
		}
		binary.Write(&b, le, uint32(len(tt.names[i])))
		b.WriteString(tt.names[i])
		b.WriteByte(byte(t.DType))
		binary.Write(&b, le, uint32(len(t.Shape)))
		for _, d := range t.Shape {
			binary.Write(&b, le, int64(d))
		}
		binary.Write(&b, le, uint64(len(raw)))
		b.Write(raw)
	}
	return b.Bytes(), nil
}

// Decode reads a plan written by Encode. A file of another format version, with a bad magic,
// a checksum mismatch or a malformed layout is an error (wrapping ErrVersion or ErrFormat).
func Decode(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("plan: read: %w", err)
	}
	return decode(data)
}

func decode(data []byte) (*Plan, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("plan: %w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	hdr := len(Magic) + 8
	if len(data) < len(Magic) || string(data[:len(Magic)]) != Magic {
		n := min(len(data), len(Magic))
		return nil, bad("not an ElasticRoom plan (bad magic %q, want %q)", data[:n], Magic)
	}
	if len(data) < hdr+4 {
		return nil, bad("truncated: %d bytes is shorter than the header", len(data))
	}
	le := binary.LittleEndian
	if v := le.Uint32(data[len(Magic):]); v != FormatVersion {
		return nil, fmt.Errorf("plan: %w: the file has format version %d, this build reads version %d (recompile the model)", ErrVersion, v, FormatVersion)
	}
	body := data[:len(data)-4]
	if got, want := crc32.Checksum(body, crcTable), le.Uint32(data[len(data)-4:]); got != want {
		return nil, bad("checksum mismatch (file corrupted or truncated): stored %08x, computed %08x", want, got)
	}
	count := le.Uint32(data[len(Magic)+4:])
	rest := body[hdr:]
	sections := map[string][]byte{}
	for i := uint32(0); i < count; i++ {
		if len(rest) < 12 {
			return nil, bad("section %d header truncated", i)
		}
		tag := string(rest[:4])
		n := le.Uint64(rest[4:12])
		rest = rest[12:]
		if n > uint64(len(rest)) {
			return nil, bad("section %q claims %d bytes, %d remain", tag, n, len(rest))
		}
		if tag != "META" && tag != "BLOB" {
			return nil, bad("unknown section %q", tag)
		}
		if _, dup := sections[tag]; dup {
			return nil, bad("section %q appears twice", tag)
		}
		sections[tag] = rest[:n]
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, bad("%d stray bytes after the sections", len(rest))
	}
	meta, ok1 := sections["META"]
	blob, ok2 := sections["BLOB"]
	if !ok1 || !ok2 {
		return nil, bad("missing META or BLOB section")
	}
	tensors, err := decodeTensors(blob)
	if err != nil {
		return nil, bad("%v", err)
	}
	var jp jPlan
	if err := json.Unmarshal(meta, &jp); err != nil {
		return nil, bad("metadata: %v", err)
	}
	g, err := fromJGraph(jp.Graph, tensors, 0)
	if err != nil {
		return nil, bad("graph: %v", err)
	}
	p := &Plan{Version: FormatVersion, Model: jp.Model, Key: jp.Key, Target: jp.Target, Budget: jp.Budget, Graph: g,
		Kernels: jp.Kernels, Launches: jp.Launches, Memory: jp.Memory}
	for _, jv := range jp.Inputs {
		v, err := fromJValue(jv)
		if err != nil {
			return nil, bad("inputs: %v", err)
		}
		p.Inputs = append(p.Inputs, *v)
	}
	for _, jv := range jp.Outputs {
		v, err := fromJValue(jv)
		if err != nil {
			return nil, bad("outputs: %v", err)
		}
		p.Outputs = append(p.Outputs, *v)
	}
	hostNodes := map[string]bool{}
	if p.Graph != nil {
		for _, n := range p.Graph.Nodes {
			hostNodes[n.Name] = true
		}
	}
	for i, l := range p.Launches {
		switch {
		case l.Kernel == HostStep:
			if !hostNodes[l.Host] {
				return nil, bad("launch %d is a host step for node %q, which the graph does not have", i, l.Host)
			}
		case l.Kernel < 0 || l.Kernel >= len(p.Kernels):
			return nil, bad("launch %d names kernel %d of %d", i, l.Kernel, len(p.Kernels))
		}
	}
	return p, nil
}

// reader is a bounds-checked cursor over a section.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("tensor data truncated: need %d bytes, %d remain", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func decodeTensors(blob []byte) ([]*tensor.Tensor, error) {
	r := &reader{b: blob}
	count := r.u32()
	if r.err == nil && uint64(count) > uint64(len(r.b))/17 { // 17 = smallest tensor record
		return nil, fmt.Errorf("blob claims %d tensors in %d bytes", count, len(r.b))
	}
	var out []*tensor.Tensor
	for i := uint32(0); i < count && r.err == nil; i++ {
		name := string(r.take(uint64(r.u32())))
		dtb := r.take(1)
		rank := r.u32()
		if r.err != nil {
			break
		}
		dt := tensor.DType(dtb[0])
		if dt == tensor.Undefined || dt.Size() == 0 {
			return nil, fmt.Errorf("tensor %q: unknown element type %d", name, dtb[0])
		}
		if uint64(rank)*8 > uint64(len(r.b)) {
			return nil, fmt.Errorf("tensor %q: rank %d does not fit the data", name, rank)
		}
		shape := make([]int, rank)
		n := uint64(1)
		for j := range shape {
			d := int64(r.u64())
			if d < 0 || d > math.MaxInt32 {
				return nil, fmt.Errorf("tensor %q: dim %d is %d", name, j, d)
			}
			shape[j] = int(d)
			if n != 0 && uint64(d) > uint64(len(blob))*8/n+1 {
				return nil, fmt.Errorf("tensor %q: shape %v is larger than the file", name, shape[:j+1])
			}
			n *= uint64(d)
		}
		nbytes := r.u64()
		if r.err == nil && nbytes != n*uint64(dt.Size()) {
			return nil, fmt.Errorf("tensor %q: %v%v needs %d bytes, the file has %d", name, dt, shape, n*uint64(dt.Size()), nbytes)
		}
		raw := r.take(nbytes)
		if r.err != nil {
			break
		}
		t, err := fromRaw(dt, shape, raw)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		out = append(out, t)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d stray bytes after the tensors", len(r.b))
	}
	return out, nil
}

// Save writes p to path (through a temporary file renamed into place).
func Save(path string, p *Plan) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if err := Encode(f, p); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("plan: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	return nil
}

// Load reads a plan file.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
