package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// TestDocsExamplesRun runs every ```sh block of README.md and docs/*.md as
// written, in order, one shell per file, against real commands in-process
// (docs/guide.md, "Runnable examples", states the rules the blocks follow).
// The simulator a block starts with `bos sim ... &` runs in-process too; the
// test only makes it and the engine's polling faster.
func TestDocsExamplesRun(t *testing.T) {
	repo, err := filepath.Abs("..")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	require.NoError(t, err)
	files = append([]string{filepath.Join(repo, "README.md")}, files...)
	for _, file := range files {
		// performance.md is written by `make bench`, not by hand.
		if filepath.Base(file) == "performance.md" {
			continue
		}
		blocks, needs := runnableBlocks(t, file)
		if len(blocks) == 0 {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			for _, program := range needs {
				if _, err := exec.LookPath(program); err != nil {
					// CI installs what the examples need: there a missing
					// program fails rather than letting examples go untested.
					if os.Getenv("CI") != "" {
						t.Fatalf("its examples need %s, which CI must install (.ci/run)", program)
					}
					t.Skipf("its examples need %s, which is not installed", program)
				}
			}
			sh := newDocShell(t, repo)
			for _, b := range blocks {
				sh.runBlock(b)
			}
		})
	}
}

// docBlock is one ```sh block: its lines and where it starts.
type docBlock struct {
	file  string
	line  int
	lines []string
}

// runnableBlocks returns the file's ```sh blocks, and the programs its
// "<!-- needs: PROGRAM -->" lines say they need. A block whose first line is
// a #! line is the content of a script, not commands, and is left out.
func runnableBlocks(t *testing.T, file string) ([]docBlock, []string) {
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var blocks []docBlock
	var needs []string
	var cur *docBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && needsLine.MatchString(line):
			needs = append(needs, needsLine.FindStringSubmatch(line)[1])
		case cur == nil && strings.TrimSpace(line) == "```sh":
			cur = &docBlock{file: filepath.Base(file), line: n + 1}
		case cur != nil && strings.TrimSpace(line) == "```":
			if len(cur.lines) == 0 || !strings.HasPrefix(cur.lines[0], "#!") {
				blocks = append(blocks, *cur)
			}
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
	}
	require.NoError(t, sc.Err())
	return blocks, needs
}

var needsLine = regexp.MustCompile(`^<!-- needs: (\S+) -->$`)

// docShell is the little shell the examples need: bos commands (also
// backgrounded with &, or piped into jq), VAR=$(...), export, cd, mkdir -p,
// rm -f, until [ -s FILE ]; do sleep N; done, cat > FILE <<'EOF'
// here-documents, && and kill %1.
type docShell struct {
	t    *testing.T
	vars map[string]string
	// background stops the `bos sim ... &` started last.
	background []context.CancelFunc
}

// fastEnv makes the simulator's polling match a time-scaled fleet; these
// win over the examples' own values of the same variables.
var fastEnv = map[string]string{
	"BOS_POLL_BASE": "0.002", "BOS_POLL_INTERVAL": "0.01",
	"BOS_REQUEST_RETRY_BACKOFF": "0.001", "BOS_REQUEST_TIMEOUT": "2s",
}

func newDocShell(t *testing.T, repo string) *docShell {
	dir := t.TempDir()
	// A new user's checkout: the example templates in ./templates, and no
	// configuration or state of the machine running the tests.
	require.NoError(t, os.CopyFS(filepath.Join(dir, "templates"), os.DirFS(filepath.Join(repo, "templates"))))
	t.Chdir(dir)
	for _, k := range []string{"BOS_CONFIG", "BOS_INVENTORY", "BOS_STATE_DIR", "BOS_TEMPLATES", "BOS_BOOT_BASE_URL", "NO_COLOR"} {
		t.Setenv(k, "")
	}
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, ".config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, ".state"))
	for k, v := range fastEnv {
		t.Setenv(k, v)
	}
	sh := &docShell{t: t, vars: map[string]string{}}
	t.Cleanup(func() {
		for _, stop := range sh.background {
			stop()
		}
	})
	return sh
}

func (sh *docShell) runBlock(b docBlock) {
	for i := 0; i < len(b.lines); i++ {
		at := fmt.Sprintf("%s:%d", b.file, b.line+i)
		line := b.lines[i]
		for strings.HasSuffix(line, "\\") && i+1 < len(b.lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(b.lines[i])
		}
		if m := heredoc.FindStringSubmatch(line); m != nil {
			var body []string
			for i++; i < len(b.lines) && b.lines[i] != m[2]; i++ {
				body = append(body, b.lines[i])
			}
			require.NoError(sh.t, os.WriteFile(sh.expand(m[1]), []byte(strings.Join(body, "\n")+"\n"), 0o600), at)
			continue
		}
		for _, cmd := range splitAnd(line) {
			sh.run(at, cmd)
		}
	}
}

var (
	heredoc    = regexp.MustCompile(`^cat > (\S+) <<'?(\w+)'?$`)
	assignment = regexp.MustCompile(`^(\w+)=\$\((.*)\)$`)
	wantExit   = regexp.MustCompile(`exits? (\d+)`)
	untilFile  = regexp.MustCompile(`^until \[ -s (\S+) \]; do sleep [0-9.]+; done$`)
)

// run executes one simple command; a trailing comment "# exits N" says the
// exit status it must have (default 0).
func (sh *docShell) run(at, cmd string) {
	t := sh.t
	words, comment := sh.split(at, cmd)
	if len(words) == 0 {
		return
	}
	want := 0
	if m := wantExit.FindStringSubmatch(comment); m != nil {
		want, _ = strconv.Atoi(m[1])
	}
	if m := assignment.FindStringSubmatch(strings.TrimSpace(stripComment(cmd))); m != nil {
		inner, _ := sh.split(at, m[2])
		sh.vars[m[1]] = strings.TrimRight(sh.pipeline(at, inner, 0), "\n")
		return
	}
	switch words[0] {
	case "export":
		for _, kv := range words[1:] {
			k, v, ok := strings.Cut(kv, "=")
			require.True(t, ok, "%s: export %s", at, kv)
			sh.vars[k] = v
			if _, fixed := fastEnv[k]; !fixed {
				t.Setenv(k, v)
			}
		}
	case "mkdir":
		for _, d := range words[1:] {
			if d != "-p" {
				require.NoError(t, os.MkdirAll(d, 0o755), at)
			}
		}
	case "rm":
		require.True(t, len(words) > 2 && words[1] == "-f", "%s: only rm -f FILE... is supported", at)
		for _, f := range words[2:] {
			if err := os.Remove(f); !errors.Is(err, fs.ErrNotExist) {
				require.NoError(t, err, at)
			}
		}
	case "until":
		m := untilFile.FindStringSubmatch(strings.TrimSpace(stripComment(cmd)))
		require.NotNil(t, m, "%s: only 'until [ -s FILE ]; do sleep N; done' is supported", at)
		require.Eventually(t, func() bool {
			fi, err := os.Stat(sh.expand(m[1]))
			return err == nil && fi.Size() > 0
		}, 10*time.Second, 5*time.Millisecond, "%s: %s never came", at, m[1])
	case "cd":
		require.Len(t, words, 2, at)
		t.Chdir(words[1])
	case "kill":
		require.Equal(t, []string{"kill", "%1"}, words, "%s: only kill %%1 (the simulator) is supported", at)
		require.NotEmpty(t, sh.background, "%s: nothing runs in the background", at)
		sh.background[len(sh.background)-1]()
		sh.background = sh.background[:len(sh.background)-1]
	case "bos":
		if words[len(words)-1] == "&" {
			sh.startBackground(at, words[1:len(words)-1])
			return
		}
		sh.pipeline(at, words, want)
	default:
		t.Fatalf("%s: %q is not something the docs test can run; use a ```console block for examples that are not meant to run", at, cmd)
	}
}

// pipeline runs `bos ARGS [| jq [-r] FILTER]` and returns what it printed
// (after jq).
func (sh *docShell) pipeline(at string, words []string, want int) string {
	t := sh.t
	bos := words
	var jq []string
	for i, w := range words {
		if w == "|" {
			bos, jq = words[:i], words[i+1:]
			break
		}
	}
	require.Equal(t, "bos", bos[0], "%s: only bos commands run here", at)
	io, out, errOut := cmdutil.Test()
	code := Run(context.Background(), io, bos[1:])
	require.Equal(t, want, code, "%s: %s\nstdout:\n%s\nstderr:\n%s", at, strings.Join(bos, " "), out, errOut)
	if jq == nil {
		return out.String()
	}
	require.Equal(t, "jq", jq[0], "%s: only pipes into jq are supported", at)
	var doc any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), "%s: output is not JSON:\n%s", at, out)
	raw := len(jq) > 2 && jq[1] == "-r"
	results, ok := jqPath(doc, jq[len(jq)-1])
	if !ok {
		// A filter beyond simple paths: the JSON parsing is the check.
		return out.String()
	}
	require.NotEmpty(t, results, "%s: jq %s selects nothing in\n%s", at, jq[len(jq)-1], out)
	var lines []string
	for _, r := range results {
		if s, isString := r.(string); isString && raw {
			lines = append(lines, s)
			continue
		}
		b, err := json.Marshal(r)
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	return strings.Join(lines, "\n") + "\n"
}

// startBackground runs `bos sim ...` until the test or `kill %1` stops it,
// much faster than written, and waits for the inventory it writes.
func (sh *docShell) startBackground(at string, args []string) {
	t := sh.t
	require.Equal(t, "sim", args[0], "%s: only bos sim runs in the background", at)
	inventory := ""
	for i, a := range args {
		if a == "--write-inventory" && i+1 < len(args) {
			inventory = args[i+1]
		}
	}
	require.NotEmpty(t, inventory, "%s: bos sim in the background needs --write-inventory", at)
	abs, err := filepath.Abs(inventory)
	require.NoError(t, err)
	// An earlier fleet may have written the same path: wait for this one's
	// file (bos sim renames a new one into place).
	earlier, _ := os.Stat(abs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	io, _, errOut := cmdutil.Test()
	go func() {
		defer close(done)
		Run(ctx, io, append(args, "--time-scale", "0.001"))
	}()
	sh.background = append(sh.background, func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		fi, err := os.Stat(abs)
		return err == nil && fi.Size() > 0 && (earlier == nil || !os.SameFile(earlier, fi))
	}, 10*time.Second, 5*time.Millisecond, "%s: bos sim wrote no inventory: %s", at, errOut)
}

// split breaks a command into words as sh would (quotes, backslashes,
// $VAR), returning the trailing comment apart.
func (sh *docShell) split(at, cmd string) ([]string, string) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case c == '#' && !inWord:
			return words, cmd[i+1:]
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case c == '\'':
			end := strings.IndexByte(cmd[i+1:], '\'')
			require.GreaterOrEqual(sh.t, end, 0, "%s: unterminated ' in %q", at, cmd)
			cur.WriteString(cmd[i+1 : i+1+end])
			i, inWord = i+1+end, true
		case c == '"':
			end := strings.IndexByte(cmd[i+1:], '"')
			require.GreaterOrEqual(sh.t, end, 0, "%s: unterminated \" in %q", at, cmd)
			cur.WriteString(sh.expand(cmd[i+1 : i+1+end]))
			i, inWord = i+1+end, true
		case c == '\\' && i+1 < len(cmd):
			cur.WriteByte(cmd[i+1])
			i, inWord = i+1, true
		case c == '$':
			name := variable.FindString(cmd[i+1:])
			cur.WriteString(sh.expand("$" + name))
			i, inWord = i+len(name), true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, ""
}

var variable = regexp.MustCompile(`^(\{\w+\}|\w+)`)

// expand replaces $VAR and ${VAR} with shell variables, then the
// environment ($PWD is the working directory).
func (sh *docShell) expand(s string) string {
	return os.Expand(s, func(name string) string {
		if v, ok := sh.vars[name]; ok {
			return v
		}
		if name == "PWD" {
			wd, err := os.Getwd()
			require.NoError(sh.t, err)
			return wd
		}
		return os.Getenv(name)
	})
}

// splitAnd splits a line at && outside quotes.
func splitAnd(line string) []string {
	var parts []string
	quote, start := byte(0), 0
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' '):
			return append(parts, line[start:])
		case strings.HasPrefix(line[i:], "&&"):
			parts = append(parts, line[start:i])
			start, i = i+2, i+1
		}
	}
	return append(parts, line[start:])
}

func stripComment(cmd string) string {
	if i := strings.Index(cmd, " #"); i >= 0 {
		return cmd[:i]
	}
	return cmd
}

var jqStep = regexp.MustCompile(`^(\.\w+|\[\d*\]|\.\[\d*\])`)

// jqPath evaluates filters made of .field, [N] and [] steps; ok is false
// for anything else.
func jqPath(doc any, filter string) ([]any, bool) {
	if filter == "." {
		return []any{doc}, true
	}
	values := []any{doc}
	for rest := filter; rest != ""; {
		step := jqStep.FindString(rest)
		if step == "" {
			return nil, false
		}
		rest = rest[len(step):]
		var next []any
		for _, v := range values {
			next = append(next, jqApply(v, strings.TrimPrefix(step, "."))...)
		}
		values = next
	}
	return values, true
}

func jqApply(v any, step string) []any {
	if !strings.HasPrefix(step, "[") {
		if m, ok := v.(map[string]any); ok && m[step] != nil {
			return []any{m[step]}
		}
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	if step == "[]" {
		return list
	}
	i, err := strconv.Atoi(strings.Trim(step, "[]"))
	if err != nil || i >= len(list) {
		return nil
	}
	return list[i : i+1]
}

func TestDocShellSplitsLikeSh(t *testing.T) {
	sh := &docShell{t: t, vars: map[string]string{"id": "3f2a"}}
	tests := []struct {
		cmd     string
		words   []string
		comment string
	}{
		{`bos session describe "$id" -o wide`, []string{"bos", "session", "describe", "3f2a", "-o", "wide"}, ""},
		{`bos x --limit 'a,&b,!c'   # exits 3`, []string{"bos", "x", "--limit", "a,&b,!c"}, " exits 3"},
		{`bos sim --nodes 8 \& ${id}`, []string{"bos", "sim", "--nodes", "8", "&", "3f2a"}, ""},
	}
	for _, tc := range tests {
		words, comment := sh.split("test", tc.cmd)
		require.Equal(t, tc.words, words, tc.cmd)
		require.Equal(t, tc.comment, comment, tc.cmd)
	}
	require.Equal(t, []string{"mkdir -p a ", " cd a"}, splitAnd("mkdir -p a && cd a"))
	got, ok := jqPath([]any{map[string]any{"id": "x"}, map[string]any{"id": "y"}}, ".[].id")
	require.True(t, ok)
	require.Equal(t, []any{"x", "y"}, got)
	_, ok = jqPath(nil, ".[] | select(.valid)")
	require.False(t, ok)
}
