package output

import (
	"strings"
	"time"
	"unicode/utf8"
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

// Wrap breaks text into lines of at most width characters, between words,
// for a table cell (which takes several lines): a long reason then keeps
// its table within a screen. A word longer than width keeps its line.
func Wrap(text string, width int) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	return strings.Join(append(lines, line), "\n")
}

// Clip is s cut to at most width characters, ending "… (why)" when cut:
// why says where to see it whole.
func Clip(s string, width int, why string) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	runes := []rune(s)
	return string(runes[:width]) + "… (" + why + ")"
}
