package yamlstrict

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	yamlv4 "go.yaml.in/yaml/v4"

	"github.com/bos-project/bos/internal/safetext"
)

// CheckSyntax says why data, a file another reader decodes (viper reads the
// config file), is not well-formed YAML or sets a key twice, in the same
// file:line:col form as Parse; nil when it is well-formed. kind is the
// sentinel the error wraps.
func CheckSyntax(file string, data []byte, kind error) error {
	d := NewDecoder(file, kind)
	if doc := d.document(data); doc != nil {
		d.duplicateKeys(doc, "")
	}
	return d.Err()
}

// document parses data, or records why it is not YAML and returns nil.
func (d *Decoder) document(data []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.syntaxProblem(data, err)
		return nil
	}
	return &doc
}

// duplicateKeys reports every key set twice in a mapping of the tree.
// YAML forbids it, but PyYAML and yaml.v3's node tree keep one setting
// silently, hiding the other from an admin who reads the file top down.
// Keys that are not plain text are left to Fields, which refuses them.
func (d *Decoder) duplicateKeys(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		firstLine := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			keyPath := Join(path, key.Value)
			if key.Kind != yaml.ScalarNode || safetext.CheckControl(key.Value) != nil {
				continue
			}
			if line, dup := firstLine[key.Value]; dup {
				d.Problemf(key, keyPath, "duplicate field (first set on line %d)", line)
				continue
			}
			firstLine[key.Value] = key.Line
			d.duplicateKeys(value, keyPath)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			d.duplicateKeys(item, Index(path, i))
		}
	case yaml.DocumentNode:
		for _, root := range n.Content {
			d.duplicateKeys(root, path)
		}
	}
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem records why data is not YAML where the problem is: the line
// and column at which the parser found it, as PyYAML and libyaml point. err
// is yaml.v3's, which keeps only the line of the construct it was in (and
// for parser errors counts it from 0): an unclosed [ on line 5, noticed on
// line 6, comes out as "line 4". go.yaml.in/yaml/v4, the next major version
// of the same parser, keeps both of libyaml's marks, so the file is parsed
// again with it, only when yaml.v3 has refused it, to place the error.
func (d *Decoder) syntaxProblem(data []byte, err error) {
	var located *yamlv4.LoadError
	var doc yamlv4.Node
	if errors.As(yamlv4.Unmarshal(data, &doc), &located) && located.Mark.Line > 0 {
		d.Problemf(&yaml.Node{Line: located.Mark.Line, Column: located.Mark.Column}, "", "YAML syntax: %s", syntaxMessage(data, located))
		return
	}
	message := err.Error()
	for _, line := range strings.Split(message, "\n") {
		if m := syntaxLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			n, _ := strconv.Atoi(m[1])
			d.Problemf(&yaml.Node{Line: n, Column: 1}, "", "YAML syntax: %s", m[2])
			return
		}
	}
	d.Problemf(nil, "", "YAML syntax: %s", strings.TrimPrefix(message, "yaml: "))
}

// syntaxMessage is the parser's message, with where the construct it was
// reading began (an unclosed [ or quote is found only further on) and a
// hint for the commonest slip, a tab where YAML wants spaces.
func syntaxMessage(data []byte, e *yamlv4.LoadError) string {
	message := e.Message
	if !strings.Contains(message, "tab") && runeAt(data, e.Mark.Line, e.Mark.Column) == '\t' {
		message += ": a tab; YAML indents with spaces only"
	}
	started := e.ContextMark
	if e.ContextMsg != "" && started.Line > 0 && (started.Line != e.Mark.Line || started.Column != e.Mark.Column) {
		message += fmt.Sprintf(" (%s started at %d:%d)", e.ContextMsg, started.Line, started.Column)
	}
	return message
}

// runeAt is the character at line and column (both from 1), or 0.
func runeAt(data []byte, line, column int) rune {
	lines := strings.SplitN(string(data), "\n", line+1)
	if line < 1 || line > len(lines) || column < 1 {
		return 0
	}
	runes := []rune(lines[line-1])
	if column > len(runes) {
		return 0
	}
	return runes[column-1]
}
