package device

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

var (
	regMu   sync.Mutex
	openers = map[string]Opener{}
)

// Auto is the name that picks the best registered device; AutoOrder is its order of
// preference (the emulator is never picked automatically: it is slow).
const Auto = "auto"

// AutoOrder lists the devices Open(Auto) tries, best first.
var AutoOrder = []string{"cuda", "cpu"}

// Register makes a device openable by name. It panics on an empty name, a nil opener or a
// name registered twice: those are programming errors of the device package's init.
func Register(name string, open Opener) {
	regMu.Lock()
	defer regMu.Unlock()
	if name == "" || name == Auto || open == nil {
		panic(fmt.Sprintf("device: bad registration %q", name))
	}
	if _, dup := openers[name]; dup {
		panic(fmt.Sprintf("device: %q registered twice", name))
	}
	openers[name] = open
}

// Names lists the registered devices, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]string, 0, len(openers))
	for n := range openers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func lookup(name string) (Opener, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	o, ok := openers[name]
	return o, ok
}

// Open opens the device registered as name, or with Auto the first of AutoOrder that is
// registered and opens; the error then lists why each failed.
func Open(name string, o Options) (Device, error) {
	if name != Auto {
		open, ok := lookup(name)
		if !ok {
			return nil, fmt.Errorf("device %q: %w (registered: %s)", name, ErrUnknown, strings.Join(Names(), ", "))
		}
		d, err := open(o)
		if err != nil {
			return nil, fmt.Errorf("device %q: %w", name, err)
		}
		return d, nil
	}
	var why []string
	for _, n := range AutoOrder {
		open, ok := lookup(n)
		if !ok {
			why = append(why, n+": not built in")
			continue
		}
		d, err := open(o)
		if err == nil {
			return d, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", n, err))
	}
	return nil, fmt.Errorf("device auto: no device opens (%s)", strings.Join(why, "; "))
}
