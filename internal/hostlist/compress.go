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

// keyWithout identifies a name by everything except its number at position.
func (t tokenized) keyWithout(position int) string {
	var b strings.Builder
	for i, n := range t.numbers {
		if i != position {
			b.WriteString(n)
		}
		b.WriteByte(0)
	}
	return b.String()
}

func compressShape(group []tokenized) []term {
	if len(group[0].numbers) == 0 {
		return []term{{first: group[0], text: group[0].texts[0]}}
	}
	// Vary the number that leaves the fewest distinct rests; on a tie the
	// rightmost, which matches how names are usually numbered.
	best, bestKeys := 0, len(group)+1
	for position := range group[0].numbers {
		keys := map[string]bool{}
		for _, t := range group {
			keys[t.keyWithout(position)] = true
		}
		if len(keys) <= bestKeys {
			best, bestKeys = position, len(keys)
		}
	}
	byRest := map[string][]tokenized{}
	for _, t := range group {
		key := t.keyWithout(best)
		byRest[key] = append(byRest[key], t)
	}
	terms := make([]term, 0, len(byRest))
	for _, members := range byRest {
		slices.SortFunc(members, naturalCompare)
		terms = append(terms, term{first: members[0], text: formatTerm(members, best)})
	}
	return terms
}

// formatTerm writes members, which differ only in the number at position,
// as one name with a bracket group there.
func formatTerm(members []tokenized, position int) string {
	first := members[0]
	var b strings.Builder
	for i, text := range first.texts {
		b.WriteString(text)
		if i >= len(first.numbers) {
			break
		}
		if i != position {
			b.WriteString(first.numbers[i])
			continue
		}
		if len(members) == 1 {
			b.WriteString(first.numbers[i])
			continue
		}
		b.WriteByte('[')
		b.WriteString(formatRanges(members, position))
		b.WriteByte(']')
	}
	return b.String()
}

// formatRanges joins consecutive numbers into LO-HI runs. members are in
// natural order, so by value and then by width. A run only continues while
// the next number is written exactly as Expand would write it (padded to
// the width of LO), so "9,010" never becomes "9-10".
func formatRanges(members []tokenized, position int) string {
	var parts []string
	for i := 0; i < len(members); {
		lo := members[i].numbers[position]
		j := i
		for j+1 < len(members) && members[j+1].numbers[position] == pad(members[j].values[position]+1, len(lo)) {
			j++
		}
		if j == i {
			parts = append(parts, lo)
		} else {
			parts = append(parts, lo+"-"+members[j].numbers[position])
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
