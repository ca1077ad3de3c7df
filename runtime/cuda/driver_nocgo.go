//go:build !cgo || !linux

package cuda

import "fmt"

// cgoEnabled reports whether this build can reach the driver.
const cgoEnabled = false

// loadDriver fails: reaching libcuda.so.1 needs cgo (dlopen) on Linux.
func loadDriver(path string) (driver, error) {
	return nil, fmt.Errorf("%w: cannot load %s", ErrNoCgo, path)
}

// cConstants is empty: there is no C side.
func cConstants() map[string]int { return nil }
