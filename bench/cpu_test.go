package bench

import (
	"runtime"
	"testing"
	"time"
)

// The machine's busy time grows by at least what a goroutine spinning on
// a core spends, and by no more than every core's share of the time.
func TestMachineBusyCountsCPUSpent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("machineBusy reads Linux's /proc/stat")
	}
	before, ok := machineBusy()
	if !ok {
		t.Fatal("/proc/stat unreadable")
	}
	start := time.Now()
	for x := 0; time.Since(start) < 300*time.Millisecond; x++ {
	}
	after, _ := machineBusy()
	elapsed := time.Since(start)
	if spent := after - before; spent < 200*time.Millisecond || spent > time.Duration(runtime.NumCPU())*elapsed+50*time.Millisecond {
		t.Errorf("busy time grew by %v over %v of spinning on one core of %d", spent, elapsed, runtime.NumCPU())
	}
}
