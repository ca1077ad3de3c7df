package ptxsim

import "fmt"

// undefinedLane is what a shfl.sync reads from a source lane that has exited or does not
// exist (a partial last warp): PTX leaves the value undefined; the simulator makes it a
// recognisable NaN so that results depending on it stand out.
const undefinedLane = 0x7fbadbad

// shuffle completes warp's shfl.sync once every live lane waits at it (PTX ISA shfl.sync:
// source lane j from b[4:0], the clamp c[4:0] and the segment mask c[12:8]; out-of-range j
// reads the lane's own value and clears the optional predicate).
func (s *slot) shuffle(warp []thread) (bool, error) {
	pc, ready := int32(-1), true
	for i := range warp {
		t := &warp[i]
		switch t.state {
		case stExit:
		case stShfl:
			if pc >= 0 && t.pc != pc {
				return false, fmt.Errorf("kernel %s: %s: lanes of one warp wait at different shfl.sync instructions (%s and %s)",
					s.k.name, s.where(t), s.k.mod.where(int(s.k.code[pc].line)), s.k.mod.where(int(s.k.code[t.pc].line)))
			}
			pc = t.pc
		default:
			ready = false
		}
	}
	if !ready {
		return false, nil
	}
	in := &s.k.code[pc]
	var vals, preds [32]uint64
	for i := range warp {
		t := &warp[i]
		if t.state == stExit {
			continue
		}
		if m := uint32(t.r[in.r[4]]); m != 0xffffffff {
			return false, fmt.Errorf("kernel %s: %s: %s: membermask %#x: only the full mask is modelled",
				s.k.name, s.where(t), s.k.mod.where(int(in.line)), m)
		}
		b, c := int(uint32(t.r[in.r[2]])), int(uint32(t.r[in.r[3]]))
		bval, cval, seg := b&31, c&31, c>>8&31
		maxLane, minLane := i&seg|cval&^seg, i&seg
		var j int
		var ok bool
		switch in.sub {
		case shflUp:
			j = i - bval
			ok = j >= maxLane
		case shflDown:
			j = i + bval
			ok = j <= maxLane
		case shflBfly:
			j = i ^ bval
			ok = j <= maxLane
		default: // shflIdx
			j = minLane | bval&^seg
			ok = j <= maxLane
		}
		if !ok {
			j = i
		}
		if j < len(warp) && warp[j].state != stExit {
			vals[i] = warp[j].r[in.r[1]]
		} else {
			vals[i] = undefinedLane
		}
		preds[i] = b2u(ok)
	}
	for i := range warp {
		t := &warp[i]
		if t.state == stExit {
			continue
		}
		t.r[in.r[0]] = vals[i]
		if in.imm != 0 {
			t.r[in.imm] = preds[i]
		}
		t.pc++
		t.state = stRun
	}
	return true, nil
}
