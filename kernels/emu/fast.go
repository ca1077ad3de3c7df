package emu

import "github.com/elasticroom/elasticroom/kernels/kir"

// fastBin returns a direct closure for the hottest binary ops (f32 and 32-bit integer
// arithmetic, 64-bit address arithmetic), computing exactly what binTable's entry computes
// without its two nested function calls; nil for any other op and type.
func fastBin(op kir.Op, t kir.Type, d, a, b int32) func(*thread) {
	switch t {
	case kir.F32:
		switch op {
		case kir.OpAdd:
			return func(t *thread) { t.r[d] = pf32(f32(t.r[a]) + f32(t.r[b])) }
		case kir.OpSub:
			return func(t *thread) { t.r[d] = pf32(f32(t.r[a]) - f32(t.r[b])) }
		case kir.OpMul:
			return func(t *thread) { t.r[d] = pf32(f32(t.r[a]) * f32(t.r[b])) }
		}
	case kir.U32, kir.B32:
		switch op {
		case kir.OpAdd:
			return func(t *thread) { t.r[d] = uint64(uint32(t.r[a]) + uint32(t.r[b])) }
		case kir.OpSub:
			return func(t *thread) { t.r[d] = uint64(uint32(t.r[a]) - uint32(t.r[b])) }
		case kir.OpMul:
			return func(t *thread) { t.r[d] = uint64(uint32(t.r[a]) * uint32(t.r[b])) }
		case kir.OpAnd:
			return func(t *thread) { t.r[d] = uint64(uint32(t.r[a]) & uint32(t.r[b])) }
		case kir.OpOr:
			return func(t *thread) { t.r[d] = uint64(uint32(t.r[a]) | uint32(t.r[b])) }
		case kir.OpShl:
			return func(t *thread) { t.r[d] = uint64(uint32(t.r[a]) << uint32(t.r[b])) }
		case kir.OpShr:
			return func(t *thread) { t.r[d] = uint64(uint32(t.r[a]) >> uint32(t.r[b])) }
		}
	case kir.S32:
		switch op {
		case kir.OpAdd:
			return func(t *thread) { t.r[d] = uint64(uint32(int32(t.r[a]) + int32(t.r[b]))) }
		case kir.OpMul:
			return func(t *thread) { t.r[d] = uint64(uint32(int32(t.r[a]) * int32(t.r[b]))) }
		}
	case kir.U64:
		switch op {
		case kir.OpAdd:
			return func(t *thread) { t.r[d] = t.r[a] + t.r[b] }
		case kir.OpMul:
			return func(t *thread) { t.r[d] = t.r[a] * t.r[b] }
		}
	}
	return nil
}
