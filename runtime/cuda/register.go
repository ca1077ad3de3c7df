package cuda

import (
	"fmt"
	"os"
	"strconv"

	"github.com/elasticroom/elasticroom/runtime/device"
)

// OrdinalEnv names an environment variable choosing the GPU the registered "cuda" device
// opens (default 0). CUDA_VISIBLE_DEVICES, read by the driver, applies first.
const OrdinalEnv = "ELASTICROOM_CUDA_DEVICE"

func init() {
	device.Register("cuda", func(device.Options) (device.Device, error) {
		ord := 0
		if s := os.Getenv(OrdinalEnv); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("cuda: %s=%q: not a GPU ordinal", OrdinalEnv, s)
			}
			ord = n
		}
		return Open(ord)
	})
}
