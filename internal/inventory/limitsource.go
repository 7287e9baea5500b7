package inventory

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bos-project/bos/internal/hostlist"
)

// StdinLimit is the --limit that reads its terms from standard input.
const StdinLimit = "-"

// ReadLimit resolves a --limit argument that says where its terms are, as
// pdsh's -w ^FILE does: "@FILE" reads them from FILE, "-" from stdin. The
// file holds node names or limit terms one a line or comma separated;
// blank lines and '#' comments are ignored. Anything else is returned as
// given. A file that names nothing is refused with ErrEmptyLimit, as an
// empty --limit is: a list generated empty must not mean every node.
func ReadLimit(arg string, stdin io.Reader) (string, error) {
	switch {
	case arg == StdinLimit:
		return limitFrom(stdin, "stdin (--limit -)")
	case strings.HasPrefix(arg, "@"):
		path := arg[1:]
		if path == "" {
			return "", fmt.Errorf("%w: --limit @: name the file after the @, e.g. --limit @nodes.txt", ErrInvalidLimit)
		}
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("%w: --limit %s: %w", ErrInvalidLimit, arg, err)
		}
		defer f.Close()
		return limitFrom(f, path)
	}
	return arg, nil
}

// limitFrom reads a list of limit terms from r (named source in messages)
// and joins them into one expression. Each line is checked on its own, so
// a bad term is reported at its line. A list of plain node names, the
// usual case, is hostlist-compressed: the expression is kept in the
// session record and printed by describe.
func limitFrom(r io.Reader, source string) (string, error) {
	var terms []string
	plain := true
	scanner := bufio.NewScanner(r)
	scanner.Buffer(nil, 1<<20)
	for line := 1; scanner.Scan(); line++ {
		text, _, _ := strings.Cut(scanner.Text(), "#")
		// Blanks separate terms too: a hostlist range split at ", " is
		// joined back by the comma.
		var lineTerms []string
		for _, field := range strings.Fields(text) {
			for _, term := range strings.Split(field, ",") {
				if term != "" {
					lineTerms = append(lineTerms, term)
				}
			}
		}
		if len(lineTerms) == 0 {
			continue
		}
		expr := strings.Join(lineTerms, ",")
		if _, err := ParseLimit(expr); err != nil {
			return "", fmt.Errorf("%s:%d: %w", source, line, err)
		}
		plain = plain && !strings.ContainsAny(expr, "[]&!")
		terms = append(terms, expr)
	}
	if err := scanner.Err(); err != nil {
		return "", fmt.Errorf("%w: read --limit from %s: %w", ErrInvalidLimit, source, err)
	}
	if len(terms) == 0 {
		return "", fmt.Errorf("%s holds only blank lines and # comments: %w", source, ErrEmptyLimit)
	}
	if plain {
		return hostlist.Compress(strings.Split(strings.Join(terms, ","), ",")), nil
	}
	return strings.Join(terms, ","), nil
}
