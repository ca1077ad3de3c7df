package cuda

import (
	"fmt"
	"sync"

	"github.com/elasticroom/elasticroom/runtime/device"
)

// Queue is a CUDA stream of the device's launch streams, held until Close: launches go onto
// it without waiting (device.Queue). runtime/exec queues a plan's whole launch sequence on one
// and synchronises once per sequence, instead of once per kernel as Launch does.
type Queue struct {
	d      *Device
	prio   int // CUDA stream priority
	s      handle
	mu     sync.Mutex
	n      int // launches queued since the last Sync
	closed bool
}

var _ device.Queuer = (*Device)(nil)

// NewQueue takes a launch stream of the given device.LaunchConfig priority (higher runs first).
func (d *Device) NewQueue(priority int) (device.Queue, error) {
	prio := d.cudaPriority(priority)
	s, err := d.stream(prio)
	if err != nil {
		return nil, fmt.Errorf("cuda: new queue: %w", err)
	}
	return &Queue{d: d, prio: prio, s: s}, nil
}

// Launch queues fn on the stream (cfg.Priority is the queue's, not the launch's). Arguments are
// those of Device.Launch. It returns once the driver has the launch.
func (q *Queue) Launch(fn device.Function, cfg device.LaunchConfig, args ...any) error {
	f, vals, grid, block, err := q.d.check(fn, cfg, args)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return fmt.Errorf("cuda: kernel %q: launch on a closed queue", f.name)
	}
	if err := q.d.drv.launch(q.d.ctx, f.h, grid, block, cfg.SharedBytes, q.s, vals, nil, nil); err != nil {
		return fmt.Errorf("cuda: kernel %q grid %v block %v: %w", f.name, grid, block, err)
	}
	q.n++
	return nil
}

// Sync waits for every launch queued so far; a kernel's fault comes back here.
func (q *Queue) Sync() error {
	q.mu.Lock()
	n, closed := q.n, q.closed
	q.n = 0
	q.mu.Unlock()
	if closed {
		return nil
	}
	if err := q.d.drv.streamSync(q.d.ctx, q.s); err != nil {
		return fmt.Errorf("cuda: queue of %d launches: %w", n, err)
	}
	return nil
}

// Close waits for the stream and gives it back to the device.
func (q *Queue) Close() error {
	err := q.Sync()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	q.d.release(q.prio, q.s)
	return err
}
