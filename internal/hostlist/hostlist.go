// Package hostlist expands and compresses node-name ranges in the notation
// HPC admins use everywhere (Slurm, pdsh, BOS): "nid[0001-0128]",
// "x3000c0s[1-4,7]b0n[0-1]", "a,b[1-2]".
//
// Rules:
//   - A bracket group holds comma-separated numbers or ranges LO-HI (LO ≤ HI).
//   - Every number of a range is written at least as wide as LO, so
//     "[01-10]" gives 01…10 and "[1-10]" gives 1…10.
//   - Several bracket groups in one name form a cartesian product, the
//     rightmost group varying fastest.
//   - Commas outside brackets separate independent expressions; blanks
//     around them are ignored.
//
// Expand refuses to produce more than MaxNames names, so a typo such as
// "nid[0-99999999]" gives an error instead of exhausting memory.
package hostlist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxNames bounds the number of names one expression may expand to.
const MaxNames = 1_000_000

// maxDigits keeps range bounds well inside int64 so arithmetic cannot overflow.
const maxDigits = 18

// ErrSyntax is wrapped by every error Expand returns.
var ErrSyntax = errors.New("invalid hostlist")

// Expand returns the names an expression stands for, in the order written.
// Duplicates are kept: the caller decides whether they matter.
func Expand(expr string) ([]string, error) {
	parsed, total, err := parse(expr)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, total)
	for _, segments := range parsed {
		names = append(names, build(segments)...)
	}
	return names, nil
}

// Count checks an expression as Expand does and returns how many names it
// stands for, without building them: validation of a 1,000,000-name range
// stays cheap.
func Count(expr string) (int, error) {
	_, total, err := parse(expr)
	return total, err
}

// parse reads every item and counts its names before anything is built, so
// an oversized expression costs nothing.
func parse(expr string) (parsed [][]segment, total int, err error) {
	items, err := splitTopLevel(expr)
	if err != nil {
		return nil, 0, err
	}
	parsed = make([][]segment, len(items))
	for i, item := range items {
		if parsed[i], err = parseSegments(item, strictBrackets); err != nil {
			return nil, 0, err
		}
		count, err := countNames(item, parsed[i], MaxNames-total)
		if err != nil {
			return nil, 0, err
		}
		total += count
	}
	return parsed, total, nil
}

// ExpandPattern expands one value that may contain numeric bracket groups,
// such as a BMC URL "http://127.1.[0-3].[0-255]:8000". Unlike Expand it
// does not split on commas, and a bracket group that is not purely digits,
// '-' and ',' is kept literally, so an IPv6 URL like "http://[::1]:8000"
// stays one value.
func ExpandPattern(pattern string) ([]string, error) {
	return expandItem(pattern, literalNonNumericBrackets, MaxNames)
}

// Split returns the top-level comma-separated items of an expression
// without expanding them (commas inside brackets do not split).
func Split(expr string) ([]string, error) {
	return splitTopLevel(expr)
}

func splitTopLevel(expr string) ([]string, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("%w: empty expression", ErrSyntax)
	}
	var items []string
	depth, start := 0, 0
	for i, c := range expr {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, expr[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, expr[start:])
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("%w: %q: empty item %d (two commas in a row, or a leading/trailing comma)", ErrSyntax, expr, i+1)
		}
		items[i] = item
	}
	return items, nil
}

type bracketMode int

const (
	strictBrackets bracketMode = iota
	literalNonNumericBrackets
)

// segment is one piece of an item: literal text, or the ranges of a
// bracket group (kept as numbers so an oversized group is refused before
// any name is built).
type segment struct {
	literal string
	ranges  []numberRange
}

type numberRange struct {
	lo, hi int64
	width  int
}

// size is the number of choices a bracket group offers (0 for literal text).
func (s segment) size() int {
	n := 0
	for _, r := range s.ranges {
		n += int(r.hi-r.lo) + 1
	}
	return n
}

func (s segment) choices() []string {
	choices := make([]string, 0, s.size())
	for _, r := range s.ranges {
		for n := r.lo; n <= r.hi; n++ {
			choices = append(choices, pad(n, r.width))
		}
	}
	return choices
}

func expandItem(item string, mode bracketMode, limit int) ([]string, error) {
	segments, err := parseSegments(item, mode)
	if err != nil {
		return nil, err
	}
	if _, err := countNames(item, segments, limit); err != nil {
		return nil, err
	}
	return build(segments), nil
}

// countNames returns how many names segments expand to, refusing more than limit.
func countNames(item string, segments []segment, limit int) (int, error) {
	total := 1
	for _, s := range segments {
		if s.ranges == nil {
			continue
		}
		total *= s.size()
		if total > limit {
			return 0, fmt.Errorf("%w: %q expands to more than %d names", ErrSyntax, item, MaxNames)
		}
	}
	return total, nil
}

// build forms the cartesian product of segments, rightmost varying fastest.
func build(segments []segment) []string {
	names := []string{""}
	for _, s := range segments {
		if s.ranges == nil {
			for i := range names {
				names[i] += s.literal
			}
			continue
		}
		choices := s.choices()
		next := make([]string, 0, len(names)*len(choices))
		for _, prefix := range names {
			for _, choice := range choices {
				next = append(next, prefix+choice)
			}
		}
		names = next
	}
	return names
}

func parseSegments(item string, mode bracketMode) ([]segment, error) {
	var segments []segment
	rest := item
	for rest != "" {
		open := strings.IndexAny(rest, "[]")
		if open < 0 {
			segments = append(segments, segment{literal: rest})
			break
		}
		if rest[open] == ']' {
			if mode == literalNonNumericBrackets {
				segments = append(segments, segment{literal: rest[:open+1]})
				rest = rest[open+1:]
				continue
			}
			return nil, fmt.Errorf("%w: %q: ']' without '['", ErrSyntax, item)
		}
		if open > 0 {
			segments = append(segments, segment{literal: rest[:open]})
		}
		closing := strings.IndexAny(rest[open+1:], "[]")
		if closing < 0 || rest[open+1+closing] == '[' {
			if mode == literalNonNumericBrackets && closing < 0 {
				segments = append(segments, segment{literal: rest[open:]})
				break
			}
			if closing < 0 {
				return nil, fmt.Errorf("%w: %q: '[' without ']'", ErrSyntax, item)
			}
			return nil, fmt.Errorf("%w: %q: brackets cannot be nested", ErrSyntax, item)
		}
		body := rest[open+1 : open+1+closing]
		after := rest[open+1+closing+1:]
		if mode == literalNonNumericBrackets && strings.Trim(body, "0123456789-,") != "" {
			segments = append(segments, segment{literal: rest[open : open+1+closing+1]})
			rest = after
			continue
		}
		ranges, err := parseRanges(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrSyntax, item, err)
		}
		segments = append(segments, segment{ranges: ranges})
		rest = after
	}
	return segments, nil
}

// parseRanges reads the inside of one bracket group, e.g. "1-4,7".
func parseRanges(body string) ([]numberRange, error) {
	if body == "" {
		return nil, errors.New("empty brackets []")
	}
	var ranges []numberRange
	count := int64(0)
	for _, part := range strings.Split(body, ",") {
		loText, hiText, isRange := strings.Cut(part, "-")
		if !isRange {
			hiText = loText
		}
		lo, err := parseBound(loText, part)
		if err != nil {
			return nil, err
		}
		hi, err := parseBound(hiText, part)
		if err != nil {
			return nil, err
		}
		if hi < lo {
			return nil, fmt.Errorf("range %q runs backwards (write %s-%s)", part, hiText, loText)
		}
		count += hi - lo + 1
		if count > MaxNames {
			return nil, fmt.Errorf("range %q is larger than %d names", part, MaxNames)
		}
		ranges = append(ranges, numberRange{lo: lo, hi: hi, width: len(loText)})
	}
	return ranges, nil
}

func parseBound(text, part string) (int64, error) {
	if text == "" {
		return 0, fmt.Errorf("%q: missing number", part)
	}
	if len(text) > maxDigits {
		return 0, fmt.Errorf("%q: number %q has more than %d digits", part, text, maxDigits)
	}
	if strings.Trim(text, "0123456789") != "" {
		return 0, fmt.Errorf("%q: %q is not a decimal number", part, text)
	}
	return strconv.ParseInt(text, 10, 64)
}

func pad(n int64, width int) string {
	s := strconv.FormatInt(n, 10)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}
