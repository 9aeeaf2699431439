package bench

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// machineBusy is the CPU time every core of the machine has spent busy
// since boot (Linux's /proc/stat: user, nice, system, irq and softirq),
// and whether it could be read. Taken around a phase, it gives the CPU
// the phase cost allot, its database server and the load generator
// together: on a shared machine whose speed changes by the hour, a
// steadier figure to compare builds by than a rate.
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 8 || string(f[0]) != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user, nice, system, irq, softirq (4, 5: idle, iowait)
		n, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	// The kernel counts in USER_HZ, 100 a second on every Linux that Go
	// runs on.
	return time.Duration(ticks) * 10 * time.Millisecond, true
}
