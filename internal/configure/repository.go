package configure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/bos-project/bos/internal/config"
)

// Repository is BOS v1's git-based configuration, from the deprecated
// template fields cfs.clone_url, cfs.branch, cfs.commit and cfs.playbook
// (or the top-level cfs_url and cfs_branch).
type Repository struct {
	CloneURL string
	Branch   string // used when Commit is empty; empty means the remote's HEAD
	Commit   string // wins over Branch, as in CFS
	Playbook string // relative to the repository's top; default site.yml
}

// defaultPlaybook is CFS's default playbook.
const defaultPlaybook = "site.yml"

// FromRepository fetches the repository into StateDir/repos, checks out
// the commit (or the branch's current commit) into its own directory, and
// registers an Ansible configuration for the playbook there. It returns
// that configuration's name (URL without credentials, short commit,
// playbook), for BootSetPlan.Configuration. Settings other than the
// playbook come from the configuration named "default", when there is one.
//
// A checkout is per commit and never changes afterwards, so sessions
// running different commits of one repository do not disturb each other.
func (r *Runner) FromRepository(ctx context.Context, src Repository) (string, error) {
	if src.CloneURL == "" {
		return "", fmt.Errorf("%w: cfs.clone_url is empty: name the git repository to run the playbook from", ErrInvalid)
	}
	playbook := filepath.Clean(orDefault(src.Playbook, defaultPlaybook))
	if filepath.IsAbs(playbook) || playbook == ".." || strings.HasPrefix(playbook, "../") {
		return "", fmt.Errorf("%w: cfs.playbook %q must be a path inside the repository", ErrInvalid, src.Playbook)
	}
	shown, scrub := redactURL(src.CloneURL)
	repos := filepath.Join(r.opts.StateDir, "repos")
	if err := os.MkdirAll(repos, 0o700); err != nil {
		return "", fmt.Errorf("repository %s: create %s: %w", shown, repos, err)
	}
	// The directory name hides the URL, which may hold credentials.
	sum := sha256.Sum256([]byte(src.CloneURL))
	repoDir := filepath.Join(repos, hex.EncodeToString(sum[:8]))
	lock := flock.New(repoDir + ".lock")
	if _, err := lock.TryLockContext(ctx, 20*time.Millisecond); err != nil {
		return "", fmt.Errorf("repository %s: lock %s: %w", shown, repoDir, err)
	}
	defer lock.Unlock()

	g := gitRepo{runner: r, dir: repoDir, url: src.CloneURL, log: r.log.tagged("configure[git] "), scrub: scrub}
	commit, err := g.fetch(ctx, src)
	if err != nil {
		return "", fmt.Errorf("repository %s: %w", shown, err)
	}
	checkout, err := g.checkout(ctx, commit)
	if err != nil {
		return "", fmt.Errorf("repository %s: check out %s: %w", shown, commit, err)
	}
	path := filepath.Join(checkout, playbook)
	if err := regularFile(path); err != nil {
		return "", fmt.Errorf("%w: repository %s at commit %s has no playbook %s", ErrInvalid, shown, commit, playbook)
	}

	name := fmt.Sprintf("%s@%s:%s", shown, commit[:12], playbook)
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.confs[defaultRepositorySettings].Configuration
	if c.Type != config.ConfigurationAnsible {
		c = config.Configuration{}
	}
	c.Name, c.Type, c.Playbook = name, config.ConfigurationAnsible, path
	c.Source = fmt.Sprintf("template cfs.clone_url %s", shown)
	r.confs[name] = runnable{Configuration: c, workDir: checkout}
	return name, nil
}

// gitRepo is a bare clone that only bos writes to, under its lock.
type gitRepo struct {
	runner *Runner
	dir    string
	url    string
	log    *batchLog
	scrub  func(string) string
}

// fetch brings the wanted commit into the clone and returns its full id.
// The URL is passed on each fetch rather than stored as a remote, so no
// credential in it is written to the state directory.
func (g gitRepo) fetch(ctx context.Context, src Repository) (string, error) {
	if err := exists(filepath.Join(g.dir, "HEAD")); err != nil {
		if _, err := g.git(ctx, "init", "--quiet", "--bare"); err != nil {
			return "", err
		}
	}
	if src.Commit == "" {
		if _, err := g.git(ctx, "fetch", "--quiet", g.url, orDefault(src.Branch, "HEAD")); err != nil {
			return "", err
		}
		return g.git(ctx, "rev-parse", "--verify", "FETCH_HEAD^{commit}")
	}
	want := src.Commit + "^{commit}"
	if commit, err := g.git(ctx, "rev-parse", "--quiet", "--verify", want); err == nil {
		return commit, nil
	}
	// Branches and tags first (any server allows that), then the commit
	// by id for one no branch contains any more.
	fetches := [][]string{
		{"fetch", "--quiet", g.url, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"},
		{"fetch", "--quiet", g.url, src.Commit},
	}
	var errs []error
	for _, args := range fetches {
		if _, err := g.git(ctx, args...); err != nil {
			errs = append(errs, err)
			continue
		}
		if commit, err := g.git(ctx, "rev-parse", "--quiet", "--verify", want); err == nil {
			return commit, nil
		}
	}
	return "", fmt.Errorf("%w: commit %s is not in the repository (%v)", ErrInvalid, src.Commit, errors.Join(errs...))
}

// checkout returns the directory holding the commit's files, creating it
// (atomically, by rename) the first time.
func (g gitRepo) checkout(ctx context.Context, commit string) (string, error) {
	checkouts := filepath.Join(g.dir, "checkouts")
	dir := filepath.Join(checkouts, commit)
	if exists(dir) == nil {
		return dir, nil
	}
	if err := os.MkdirAll(checkouts, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(checkouts, ".partial-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if _, err := g.git(ctx, "--work-tree", tmp, "checkout", "--force", commit, "--", "."); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// git runs git on the clone and returns its last line of output.
func (g gitRepo) git(ctx context.Context, args ...string) (string, error) {
	var out string
	argv := append([]string{g.runner.opts.Git, "--git-dir", g.dir}, args...)
	status, err := g.runner.run(ctx, process{
		argv:     argv,
		env:      []string{"GIT_TERMINAL_PROMPT=0"}, // never wait for a password
		onStdout: func(line string) { out = line },
		scrub:    g.scrub,
	}, g.log)
	if err != nil {
		return "", err
	}
	if status.code != 0 {
		return "", fmt.Errorf("git %s: exited with %s", args[0], status)
	}
	return strings.TrimSpace(out), nil
}

// redactURL returns the URL as it may be shown, and a function removing
// its credentials from any text git prints.
func redactURL(raw string) (string, func(string) string) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw, func(s string) string { return s }
	}
	// A token may be the user name as well as the password.
	secrets := []string{raw, u.User.Username()}
	if password, ok := u.User.Password(); ok {
		secrets = append(secrets, password)
	}
	u.User = nil
	shown := u.String()
	return shown, func(s string) string {
		for i, secret := range secrets {
			if secret == "" {
				continue
			}
			replacement := "xxxxx"
			if i == 0 {
				replacement = shown
			}
			s = strings.ReplaceAll(s, secret, replacement)
		}
		return s
	}
}

func regularFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

func exists(path string) error {
	_, err := os.Stat(path)
	return err
}
