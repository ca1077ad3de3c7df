package cuda

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// DefaultLibrary is the driver library dlopen()ed when ELASTICROOM_LIBCUDA names none: the
// soname the NVIDIA driver installs, found through the dynamic loader's search path.
const DefaultLibrary = "libcuda.so.1"

// LibraryEnv names an environment variable that, when set, is the path of the driver library
// to load instead of DefaultLibrary.
const LibraryEnv = "ELASTICROOM_LIBCUDA"

// LibraryPath is the driver library Open loads: $ELASTICROOM_LIBCUDA or DefaultLibrary
// ("sim" or "sim:N" names the simulated GPU instead: see SimPrefix).
func LibraryPath() string {
	if p := os.Getenv(LibraryEnv); p != "" {
		return p
	}
	return DefaultLibrary
}

// library is a loaded and initialised driver; one per path per process (the driver cannot
// be unloaded safely).
type library struct {
	drv     driver
	version int // cuDriverGetVersion: 1000*major + 10*minor
	err     error
}

var (
	libMu sync.Mutex
	libs  = map[string]*library{}
)

// loadLibrary dlopens path and calls cuInit once; later calls return the same result.
func loadLibrary(path string) (*library, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if l, ok := libs[path]; ok {
		return l, l.err
	}
	l := &library{}
	if sms, sim, err := parseSim(path); err != nil {
		l.err = err
	} else if sim {
		l.drv = newSimDriver(sms)
	} else {
		l.drv, l.err = loadDriver(path)
	}
	if l.err == nil {
		l.version, _ = l.drv.driverVersion() // answers even before cuInit
		if err := l.drv.init(); err != nil {
			l.err = fmt.Errorf("%s (driver %s): %w", path, versionString(l.version), err)
		}
	}
	if l.err != nil && !errors.Is(l.err, ErrNoDriver) && !errors.Is(l.err, ErrNoCgo) && !errors.Is(l.err, ErrNoDevice) {
		// A library that loaded but failed otherwise is not cached: the failure may pass.
		return l, l.err
	}
	libs[path] = l
	return l, l.err
}

// versionString formats a CUDA driver version (12040 -> "12.4").
func versionString(v int) string {
	if v <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10)
}

// Open opens GPU ordinal (0 is the first) through the driver library LibraryPath names, using
// the device's primary context. Errors: ErrNoDriver when the library cannot be loaded,
// ErrNoDevice when the driver finds no GPU (or not that many), ErrNoCgo in a build without cgo.
func Open(ordinal int) (*Device, error) { return OpenLibrary(LibraryPath(), ordinal) }

// OpenLibrary is Open with an explicit driver library path.
func OpenLibrary(path string, ordinal int) (*Device, error) {
	l, err := loadLibrary(path)
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	n, err := l.drv.deviceCount()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: GPU %d asked for, the driver (%s) reports %d: %w", ordinal, versionString(l.version), n, ErrNoDevice)
	}
	return newDevice(l, ordinal)
}

// Available reports whether Open(0) would find a GPU: nil, or why not (ErrNoDriver,
// ErrNoDevice, ErrNoCgo wrapped). It is what `--device auto` asks before choosing cuda.
func Available() error {
	l, err := loadLibrary(LibraryPath())
	if err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	n, err := l.drv.deviceCount()
	if err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("cuda: driver %s reports no GPU: %w", versionString(l.version), ErrNoDevice)
	}
	return nil
}

// DriverVersion is the CUDA version the driver library at LibraryPath supports, e.g. "12.4".
func DriverVersion() (string, error) {
	l, err := loadLibrary(LibraryPath())
	if l == nil || l.drv == nil {
		return "", fmt.Errorf("cuda: %w", err)
	}
	return versionString(l.version), nil
}
