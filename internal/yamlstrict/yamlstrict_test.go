package yamlstrict

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/bos-project/bos/internal/yamlstrict/yamlstricttest"
)

var errTest = errors.New("invalid test file")

func TestProblemsAreSortedCappedAndDeduplicated(t *testing.T) {
	d := NewDecoder("f.yaml", errTest)
	require.NoError(t, d.Err())
	at := func(line int) *yaml.Node { return &yaml.Node{Line: line, Column: 2} }
	d.Problemf(at(9), "b", "late")
	d.Problemf(at(3), "a", "early")
	d.Problemf(at(3), "a", "early")
	d.Problemf(nil, "", "whole file")
	err := d.Err()
	require.ErrorIs(t, err, errTest)
	assert.Equal(t, "f.yaml: whole file\nf.yaml:3:2: a: early\nf.yaml:9:2: b: late", err.Error())

	for i := range maxProblems + 5 {
		d.Problemf(at(100+i), "x", "problem %d", i)
	}
	var verr *ValidationError
	require.True(t, errors.As(d.Err(), &verr))
	assert.Len(t, verr.Problems, maxProblems)
	assert.Equal(t, 8, verr.Omitted)
	assert.Contains(t, verr.Error(), "f.yaml: ... and 8 more problems")
}

func TestScalarTypes(t *testing.T) {
	tests := []struct {
		yaml, read, want, problem string
	}{
		{"v: text", "string", "text", ""},
		{"v: 0012", "string", "0012", ""},
		{"v: ~", "string", "", ""},
		{"v: yes", "string", "yes", ""},
		{"v: true", "string", "", `expected a string, got boolean true (quote the value`},
		{"v: [a]", "string", "", "expected a string, got a list"},
		{"v: 7", "int", "7", ""},
		{"v: 0x10", "int", "16", ""},
		{"v: -1", "int", "0", "expected a whole number from 0 to 2147483647, got number -1"},
		{"v: 99999999999", "int", "0", "expected a whole number from 0 to 2147483647, got number 99999999999"},
		{"v: '3'", "int", "0", `expected a whole number from 0 to 2147483647, got string "3"`},
		{"v: false", "bool", "false", ""},
		{"v: 'true'", "bool", "false", `expected true or false, got string "true"`},
		{"v: [a, 1]", "strings", "[a 1]", ""},
		{"v: a", "strings", "[]", `expected a list of strings, got string "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.yaml+" as "+tt.read, func(t *testing.T) {
			d := NewDecoder("f.yaml", errTest)
			root := d.Parse([]byte(tt.yaml))
			require.NotNil(t, root)
			fields := d.Fields(root, "", []string{"v"})
			require.Len(t, fields, 1)
			value := map[string]func() any{
				"string":  func() any { return d.String(fields[0].Value, "v") },
				"int":     func() any { return d.NonNegativeInt(fields[0].Value, "v") },
				"bool":    func() any { return d.Bool(fields[0].Value, "v") },
				"strings": func() any { return d.Strings(fields[0].Value, "v") },
			}[tt.read]()
			assert.Equal(t, tt.want, fmt.Sprint(value))
			if tt.problem == "" {
				assert.NoError(t, d.Err())
			} else {
				assert.ErrorContains(t, d.Err(), "f.yaml:1:4: v: "+tt.problem)
			}
		})
	}
}

// TestSyntaxErrorsPointAtTheProblem: Parse (templates, inventories) and
// CheckSyntax (the config file, read by viper) report each slip at the
// line and column where it is, as PyYAML does, not at the start of the
// construct yaml.v3 was in.
func TestSyntaxErrorsPointAtTheProblem(t *testing.T) {
	for _, tc := range yamlstricttest.SyntaxCases {
		t.Run(tc.Name, func(t *testing.T) {
			d := NewDecoder("f.yaml", errTest)
			root := d.Parse([]byte(tc.YAML))
			if root != nil {
				// Callers walk what parsed; the problem is already recorded.
				d.Fields(root, "", nil)
			}
			require.ErrorIs(t, d.Err(), errTest)
			assert.Equal(t, "f.yaml:"+tc.Want, d.Err().Error())

			err := CheckSyntax("f.yaml", []byte(tc.YAML), errTest)
			require.ErrorIs(t, err, errTest)
			assert.Equal(t, "f.yaml:"+tc.Want, err.Error())
		})
	}
}

func TestCheckSyntaxAcceptsWellFormedYAML(t *testing.T) {
	assert.NoError(t, CheckSyntax("f.yaml", []byte("# only a comment\n"), errTest))
	assert.NoError(t, CheckSyntax("f.yaml", []byte("a: {b: 1, c: [1, 1]}\nd: [{b: 1}, {b: 2}]\n"), errTest))
}

func TestDuplicateKeysAreFoundAnywhere(t *testing.T) {
	d := NewDecoder("f.yaml", errTest)
	// The second "x" sits in a value no caller walks (an unknown field).
	root := d.Parse([]byte("known: 1\nunknown:\n  - {x: 1, x: 2}\nknown: 3\n"))
	require.NotNil(t, root)
	fields := d.Fields(root, "", []string{"known"})
	require.Len(t, fields, 1, "the second setting is left out")
	assert.Equal(t, "1", fields[0].Value.Value)
	assert.Equal(t, "f.yaml:2:1: unknown: unknown field \"unknown\" (known fields: known)\n"+
		"f.yaml:3:12: unknown[0].x: duplicate field (first set on line 3)\n"+
		"f.yaml:4:1: known: duplicate field (first set on line 1)", d.Err().Error())
}
