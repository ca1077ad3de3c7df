package ptxsim

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

var errDivZero = errors.New("integer division by zero")

// fault wraps an execution error with the instruction's PTX line.
func (s *slot) fault(in *inst, err error) error {
	return fmt.Errorf("%s: %w", s.k.mod.where(int(in.line)), err)
}

// exec runs thread t until it waits, exits, fails or has run budget instructions, and returns
// the number of instructions run.
func (s *slot) exec(t *thread, budget int) (int, error) {
	code := s.k.code
	r := t.r
	pc := t.pc
	n := 0
	for n < budget {
		in := &code[pc]
		n++
		if in.g != 0 && (r[in.g] != 0) == in.gneg {
			pc++
			continue
		}
		a, b := in.r[1], in.r[2]
		switch in.op {
		case opNop:
		case opMov:
			r[in.r[0]] = r[a]
		case opSelp:
			if r[in.r[3]] != 0 {
				r[in.r[0]] = r[a]
			} else {
				r[in.r[0]] = r[b]
			}
		case opLdParam:
			if int(a) >= len(s.l.params) {
				t.pc = pc
				return n, s.fault(in, fmt.Errorf("param %d (%s) was not passed: the launch has %d params",
					a, s.k.params[a].Name, len(s.l.params)))
			}
			v := extend(s.l.params[a]>>(8*uint(b)), int(in.n), in.sub&memSigned != 0)
			r[in.r[0]] = v & mask(int(in.cnt))

		case opAdd32:
			r[in.r[0]] = uint64(uint32(r[a]) + uint32(r[b]))
		case opSub32:
			r[in.r[0]] = uint64(uint32(r[a]) - uint32(r[b]))
		case opMulLo32:
			r[in.r[0]] = uint64(uint32(r[a]) * uint32(r[b]))
		case opMad32:
			r[in.r[0]] = uint64(uint32(r[a])*uint32(r[b]) + uint32(r[in.r[3]]))
		case opMulHiU32:
			r[in.r[0]] = r[a] * r[b] >> 32
		case opMulHiS32:
			r[in.r[0]] = uint64(uint32(int64(int32(r[a])) * int64(int32(r[b])) >> 32))
		case opMulWideU32:
			r[in.r[0]] = r[a] * r[b]
		case opMulWideS32:
			r[in.r[0]] = uint64(int64(int32(r[a])) * int64(int32(r[b])))
		case opMadWideU32:
			r[in.r[0]] = r[a]*r[b] + r[in.r[3]]
		case opMadWideS32:
			r[in.r[0]] = uint64(int64(int32(r[a]))*int64(int32(r[b]))) + r[in.r[3]]
		case opDivU32, opRemU32, opDivS32, opRemS32, opDivU64, opRemU64, opDivS64, opRemS64:
			if err := divide(in.op, r, in); err != nil {
				t.pc = pc
				return n, s.fault(in, err)
			}
		case opMinU32, opMinU64:
			r[in.r[0]] = min(r[a], r[b])
		case opMaxU32, opMaxU64:
			r[in.r[0]] = max(r[a], r[b])
		case opMinS32:
			r[in.r[0]] = uint64(uint32(min(int32(r[a]), int32(r[b]))))
		case opMaxS32:
			r[in.r[0]] = uint64(uint32(max(int32(r[a]), int32(r[b]))))
		case opNeg32:
			r[in.r[0]] = uint64(-uint32(r[a]))
		case opAbs32:
			v := int32(r[a])
			if v < 0 {
				v = -v
			}
			r[in.r[0]] = uint64(uint32(v))
		case opShl32:
			r[in.r[0]] = uint64(uint32(r[a]) << uint32(r[b]))
		case opShrU32:
			r[in.r[0]] = uint64(uint32(r[a]) >> uint32(r[b]))
		case opShrS32:
			r[in.r[0]] = uint64(uint32(int32(r[a]) >> uint32(r[b])))
		case opNot32:
			r[in.r[0]] = r[a] ^ math.MaxUint32

		case opAdd64:
			r[in.r[0]] = r[a] + r[b]
		case opSub64:
			r[in.r[0]] = r[a] - r[b]
		case opMulLo64:
			r[in.r[0]] = r[a] * r[b]
		case opMad64:
			r[in.r[0]] = r[a]*r[b] + r[in.r[3]]
		case opMulHiU64:
			r[in.r[0]], _ = bits.Mul64(r[a], r[b])
		case opMulHiS64:
			r[in.r[0]] = uint64(mulHiS64(int64(r[a]), int64(r[b])))
		case opMinS64:
			r[in.r[0]] = uint64(min(int64(r[a]), int64(r[b])))
		case opMaxS64:
			r[in.r[0]] = uint64(max(int64(r[a]), int64(r[b])))
		case opNeg64:
			r[in.r[0]] = -r[a]
		case opAbs64:
			v := int64(r[a])
			if v < 0 {
				v = -v
			}
			r[in.r[0]] = uint64(v)
		case opShl64:
			r[in.r[0]] = r[a] << uint32(r[b])
		case opShrU64:
			r[in.r[0]] = r[a] >> uint32(r[b])
		case opShrS64:
			r[in.r[0]] = uint64(int64(r[a]) >> uint32(r[b]))
		case opNot64:
			r[in.r[0]] = ^r[a]

		case opAnd:
			r[in.r[0]] = r[a] & r[b]
		case opOr:
			r[in.r[0]] = r[a] | r[b]
		case opXor:
			r[in.r[0]] = r[a] ^ r[b]
		case opNotPred:
			r[in.r[0]] = r[a] ^ 1

		case opAddF:
			r[in.r[0]] = fb(f32(r[a]) + f32(r[b]))
		case opSubF:
			r[in.r[0]] = fb(f32(r[a]) - f32(r[b]))
		case opMulF:
			r[in.r[0]] = fb(f32(r[a]) * f32(r[b]))
		case opFmaF:
			r[in.r[0]] = fb(fma32(f32(r[a]), f32(r[b]), f32(r[in.r[3]])))
		case opDivF:
			r[in.r[0]] = fb(f32(r[a]) / f32(r[b]))
		case opMinF, opMaxF, opMinNaNF, opMaxNaNF:
			r[in.r[0]] = fminmax(r[a], r[b], in.op == opMaxF || in.op == opMaxNaNF, in.op >= opMinNaNF)
		case opNegF:
			r[in.r[0]] = r[a] ^ 0x80000000
		case opAbsF:
			r[in.r[0]] = r[a] &^ 0x80000000
		case opRcpF:
			r[in.r[0]] = fb(1 / f32(r[a]))
		case opSqrtF:
			r[in.r[0]] = approx(math.Sqrt, r[a]) // correctly rounded: float64 has over 2*24+2 bits
		case opRsqrtF:
			r[in.r[0]] = approx(rsqrt, r[a])
		case opEx2F:
			r[in.r[0]] = approx(math.Exp2, r[a])
		case opLg2F:
			r[in.r[0]] = approx(math.Log2, r[a])
		case opSinF:
			r[in.r[0]] = approx(math.Sin, r[a])
		case opCosF:
			r[in.r[0]] = approx(math.Cos, r[a])
		case opTanhF:
			r[in.r[0]] = approx(math.Tanh, r[a])

		case opSext32:
			r[in.r[0]] = uint64(int64(int32(r[a])))
		case opTrunc32:
			r[in.r[0]] = r[a] & math.MaxUint32
		case opCvtII:
			r[in.r[0]] = cvtInt(r[a], in.imm)
		case opCvtF2I:
			dt := ptype(in.n)
			v := cvtF2I(f32(r[a]), in.sub, dt)
			r[in.r[0]] = extend(v, dt.size(), dt.signed()) & mask(int(in.cnt))
		case opCvtI2F:
			r[in.r[0]] = fb(cvtI2F(r[a], ptype(in.n), in.sub))
		case opCvtFRound:
			r[in.r[0]] = fb(float32(roundInt(float64(f32(r[a])), in.sub)))
		case opCvtFSat:
			v := f32(r[a])
			if v != v || v < 0 {
				v = 0
			} else if v > 1 {
				v = 1
			}
			r[in.r[0]] = fb(v)

		case opSetpU32, opSetpU64:
			r[in.r[0]] = b2u(icmp(in.sub, r[a], r[b]))
		case opSetpS32:
			r[in.r[0]] = b2u(icmp(in.sub, int64(int32(r[a])), int64(int32(r[b]))))
		case opSetpS64:
			r[in.r[0]] = b2u(icmp(in.sub, int64(r[a]), int64(r[b])))
		case opSetpF:
			r[in.r[0]] = b2u(fcmp(in.sub, r[a], r[b]))

		case opLdG32, opLdG64, opStG32, opStG64, opLdS32, opLdS64, opStS32, opStS64:
			if err := s.scalar(r, in); err != nil {
				t.pc = pc
				return n, s.fault(in, err)
			}
		case opLdG, opLdS, opStG, opStS, opAtomG, opAtomS:
			var err error
			switch in.op {
			case opLdG, opLdS:
				err = s.load(t, in, in.op == opLdG)
			case opStG, opStS:
				err = s.store(t, in, in.op == opStG)
			default:
				err = s.atom(t, in, in.op == opAtomG)
			}
			if err != nil {
				t.pc = pc
				return n, s.fault(in, err)
			}

		case opBra:
			pc = int32(in.imm)
			continue
		case opBraT:
			if r[a] != 0 {
				pc = int32(in.imm)
				continue
			}
		case opBraF:
			if r[a] == 0 {
				pc = int32(in.imm)
				continue
			}
		case opExit:
			t.pc, t.state = pc, stExit
			return n, nil
		case opBar:
			id, cnt := r[a], r[b]
			if id > 15 || cnt%32 != 0 || cnt > uint64(len(s.threads))+31 {
				t.pc = pc
				return n, s.fault(in, fmt.Errorf("barrier %d with thread count %d: want a barrier 0..15 and a count that is a multiple of 32", id, cnt))
			}
			t.bar, t.count, t.barPC = uint32(id), uint32(cnt), pc
			t.pc, t.state = pc+1, stBar
			return n, nil
		case opShfl:
			t.pc, t.state = pc, stShfl
			return n, nil
		case opTrap:
			t.pc = pc
			return n, s.fault(in, errors.New("trap"))
		default:
			t.pc = pc
			return n, s.fault(in, fmt.Errorf("internal error: opcode %d", in.op))
		}
		pc++
	}
	t.pc = pc
	return n, nil
}

// divide is div and rem on integers; a zero divisor is an error.
func divide(op opcode, r []uint64, in *inst) error {
	x, y := r[in.r[1]], r[in.r[2]]
	if y == 0 {
		return errDivZero
	}
	var v uint64
	switch op {
	case opDivU32, opDivU64:
		v = x / y
	case opRemU32, opRemU64:
		v = x % y
	case opDivS32:
		v = uint64(uint32(int32(x) / int32(y)))
	case opRemS32:
		v = uint64(uint32(int32(x) % int32(y)))
	case opDivS64:
		v = uint64(int64(x) / int64(y))
	default:
		v = uint64(int64(x) % int64(y))
	}
	r[in.r[0]] = v
	return nil
}

// scalar is a plain 4- or 8-byte load or store of one register.
func (s *slot) scalar(r []uint64, in *inst) error {
	addr := r[in.r[4]] + uint64(in.imm)
	size := uint64(in.n)
	var b []byte
	var err error
	switch in.op {
	case opLdG32, opLdG64, opStG32, opStG64:
		b, err = s.global(addr, size)
	default:
		b, err = s.sharedAt(addr, size)
	}
	if err != nil {
		return err
	}
	switch in.op {
	case opLdG32, opLdS32:
		r[in.r[0]] = uint64(le.Uint32(b))
	case opLdG64, opLdS64:
		r[in.r[0]] = le.Uint64(b)
	case opStG32, opStS32:
		le.PutUint32(b, uint32(r[in.r[0]]))
	default:
		le.PutUint64(b, r[in.r[0]])
	}
	return nil
}
