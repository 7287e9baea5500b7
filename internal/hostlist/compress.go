package hostlist

import (
	"slices"
	"strconv"
	"strings"
)

// Compress is the inverse of Expand: it writes a set of names as a short
// hostlist expression such as "nid[0001-0128],x3000c0s[1-4]b0n0".
// Duplicates are dropped and the result does not depend on the order of
// names, so the same set always prints the same way. Each term varies one
// number of the name (the one that gives the fewest terms). Names that
// contain hostlist syntax ('[', ']', ',') or blanks are listed unchanged.
func Compress(names []string) string {
	if len(names) == 0 {
		return ""
	}
	var literal []string
	byShape := map[string][]tokenized{}
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		if name == "" || strings.ContainsAny(name, "[], \t\r\n") {
			literal = append(literal, name)
			continue
		}
		t := tokenize(name)
		byShape[t.shape] = append(byShape[t.shape], t)
	}
	var terms []term
	for _, group := range byShape {
		terms = append(terms, compressShape(group)...)
	}
	for _, name := range literal {
		terms = append(terms, term{first: tokenize(name), text: name})
	}
	slices.SortFunc(terms, func(a, b term) int { return naturalCompare(a.first, b.first) })
	texts := make([]string, len(terms))
	for i, t := range terms {
		texts[i] = t.text
	}
	return strings.Join(texts, ",")
}

// tokenized is a name cut into text and number parts; numbers[i] sits
// between texts[i] and texts[i+1].
type tokenized struct {
	texts   []string
	numbers []string
	values  []int64
	shape   string
}

type term struct {
	first tokenized
	text  string
}

func tokenize(name string) tokenized {
	var t tokenized
	text := strings.Builder{}
	for i := 0; i < len(name); {
		j := i
		for j < len(name) && name[j] >= '0' && name[j] <= '9' {
			j++
		}
		// Very long digit runs stay text: they cannot be counted in an int64.
		if j > i && j-i <= maxDigits {
			value, _ := strconv.ParseInt(name[i:j], 10, 64)
			t.texts = append(t.texts, text.String())
			t.numbers = append(t.numbers, name[i:j])
			t.values = append(t.values, value)
			text.Reset()
			i = j
			continue
		}
		if j == i {
			j++
		}
		text.WriteString(name[i:j])
		i = j
	}
	t.texts = append(t.texts, text.String())
	// Quoting each text keeps shapes apart however odd the names are.
	quoted := make([]string, len(t.texts))
	for i, s := range t.texts {
		quoted[i] = strconv.Quote(s)
	}
	t.shape = strings.Join(quoted, ",")
	return t
}

// number is one numeric field of a name, as written and as a value.
type number struct {
	text  string
	value int64
}

// box is a set of names of one shape written as one term: the cartesian
// product of the numbers each numeric position takes.
type box struct {
	texts   []string
	numbers [][]number
}

func newBox(t tokenized) box {
	b := box{texts: t.texts, numbers: make([][]number, len(t.numbers))}
	for i := range t.numbers {
		b.numbers[i] = []number{{text: t.numbers[i], value: t.values[i]}}
	}
	return b
}

// keyWithout identifies a box by everything except its numbers at position.
func (b box) keyWithout(position int) string {
	var key strings.Builder
	for i, numbers := range b.numbers {
		if i != position {
			for _, n := range numbers {
				key.WriteString(n.text)
				key.WriteByte(',')
			}
		}
		key.WriteByte(0)
	}
	return key.String()
}

// compressShape merges names of one shape into as few boxes as it can:
// first along the position that leaves the fewest rests (x3000c0s[1-4]b0n0
// rather than four terms), then along every position in turn until nothing
// merges (x1000c0s[0-7]b0n[0-1]).
func compressShape(group []tokenized) []term {
	boxes := make([]box, len(group))
	for i, t := range group {
		boxes[i] = newBox(t)
	}
	positions := len(group[0].numbers)
	if positions > 0 {
		best, bestKeys := 0, len(boxes)+1
		for position := range positions {
			if keys := len(groupBy(boxes, position)); keys <= bestKeys {
				best, bestKeys = position, keys
			}
		}
		boxes = mergeAlong(boxes, best)
	}
	for merged := positions > 1; merged; {
		merged = false
		for position := positions - 1; position >= 0; position-- {
			before := len(boxes)
			boxes = mergeAlong(boxes, position)
			merged = merged || len(boxes) < before
		}
	}
	terms := make([]term, len(boxes))
	for i, b := range boxes {
		terms[i] = b.term()
	}
	return terms
}

func groupBy(boxes []box, position int) map[string][]box {
	groups := map[string][]box{}
	for _, b := range boxes {
		key := b.keyWithout(position)
		groups[key] = append(groups[key], b)
	}
	return groups
}

// mergeAlong joins boxes that differ only in their numbers at position.
// Their numbers there never overlap, since every name is in one box.
func mergeAlong(boxes []box, position int) []box {
	groups := groupBy(boxes, position)
	merged := make([]box, 0, len(groups))
	for _, members := range groups {
		b := members[0]
		if len(members) > 1 {
			numbers := b.numbers
			b.numbers = append([][]number(nil), numbers...)
			var union []number
			for _, m := range members {
				union = append(union, m.numbers[position]...)
			}
			slices.SortFunc(union, compareNumbers)
			b.numbers[position] = union
		}
		merged = append(merged, b)
	}
	return merged
}

func compareNumbers(a, b number) int {
	if a.value != b.value {
		if a.value < b.value {
			return -1
		}
		return 1
	}
	return len(a.text) - len(b.text)
}

func (b box) term() term {
	var text, first strings.Builder
	for i, t := range b.texts {
		text.WriteString(t)
		first.WriteString(t)
		if i >= len(b.numbers) {
			break
		}
		numbers := b.numbers[i]
		first.WriteString(numbers[0].text)
		if len(numbers) == 1 {
			text.WriteString(numbers[0].text)
			continue
		}
		text.WriteByte('[')
		text.WriteString(formatRanges(numbers))
		text.WriteByte(']')
	}
	return term{first: tokenize(first.String()), text: text.String()}
}

// formatRanges joins consecutive numbers into LO-HI runs. numbers are
// sorted by value and then by width. A run only continues while the next
// number is written exactly as Expand would write it (padded to the width
// of LO), so "9,010" never becomes "9-10".
func formatRanges(numbers []number) string {
	var parts []string
	for i := 0; i < len(numbers); {
		lo := numbers[i].text
		j := i
		for j+1 < len(numbers) && numbers[j+1].text == pad(numbers[j].value+1, len(lo)) {
			j++
		}
		if j == i {
			parts = append(parts, lo)
		} else {
			parts = append(parts, lo+"-"+numbers[j].text)
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// naturalCompare orders names as people expect: nid2 before nid10.
func naturalCompare(a, b tokenized) int {
	for i := 0; ; i++ {
		if i >= len(a.texts) || i >= len(b.texts) {
			return len(a.texts) - len(b.texts)
		}
		if c := strings.Compare(a.texts[i], b.texts[i]); c != 0 {
			return c
		}
		if i >= len(a.numbers) || i >= len(b.numbers) {
			if len(a.numbers) != len(b.numbers) {
				return len(a.numbers) - len(b.numbers)
			}
			continue
		}
		if a.values[i] != b.values[i] {
			if a.values[i] < b.values[i] {
				return -1
			}
			return 1
		}
		if c := len(a.numbers[i]) - len(b.numbers[i]); c != 0 {
			return c
		}
	}
}
