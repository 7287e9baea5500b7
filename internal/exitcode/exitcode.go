// Package exitcode is the vocabulary errors use to say which exit code they
// mean (docs/guide.md "Exit codes"), so that a package marks its own errors
// and the command line maps any error without knowing the packages it came
// from. It depends on nothing: every package may use it.
package exitcode

// Code is a process exit code that scripts branch on.
type Code int

// The codes of the CLI contract (DESIGN §5).
const (
	OK          Code = 0
	Failure     Code = 1
	Invalid     Code = 2 // the input must be fixed: usage, config, template, inventory, limit
	NodesFailed Code = 3
	Conflict    Code = 4 // a running session holds the nodes, or the session is running
	Interrupted Code = 130
)

// Coder is an error that says which exit code it means. ExitCode returns a
// Code rather than an int so that *exec.ExitError, whose ExitCode() int is
// a child process's status, is never taken for bos's own.
type Coder interface {
	error
	ExitCode() Code
}

// New returns a sentinel error meaning code, for errors.Is as errors.New's
// are. Errors that wrap it (fmt.Errorf("%w: …", sentinel)) mean code too.
func New(code Code, text string) error { return &sentinel{text: text, code: code} }

type sentinel struct {
	text string
	code Code
}

func (e *sentinel) Error() string  { return e.text }
func (e *sentinel) ExitCode() Code { return e.code }
