// Package safetext refuses text that would change the meaning of the files
// bos writes from it, above all the per-node iPXE scripts: a control
// character (a line break ends the command, the rest becomes a new one) or
// a word iPXE reads as a command separator ("kernel ... && chain
// http://elsewhere/"). Errors name the character or word and where it is,
// never the whole value: it may be a password.
package safetext

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrUnsafe is matched by every error of this package. The errors' own
// text says only what is wrong, for callers to prefix with where.
var ErrUnsafe = errors.New("unsafe text")

type unsafeError string

func (e unsafeError) Error() string           { return string(e) }
func (unsafeError) Is(target error) bool      { return target == ErrUnsafe }
func refuse(format string, args ...any) error { return unsafeError(fmt.Sprintf(format, args...)) }

// controlNames are the control characters people meet, by name.
var controlNames = map[rune]string{0: "NUL", '\t': "tab", '\n': "line feed", '\r': "carriage return", 0x1b: "escape", 0x7f: "delete"}

// CheckControl refuses a control character: U+0000 to U+001F and U+007F,
// tab included.
func CheckControl(s string) error { return checkControl(s, "") }

// CheckControlInText is CheckControl for free text that may span lines (a
// description): tab, line feed and carriage return are allowed there.
func CheckControlInText(s string) error { return checkControl(s, "\t\n\r") }

func checkControl(s, allowed string) error {
	for i, r := range s {
		if (r < 0x20 || r == 0x7f) && !strings.ContainsRune(allowed, r) {
			name := controlNames[r]
			if name != "" {
				name = " (" + name + ")"
			}
			return refuse("control character U+%04X%s at byte %d", r, name, i+1)
		}
	}
	return nil
}

// CheckIPXEArguments refuses, in text written as arguments of an iPXE
// command, a control character and a word iPXE does not pass on as an
// argument: "||", "&&" and ";" end the command and start another, and a
// word starting with "#" comments out the rest of the line (the script's
// own "|| goto retry" with it).
func CheckIPXEArguments(s string) error {
	if err := CheckControl(s); err != nil {
		return err
	}
	for _, word := range strings.Fields(s) {
		switch {
		case word == "||" || word == "&&" || word == ";":
			return refuse("%q would end the iPXE command and start another", word)
		case strings.HasPrefix(word, "#"):
			return refuse("%q would comment out the rest of the iPXE command", word)
		}
	}
	return nil
}

// CheckIPXEWord refuses text that is not exactly one iPXE argument: empty,
// or with a control character, a blank, or anything CheckIPXEArguments
// refuses. URLs and node names are written so.
func CheckIPXEWord(s string) error {
	if s == "" {
		return refuse("empty")
	}
	if err := CheckIPXEArguments(s); err != nil {
		return err
	}
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return refuse("a blank at byte %d, in what must be one word (percent-encode blanks in a URL: %%20)", i+1)
	}
	return nil
}
