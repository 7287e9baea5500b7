package bmc

import (
	"fmt"
	"io"
	"sync"
)

// LogTo returns an Options.Log that writes each message as one line to w.
// A Pool logs from many goroutines: one whole line at a time keeps lines
// whole (and race-free) on any writer.
func LogTo(w io.Writer) func(format string, args ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format+"\n", args...)
	}
}
