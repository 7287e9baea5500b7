// Package yamlstrict reads hand-written YAML (and JSON, its subset) strictly
// and explains every mistake at once: each problem carries the file, line,
// column and field path (boot_sets.compute.node_list[2]) so an admin can fix
// a whole file in one go instead of one error per run.
//
// It decodes into yaml.Node rather than structs because only the node tree
// keeps positions for every value, and because unknown fields, duplicate
// keys and wrong scalar types must all be reported rather than silently
// ignored or coerced.
package yamlstrict

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bos-project/bos/internal/safetext"
)

// maxProblems keeps the report readable when a generated file is wrong in
// the same way thousands of times.
const maxProblems = 50

// Problem is one mistake in a file.
type Problem struct {
	Line, Column int
	// Path names the field, e.g. boot_sets.compute.node_list[2]; empty for
	// problems with the file as a whole.
	Path    string
	Message string
}

// ValidationError lists every problem found in one file.
type ValidationError struct {
	File     string
	Problems []Problem
	// Omitted counts problems beyond those listed.
	Omitted int
	// kind is the sentinel (invalid template, invalid inventory, ...) the
	// error matches with errors.Is.
	kind error
}

// Error prints one line per problem: "file:line:col: path: message".
func (e *ValidationError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	for _, p := range e.Problems {
		var b strings.Builder
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
		}
		b.WriteString(": ")
		if p.Path != "" {
			b.WriteString(p.Path)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
		lines = append(lines, b.String())
	}
	if e.Omitted > 0 {
		lines = append(lines, fmt.Sprintf("%s: ... and %d more problems", e.File, e.Omitted))
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is(err, template.ErrInvalid) and similar work.
func (e *ValidationError) Unwrap() error { return e.kind }

// Decoder collects problems while a caller walks a node tree.
type Decoder struct {
	file     string
	kind     error
	problems []Problem
	omitted  int
	// reported drops repeats: a bad default is met once per node entry.
	reported map[Problem]bool
}

// NewDecoder starts collecting problems for file; kind is the sentinel the
// resulting error wraps.
func NewDecoder(file string, kind error) *Decoder {
	return &Decoder{file: file, kind: kind, reported: map[Problem]bool{}}
}

// Err returns nil when no problem was recorded, else a *ValidationError.
func (d *Decoder) Err() error {
	if len(d.problems) == 0 {
		return nil
	}
	// Problems are found field by field; a reader fixes them top to bottom.
	slices.SortStableFunc(d.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &ValidationError{File: d.file, Problems: d.problems, Omitted: d.omitted, kind: d.kind}
}

// Failed says whether any problem has been recorded.
func (d *Decoder) Failed() bool { return len(d.problems) > 0 }

// Problemf records a problem at n (n may be nil for file-level problems).
func (d *Decoder) Problemf(n *yaml.Node, path, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	if d.reported[p] {
		return
	}
	if len(d.problems) >= maxProblems {
		d.omitted++
		return
	}
	d.reported[p] = true
	d.problems = append(d.problems, p)
}

// Parse reads data into a node tree and returns its top-level value, or nil
// (with a problem recorded) when the file is empty or not YAML at all.
// Every key set twice in a mapping is reported here, wherever it is.
func (d *Decoder) Parse(data []byte) *yaml.Node {
	root, empty := d.parse(data)
	if empty {
		d.Problemf(nil, "", "file is empty")
	}
	return root
}

// ParseOptional is Parse for a file that may hold nothing but comments,
// or nothing at all, as a settings file may: it returns nil then, without
// a problem.
func (d *Decoder) ParseOptional(data []byte) *yaml.Node {
	root, _ := d.parse(data)
	return root
}

// parse is Parse, saying whether the file holds no document.
func (d *Decoder) parse(data []byte) (root *yaml.Node, empty bool) {
	doc := d.document(data)
	if doc == nil {
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, true
	}
	root = doc.Content[0]
	if hasAlias(root) {
		d.Problemf(root, "", "YAML anchors and aliases (&name, *name, <<) are not supported: write the values out")
		return nil, false
	}
	d.duplicateKeys(root, "")
	return root, false
}

// hasAlias finds anchors and aliases, refused because walking an alias tree
// can cost exponential time ("billion laughs") and positions inside an
// alias point at the anchor, not at the use.
func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

// Field is one key of a mapping with its value and path.
type Field struct {
	Key   string
	KeyAt *yaml.Node
	Value *yaml.Node
	Path  string
}

// Fields returns the entries of a mapping in file order. It reports a
// value that is not a mapping, non-string keys and keys not in allowed
// (naming the allowed ones), and leaves those out of the result, as it does
// the second setting of a key (which Parse reports).
func (d *Decoder) Fields(n *yaml.Node, path string, allowed []string) []Field {
	if n == nil || IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Problemf(n, path, "expected a mapping of fields, got %s", Describe(n))
		return nil
	}
	seen := map[string]bool{}
	var fields []Field
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			d.Problemf(key, path, "field names must be plain strings")
			continue
		}
		fieldPath := Join(path, key.Value)
		if err := safetext.CheckControl(key.Value); err != nil {
			d.refuseUnsafe(key, path, err)
			continue
		}
		if seen[key.Value] {
			continue
		}
		seen[key.Value] = true
		if allowed != nil && !contains(allowed, key.Value) {
			d.Problemf(key, fieldPath, "unknown field %q (known fields: %s)", key.Value, strings.Join(allowed, ", "))
			continue
		}
		fields = append(fields, Field{Key: key.Value, KeyAt: key, Value: value, Path: fieldPath})
	}
	return fields
}

// Join appends a field name to a path.
func Join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// Index appends a sequence index to a path.
func Index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// IsNull says whether n is YAML's null: "~", "null" or no value at all.
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Describe names what a node is, for "expected X, got Y" messages.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing (null)"
		case "!!bool":
			return "boolean " + n.Value
		case "!!int", "!!float":
			return "number " + n.Value
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		}
		return "value " + n.Value + " of type " + n.ShortTag()
	}
	return "an unexpected YAML node"
}

// String reads a text field. Numbers are accepted as their literal text
// (an etag or a partition may well look numeric); null means empty;
// booleans, lists and mappings are refused since they are always a slip.
// A control character (tab included) is refused: names, paths and kernel
// parameters end up in iPXE scripts and boot files, where a line break
// starts another command (free text that may span lines is Text).
func (d *Decoder) String(n *yaml.Node, path string) string {
	return d.StringWith(n, path, safetext.CheckControl)
}

// Text is String for free text, such as a description, where tabs and line
// breaks are allowed; other control characters are still refused.
func (d *Decoder) Text(n *yaml.Node, path string) string {
	return d.StringWith(n, path, safetext.CheckControlInText)
}

// StringWith is String with check (a safetext check, at least as strict as
// safetext.CheckControl) in place of String's own.
func (d *Decoder) StringWith(n *yaml.Node, path string, check func(string) error) string {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float":
			d.refuseUnsafe(n, path, check(n.Value))
			return n.Value
		case "!!null":
			return ""
		}
	}
	d.Problemf(n, path, "expected a string, got %s (quote the value if it is meant as text)", Describe(n))
	return ""
}

// refuseUnsafe records err, a safetext refusal, as a problem at n. The
// message never quotes the value, which may be a password.
func (d *Decoder) refuseUnsafe(n *yaml.Node, path string, err error) {
	if err != nil {
		d.Problemf(n, path, "%v: remove it", err)
	}
}

// Bool reads true/false; anything else is refused.
func (d *Decoder) Bool(n *yaml.Node, path string) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
	}
	d.Problemf(n, path, "expected true or false, got %s", Describe(n))
	return false
}

// NonNegativeInt reads a whole number ≥ 0.
func (d *Decoder) NonNegativeInt(n *yaml.Node, path string) int {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 32)
		if err == nil && v >= 0 {
			return int(v)
		}
	}
	d.Problemf(n, path, "expected a whole number from 0 to %d, got %s", int32(^uint32(0)>>1), Describe(n))
	return 0
}

// Strings reads a list of strings; null means an empty list.
func (d *Decoder) Strings(n *yaml.Node, path string) []string {
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.Problemf(n, path, "expected a list of strings, got %s", Describe(n))
		return nil
	}
	values := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		values = append(values, d.String(item, Index(path, i)))
	}
	return values
}
