package output

import (
	"strings"
	"time"
)

// Dash is what a table cell shows for a value that is not there, so every
// row keeps its columns for awk.
const Dash = "-"

// OrDash is s, or Dash when s is blank.
func OrDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return Dash
	}
	return s
}

// Time is t in local time to the second, the way every table and
// completion shows a moment; Dash for the zero time.
func Time(t time.Time) string {
	if t.IsZero() {
		return Dash
	}
	return t.Local().Format(time.DateTime)
}

// Elapsed is how long something that started at start ran: until stop, or
// until now while stop is nil (still running); Dash when it never started.
func Elapsed(start time.Time, stop *time.Time) string {
	if start.IsZero() {
		return Dash
	}
	end := time.Now()
	if stop != nil {
		end = *stop
	}
	return end.Sub(start).Round(100 * time.Millisecond).String()
}
