//go:build !cgo || !linux

package cuda

import "fmt"

// nvmlGPUs fails: go-nvml needs cgo.
func nvmlGPUs(path string) ([]GPU, string, string, error) {
	return nil, "", "", fmt.Errorf("%w: %s not loaded: %w", ErrNoNVML, path, ErrNoCgo)
}
