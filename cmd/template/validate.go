package template

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/template"
)

// ValidateOptions are the arguments of `bos template validate`.
type ValidateOptions struct {
	Factory *cmdutil.Factory
	Refs    []string
}

// ValidateResult is one file of `bos template validate -o json`.
type ValidateResult struct {
	File     string    `json:"file"`
	Name     string    `json:"name,omitempty"`
	Valid    bool      `json:"valid"`
	Problems []Problem `json:"problems"`
	// Omitted counts problems beyond those listed (a generated file that is
	// wrong everywhere).
	Omitted  int      `json:"omitted,omitempty"`
	Warnings []string `json:"warnings"`
}

// Problem is one mistake in a template file. Line is 0 for problems with
// the file as a whole (it cannot be read, it is not YAML).
type Problem struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// NewCmdValidate returns `bos template validate`.
func NewCmdValidate(f *cmdutil.Factory, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{Factory: f}
	return &cobra.Command{
		Use:   "validate FILE|NAME...",
		Short: "Check template files and report every problem in every file",
		Long: `Check each template strictly, as a session would load it, and print every
problem of every file on stdout as "file:line:col: field.path: message", the
form editors and CI annotations understand. Deprecated fields are accepted and
reported as warnings on stderr.

Exit status: 0 when every file is valid, 2 when any file has a problem.`,
		Example: `  bos template validate templates/*.yaml
  bos template validate compute                 # a name in the templates directories
  bos template validate exported.json -o json | jq '.[] | select(.valid | not)'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Refs = args
			if runF != nil {
				return runF(opts)
			}
			return runValidate(opts)
		},
	}
}

func runValidate(opts *ValidateOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	results := make([]ValidateResult, 0, len(opts.Refs))
	invalid, problems := 0, 0
	for _, ref := range opts.Refs {
		_, r := validate(ref, cfg.Templates)
		if !r.Valid {
			invalid++
			problems += len(r.Problems) + r.Omitted
		}
		for _, w := range r.Warnings {
			f.Warnf("%s", w)
		}
		results = append(results, r)
	}

	format := output.Format(cfg.Output)
	if format.Structured() {
		if err := output.Data(f.IO.Out, format, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			printResult(f, r)
		}
	}
	if invalid > 0 {
		return fmt.Errorf("%w: %d of %d template files have problems (%d in all); fix each file:line:col listed",
			template.ErrInvalid, invalid, len(results), problems)
	}
	return nil
}

// validate loads one template and turns its outcome into a result, with
// the template when it is valid. A template that cannot be found or read is
// a problem of that file, so the other files are still checked.
func validate(ref string, dirs []string) (*template.Template, ValidateResult) {
	r := ValidateResult{File: ref, Problems: []Problem{}, Warnings: []string{}}
	file, err := template.Find(ref, dirs)
	if err != nil {
		r.Problems = append(r.Problems, Problem{Message: err.Error()})
		return nil, r
	}
	r.File = file
	tmpl, warnings, err := template.Load(file)
	for _, w := range warnings {
		r.Warnings = append(r.Warnings, w.String())
	}
	var verr *template.ValidationError
	switch {
	case errors.As(err, &verr):
		for _, p := range verr.Problems {
			r.Problems = append(r.Problems, Problem{Line: p.Line, Column: p.Column, Path: p.Path, Message: p.Message})
		}
		r.Omitted = verr.Omitted
	case err != nil:
		r.Problems = append(r.Problems, Problem{Message: err.Error()})
	default:
		r.Valid = true
		r.Name = tmpl.Name
	}
	return tmpl, r
}

func printResult(f *cmdutil.Factory, r ValidateResult) {
	if r.Valid {
		fmt.Fprintf(f.IO.Out, "%s: ok (template %s)\n", r.File, r.Name)
		return
	}
	for _, p := range r.Problems {
		fmt.Fprintln(f.IO.Out, problemLine(r.File, p))
	}
	if r.Omitted > 0 {
		fmt.Fprintf(f.IO.Out, "%s: ... and %d more problems\n", r.File, r.Omitted)
	}
}

// problemLine is "file:line:col: path: message", the form editors and CI
// annotations jump to.
func problemLine(file string, p Problem) string {
	parts := []string{file}
	if p.Line > 0 {
		parts[0] += fmt.Sprintf(":%d:%d", p.Line, p.Column)
	}
	if p.Path != "" {
		parts = append(parts, p.Path)
	}
	return strings.Join(append(parts, p.Message), ": ")
}
