package cputime

import (
	"testing"
	"time"
)

// TestThreadCountsWorkNotSleep: the clock moves with work on the thread,
// and (where it is the thread's CPU clock) not while the thread sleeps.
func TestThreadCountsWorkNotSleep(t *testing.T) {
	defer LockThread()()
	start := Thread()
	x := 0
	for deadline := time.Now().Add(20 * time.Millisecond); time.Now().Before(deadline); {
		x++
	}
	worked := Thread() - start
	if worked <= 0 {
		t.Fatalf("thread clock moved by %v over 20ms of work (x=%d)", worked, x)
	}
	if !Supported {
		return
	}
	start = Thread()
	time.Sleep(50 * time.Millisecond)
	if slept := Thread() - start; slept > 25*time.Millisecond {
		t.Errorf("thread clock moved by %v over a 50ms sleep", slept)
	}
}
