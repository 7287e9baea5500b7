package configure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/bos-project/bos/internal/engine"
)

// ansibleEnv makes Ansible's output machine-readable and non-interactive.
// The stdout callback is forced (bos reads it); the rest are defaults an
// administrator's environment may override.
var (
	ansibleForcedEnv  = []string{"ANSIBLE_STDOUT_CALLBACK=ansible.posix.jsonl", "ANSIBLE_NOCOLOR=1"}
	ansibleDefaultEnv = []string{"ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_RETRY_FILES_ENABLED=False", "ANSIBLE_NOCOWS=1"}
)

// maxReason keeps a node's failure reason readable in tables.
const maxReason = 400

// runAnsible runs the playbook over the batch and reads the per-host
// outcome from Ansible's JSON-lines output.
func (r *Runner) runAnsible(ctx context.Context, c runnable, req engine.ConfigureRequest, log *batchLog) (map[string]error, error) {
	dir, err := os.MkdirTemp("", "bos-configure-")
	if err != nil {
		return nil, fmt.Errorf("create a directory for the Ansible inventory: %w", err)
	}
	defer os.RemoveAll(dir)
	argv, err := r.ansibleArgs(dir, c, req)
	if err != nil {
		return nil, err
	}
	var env []string
	for _, kv := range ansibleDefaultEnv {
		if _, set := os.LookupEnv(strings.SplitN(kv, "=", 2)[0]); !set {
			env = append(env, kv)
		}
	}
	env = append(env, ansibleForcedEnv...)
	report := newAnsibleReport(req.Nodes)
	status, err := r.run(ctx, process{argv: argv, env: env, dir: c.workDir, onStdout: func(line string) {
		log.line(line)
		report.read(line)
	}}, log)
	if err != nil {
		return nil, err
	}
	return report.results(req.Nodes, status), nil
}

// ansibleArgs writes the inventory (or limit) and variables files into dir
// and returns the ansible-playbook command line.
func (r *Runner) ansibleArgs(dir string, c runnable, req engine.ConfigureRequest) ([]string, error) {
	argv := []string{r.opts.AnsiblePlaybook}
	if c.Inventory != "" {
		// The administrator's inventory, cut down to this batch.
		limit := filepath.Join(dir, "limit")
		if err := os.WriteFile(limit, []byte(strings.Join(req.Nodes, "\n")+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write the Ansible limit file: %w", err)
		}
		argv = append(argv, "--inventory", c.Inventory, "--limit", "@"+limit)
	} else {
		inv := filepath.Join(dir, "inventory.json")
		if err := writeJSON(inv, r.ansibleInventory(c, req.Nodes)); err != nil {
			return nil, fmt.Errorf("write the Ansible inventory: %w", err)
		}
		argv = append(argv, "--inventory", inv)
	}
	if c.Connection != "" {
		argv = append(argv, "--connection", c.Connection)
	}
	vars := map[string]any{}
	for k, v := range c.ExtraVars {
		vars[k] = v
	}
	vars["bos_session_id"] = req.SessionID
	vars["bos_boot_set"] = req.BootSet
	vars["bos_configuration"] = req.Configuration
	varsFile := filepath.Join(dir, "extra_vars.json")
	if err := writeJSON(varsFile, vars); err != nil {
		return nil, fmt.Errorf("write the Ansible extra variables: %w", err)
	}
	argv = append(argv, "--extra-vars", "@"+varsFile)
	argv = append(argv, c.ExtraArgs...)
	return append(argv, c.Playbook), nil
}

// inventoryGroup is a group of Ansible's YAML/JSON inventory format.
type inventoryGroup struct {
	Hosts    map[string]map[string]string `json:"hosts,omitempty"`
	Children map[string]*inventoryGroup   `json:"children,omitempty"`
}

// ansibleInventory lists the batch's nodes, grouped as CFS's dynamic
// inventory grouped them: by role, role_subrole, inventory group and
// partition, so playbooks written for CFS keep their hosts: patterns.
func (r *Runner) ansibleInventory(c runnable, nodes []string) map[string]*inventoryGroup {
	all := &inventoryGroup{Hosts: map[string]map[string]string{}, Children: map[string]*inventoryGroup{}}
	addTo := func(group, host string) {
		if group == "" {
			return
		}
		g, ok := all.Children[group]
		if !ok {
			g = &inventoryGroup{Hosts: map[string]map[string]string{}}
			all.Children[group] = g
		}
		g.Hosts[host] = nil
	}
	for _, name := range nodes {
		var vars map[string]string
		if c.AnsibleHost != "" {
			vars = map[string]string{"ansible_host": strings.ReplaceAll(c.AnsibleHost, "{name}", name)}
		}
		all.Hosts[name] = vars
		info := r.nodeInfo(name)
		addTo(info.Role, name)
		if info.Role != "" && info.SubRole != "" {
			addTo(info.Role+"_"+info.SubRole, name)
		}
		for _, g := range info.Groups {
			addTo(g, name)
		}
		addTo(info.Partition, name)
	}
	return map[string]*inventoryGroup{"all": all}
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// ansibleEvent is one line of the ansible.posix.jsonl callback, reduced to
// what decides a host's result.
type ansibleEvent struct {
	Event string `json:"_event"`
	Task  struct {
		Name string `json:"name"`
	} `json:"task"`
	Hosts map[string]hostResult  `json:"hosts"`
	Stats map[string]ansibleStat `json:"stats"`
}

type hostResult struct {
	Msg     json.RawMessage `json:"msg"`
	Stderr  string          `json:"stderr"`
	Failed  bool            `json:"failed"`
	Results []hostResult    `json:"results"` // a loop's items
}

type ansibleStat struct {
	OK          int `json:"ok"`
	Failures    int `json:"failures"`
	Unreachable int `json:"unreachable"`
	Skipped     int `json:"skipped"`
}

// ansibleReport accumulates a run's outcome per host: memory per host is
// its last failure message, whatever the number of tasks.
type ansibleReport struct {
	wanted      map[string]bool
	failure     map[string]string // last failed task, "task NAME: MSG"
	unreachable map[string]string
	stats       map[string]ansibleStat
	statsSeen   bool
}

func newAnsibleReport(nodes []string) *ansibleReport {
	wanted := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		wanted[n] = true
	}
	return &ansibleReport{wanted: wanted, failure: map[string]string{}, unreachable: map[string]string{}, stats: map[string]ansibleStat{}}
}

func (a *ansibleReport) read(line string) {
	if !strings.HasPrefix(line, "{") {
		return
	}
	var ev ansibleEvent
	if json.Unmarshal([]byte(line), &ev) != nil {
		return
	}
	switch ev.Event {
	case "v2_runner_on_failed":
		// The last failure is the one that stopped the host: failures
		// before it were ignored (ignore_errors) or rescued.
		for host, res := range ev.Hosts {
			if a.wanted[host] {
				a.failure[host] = clip(fmt.Sprintf("task %s: %s", ev.Task.Name, res.reason()))
			}
		}
	case "v2_runner_on_unreachable":
		for host, res := range ev.Hosts {
			if a.wanted[host] {
				a.unreachable[host] = clip("unreachable: " + res.reason())
			}
		}
	case "v2_playbook_on_stats":
		a.statsSeen = true
		for host, st := range ev.Stats {
			if a.wanted[host] {
				a.stats[host] = st
			}
		}
	}
}

// reason is a failed result's message, with the command's last stderr
// line when the message alone ("non-zero return code") says little.
func (h hostResult) reason() string {
	for _, item := range h.Results {
		if item.Failed {
			return item.reason()
		}
	}
	msg := rawText(h.Msg)
	if line := lastLine(h.Stderr); line != "" {
		if msg == "" {
			return line
		}
		return msg + ": " + line
	}
	if msg == "" {
		return "failed"
	}
	return msg
}

func (a *ansibleReport) results(nodes []string, status exitStatus) map[string]error {
	reported := make(map[string]error, len(a.stats))
	for host, st := range a.stats {
		switch {
		case st.Unreachable > 0:
			reported[host] = errors.New(orDefault(a.unreachable[host], "unreachable"))
		case st.Failures > 0:
			reported[host] = errors.New(orDefault(a.failure[host], "a task failed"))
		default:
			reported[host] = nil
		}
	}
	return resultsFor(nodes, reported, func(string) error {
		if !a.statsSeen {
			return fmt.Errorf("ansible-playbook reported no result: exited with %s", status)
		}
		return errors.New("not in the play: the inventory has no such host, or the playbook's hosts: pattern does not match it")
	})
}

// rawText renders a JSON value as text: strings as themselves, anything
// else (Ansible's msg may be a list or mapping) as compact JSON.
func rawText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func clip(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func orDefault(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
