package configure

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=bos", "-c", "user.email=bos@example.com"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// newRemote makes a repository with site.yml on main (two commits, the
// first failing every host) and a branch dev without it; it returns the
// file:// URL and the first commit.
func newRemote(t *testing.T) (string, string) {
	t.Helper()
	work := t.TempDir()
	git(t, work, "init", "--quiet", "-b", "main")
	writeFile(t, work, "site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: {msg: first commit}\n")
	git(t, work, "add", ".")
	git(t, work, "commit", "--quiet", "-m", "first")
	first := git(t, work, "rev-parse", "HEAD")
	writeFile(t, work, "site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: configured}\n")
	git(t, work, "commit", "--quiet", "-am", "second")
	git(t, work, "checkout", "--quiet", "-b", "dev")
	git(t, work, "rm", "--quiet", "site.yml")
	writeFile(t, work, "other.yml", "- hosts: all\n  tasks: []\n")
	git(t, work, "add", ".")
	git(t, work, "commit", "--quiet", "-m", "dev")
	bare := filepath.Join(t.TempDir(), "config.git")
	git(t, work, "clone", "--quiet", "--bare", work, bare)
	return "file://" + bare, first
}

func TestFromRepository(t *testing.T) {
	needAnsible(t)
	url, first := newRemote(t)
	state := t.TempDir()
	var log bytes.Buffer
	r := New(map[string]config.Configuration{
		// Repository playbooks take their other settings from "default".
		"default": {Type: config.ConfigurationAnsible, Playbook: "/unused.yml", Connection: "local"},
	}, Options{StateDir: state, Log: &log})
	ctx := context.Background()

	atMain, err := r.FromRepository(ctx, Repository{CloneURL: url, Branch: "main"})
	require.NoError(t, err, log.String())
	atFirst, err := r.FromRepository(ctx, Repository{CloneURL: url, Branch: "dev", Commit: first[:10], Playbook: "./site.yml"})
	require.NoError(t, err, "the commit wins over the branch; %s", log.String())
	assert.Equal(t, url+"@"+first[:12]+":site.yml", atFirst)
	assert.NotEqual(t, atMain, atFirst)
	again, err := r.FromRepository(ctx, Repository{CloneURL: url, Branch: "main"})
	require.NoError(t, err, "a second fetch into the same clone works")
	assert.Equal(t, atMain, again)

	results, err := r.Configure(ctx, engine.ConfigureRequest{Configuration: atMain, BootSet: "b", Nodes: []string{"n1", "n2"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]error{"n1": nil, "n2": nil}, results, log.String())
	results, err = r.Configure(ctx, engine.ConfigureRequest{Configuration: atFirst, BootSet: "b", Nodes: []string{"n1"}})
	require.NoError(t, err)
	assert.EqualError(t, results["n1"], "task fail: first commit", "each commit has its own checkout")

	entries, err := os.ReadDir(filepath.Join(state, "repos"))
	require.NoError(t, err)
	assert.Len(t, entries, 2, "one clone and its lock")
}

func TestFromRepositoryRejects(t *testing.T) {
	url, _ := newRemote(t)
	tests := []struct {
		name string
		src  Repository
		want string
	}{
		{"no url", Repository{}, "cfs.clone_url is empty"},
		{"playbook outside", Repository{CloneURL: url, Playbook: "../etc/site.yml"}, `cfs.playbook "../etc/site.yml" must be a path inside the repository`},
		{"playbook missing on the branch", Repository{CloneURL: url, Branch: "dev"}, "has no playbook site.yml"},
		{"unknown commit", Repository{CloneURL: url, Commit: "0123456789abcdef0123456789abcdef01234567"}, "commit 0123456789abcdef0123456789abcdef01234567 is not in the repository"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(nil, Options{StateDir: t.TempDir()})
			_, err := r.FromRepository(context.Background(), tc.src)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		raw, shown, text, scrubbed string
	}{
		{"https://admin:hunter2@git.example.com/config.git", "https://git.example.com/config.git",
			"fatal: unable to access 'https://admin:hunter2@git.example.com/config.git/': denied (hunter2)",
			"fatal: unable to access 'https://git.example.com/config.git/': denied (xxxxx)"},
		{"https://tok3n@git.example.com/c.git", "https://git.example.com/c.git", "bad token tok3n", "bad token xxxxx"},
		{"file:///srv/c.git", "file:///srv/c.git", "fatal: no repo", "fatal: no repo"},
	}
	for _, tc := range tests {
		shown, scrub := redactURL(tc.raw)
		assert.Equal(t, tc.shown, shown)
		assert.Equal(t, tc.scrubbed, scrub(tc.text))
	}
}
