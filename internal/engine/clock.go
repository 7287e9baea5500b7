package engine

import "time"

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the wall clock. Its timers need no stopping: since Go 1.23 an
// unreferenced timer is collected even if it never fired.
func RealClock() Clock { return realClock{} }
