package agent

import "time"

// backOff tracks the back-off of one thing (a container's restarts, an
// image's pulls), as kubelet does: the first retry is immediate, and each
// later one waits Initial, doubling up to Max, after the previous retry.
type backOff struct {
	cfg   BackOff
	delay time.Duration // the wait before the next retry; 0: none yet
	last  time.Time     // when the previous retry was let through
}

// wait returns how long until a retry may happen at now (0: now).
func (b *backOff) wait(now time.Time) time.Duration {
	if b.delay == 0 {
		return 0
	}
	return max(b.last.Add(b.delay).Sub(now), 0)
}

// retry records a retry at now and doubles the next wait.
func (b *backOff) retry(now time.Time) {
	if b.delay == 0 {
		b.delay = b.cfg.Initial
	} else {
		b.delay = min(2*b.delay, b.cfg.Max)
	}
	b.last = now
}

// reset forgets the back-off (the thing behaved for long enough).
func (b *backOff) reset() { b.delay, b.last = 0, time.Time{} }

// current is the wait the back-off is in, for messages.
func (b *backOff) current() time.Duration { return b.delay }
