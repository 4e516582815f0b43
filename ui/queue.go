package ui

import "time"

// Queue is an Options.Do for tests and offscreen rendering (screenshots):
// Do collects functions and Drain runs them on the caller's goroutine, which
// plays the Fyne thread. The real app uses fyne.Do instead.
type Queue struct{ ch chan func() }

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{ch: make(chan func(), 1024)} }

// Do queues f; it blocks only when 1024 functions wait (a stuck test).
func (q *Queue) Do(f func()) { q.ch <- f }

// Drain runs the queued functions until none is left and returns how many ran.
func (q *Queue) Drain() int {
	n := 0
	for {
		select {
		case f := <-q.ch:
			f()
			n++
		default:
			return n
		}
	}
}

// DrainUntil runs queued functions as they come until cond holds (checked
// after each) or timeout passes; it reports whether cond held.
func (q *Queue) DrainUntil(cond func() bool, timeout time.Duration) bool {
	if cond() {
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case f := <-q.ch:
			f()
			if cond() {
				return true
			}
		case <-t.C:
			q.Drain()
			return cond()
		}
	}
}
