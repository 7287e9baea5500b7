package inventory

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bos-project/bos/internal/exitcode"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/yamlstrict"
)

// ErrInvalid is matched (errors.Is) by every error about an inventory's
// content; it means exit code 2.
var ErrInvalid = exitcode.New(exitcode.Invalid, "invalid inventory")

// Warning is something accepted but worth fixing, as "file:line:col: message".
type Warning string

// Load reads an inventory file and resolves its credentials. The format:
//
//	defaults:                       # any node field except name
//	  username: root
//	  password_env: BMC_PASSWORD    # or password_file: F (relative to this
//	                                # file's directory, mode 0600) or password: P (warned)
//	  ca_file: bmc-ca.pem           # relative to this file's directory
//	  auth: auto                    # the default; or session, or basic
//	nodes:
//	  - name: x3000c0s1b0n0
//	    bmc: https://x3000c0s1b0
//	    system: /redfish/v1/Systems/Node0
//	    role: Compute
//	    subrole: ""
//	    groups: [blue, gpu]
//	    partition: p1
//	    enabled: true               # default true
//	    arch: X86
//	    mac: "b4:2e:99:00:00:01"
//
// Ranges: name may be a hostlist expression ("nid[0001-1024]") that stands
// for many nodes sharing the entry's settings. bmc, system and mac of such
// an entry may themselves contain numeric bracket groups; each must then
// expand to exactly as many values as name does, and the values are paired
// with the names by position:
//
//	nodes:
//	  - name: nid[0001-1024]
//	    bmc: http://127.1.[0-3].[0-255]:8000   # 1024 values: nid0001 → 127.1.0.0,
//	                                           #   nid0257 → 127.1.1.0
//	  - name: x3000c0s1b0n[0-1]
//	    bmc: https://x3000c0s1b0               # one value: shared by both nodes
//	    system: /redfish/v1/Systems/Node[0-1]  # two values: n0 → Node0, n1 → Node1
//
// A field with a single value (no brackets) applies to every node of the
// entry. Bracket groups that are not purely digits, '-' and ',' (an IPv6
// address such as http://[fd00::1]:8000) are literal text.
//
// Passwords are resolved here, once per distinct source; an unset
// variable, a missing or group/world-readable password file is an error
// naming the variable or the file (with the chmod that fixes it), never the
// password.
func Load(path string) (*Inventory, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read inventory: %w", ErrInvalid, err)
	}
	return Parse(path, data)
}

// Parse validates an inventory and resolves its credentials (environment
// variables, password files). path names the file in messages and is the
// base for relative password_file and ca_file paths.
func Parse(path string, data []byte) (*Inventory, []Warning, error) {
	p := &parser{
		Decoder:     yamlstrict.NewDecoder(path, ErrInvalid),
		file:        path,
		dir:         filepath.Dir(path),
		secrets:     map[string]secret{},
		passwordEnv: map[string]bool{},
		caFiles:     map[string]bool{},
		byName:      map[string]int{},
		byBMC:       map[string]placed{},
		byMAC:       map[string]placed{},
		soleSystem:  map[string]placed{},
		bmcFirstUse: map[string]placed{},
	}
	root := p.Parse(data)
	if root == nil {
		return nil, nil, p.Err()
	}
	inv := p.inventory(root)
	if err := p.Err(); err != nil {
		return nil, p.warnings, err
	}
	inv.Path = path
	inv.PasswordEnv = slices.Sorted(maps.Keys(p.passwordEnv))
	inv.buildIndex()
	return inv, p.warnings, nil
}

type parser struct {
	*yamlstrict.Decoder
	file, dir string
	warnings  []Warning
	// secrets caches resolved passwords by source, so 10,000 nodes sharing
	// one password_file read it once.
	secrets map[string]secret
	// passwordEnv collects the password_env variable names (Inventory.PasswordEnv).
	passwordEnv map[string]bool
	caFiles     map[string]bool
	// byName and the BMC maps find duplicates and say where the first one was.
	byName      map[string]int
	byBMC       map[string]placed
	byMAC       map[string]placed
	soleSystem  map[string]placed
	bmcFirstUse map[string]placed
}

type secret struct {
	password string
	err      string
	// reported keeps one bad source shared by many entries to one problem.
	reported bool
}

type placed struct {
	name string
	line int
}

func (p *parser) warn(n *yaml.Node, format string, args ...any) {
	p.warnings = append(p.warnings, Warning(fmt.Sprintf("%s:%d:%d: %s", p.file, n.Line, n.Column, fmt.Sprintf(format, args...))))
}

var nodeFields = []string{"name", "bmc", "system", "role", "subrole", "groups", "partition", "enabled", "arch", "mac",
	"username", "password", "password_env", "password_file", "ca_file", "insecure", "auth"}

var passwordFields = []string{"password_env", "password_file", "password"}

// settings is one mapping (defaults or a node entry) as written.
type settings struct {
	given  map[string]yamlstrict.Field
	text   map[string]string
	groups []string
	flags  map[string]bool
}

func (p *parser) inventory(root *yaml.Node) *Inventory {
	inv := &Inventory{}
	defaults := &settings{}
	var nodesAt *yaml.Node
	for _, f := range p.Fields(root, "", []string{"defaults", "nodes"}) {
		switch f.Key {
		case "defaults":
			defaults = p.settings(f.Value, f.Path, nodeFields[1:])
		case "nodes":
			nodesAt = f.Value
		}
	}
	if nodesAt == nil || nodesAt.Kind == yaml.ScalarNode && nodesAt.ShortTag() == "!!null" {
		p.Problemf(root, "nodes", "missing: list the nodes under nodes: (- name: ..., bmc: ...)")
		return inv
	}
	if nodesAt.Kind != yaml.SequenceNode {
		p.Problemf(nodesAt, "nodes", "expected a list of nodes")
		return inv
	}
	p.singlePasswordSource(defaults, "defaults")
	for i, entry := range nodesAt.Content {
		path := yamlstrict.Index("nodes", i)
		node := p.settings(entry, path, nodeFields)
		if entry.Kind != yaml.MappingNode {
			continue
		}
		inv.Nodes = append(inv.Nodes, p.expand(entry, path, node, defaults)...)
	}
	return inv
}

func (p *parser) settings(n *yaml.Node, path string, allowed []string) *settings {
	s := &settings{given: map[string]yamlstrict.Field{}, text: map[string]string{}, flags: map[string]bool{}}
	for _, f := range p.Fields(n, path, allowed) {
		s.given[f.Key] = f
		switch f.Key {
		case "groups":
			s.groups = p.Strings(f.Value, f.Path)
		case "enabled", "insecure":
			s.flags[f.Key] = p.Bool(f.Value, f.Path)
		default:
			s.text[f.Key] = p.String(f.Value, f.Path)
		}
		if f.Key == "password_env" && s.text[f.Key] != "" {
			p.passwordEnv[s.text[f.Key]] = true
		}
		switch {
		case f.Key == "insecure" && s.flags[f.Key]:
			p.warn(f.KeyAt, "insecure: true: BMC TLS certificates are not verified; set ca_file instead")
		case f.Key == "password":
			p.warn(f.KeyAt, "inline password: anyone who can read this file has it; prefer password_file (mode 0600) or password_env")
		}
	}
	return s
}

// field returns a node's own value, else the default.
func field(node, defaults *settings, key string) (string, yamlstrict.Field) {
	if f, ok := node.given[key]; ok {
		return node.text[key], f
	}
	return defaults.text[key], defaults.given[key]
}

func flag(node, defaults *settings, key string, fallback bool) bool {
	if v, ok := node.flags[key]; ok {
		return v
	}
	if v, ok := defaults.flags[key]; ok {
		return v
	}
	return fallback
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// expand turns one entry (possibly a range) into nodes.
func (p *parser) expand(entry *yaml.Node, path string, node, defaults *settings) []Node {
	names := p.names(entry, path, node)
	if names == nil {
		return nil
	}
	bmcs := p.perName(node, defaults, "bmc", len(names), entry, path)
	systems := p.perName(node, defaults, "system", len(names), entry, path)
	macs := p.perName(node, defaults, "mac", len(names), entry, path)
	base := p.nodeTemplate(entry, path, node, defaults)
	if bmcs == nil || systems == nil || macs == nil || base == nil {
		return nil
	}
	groups := node.groups
	if _, ok := node.given["groups"]; !ok {
		groups = defaults.groups
	}
	nodes := make([]Node, 0, len(names))
	for i, name := range names {
		n := *base
		n.Name = name
		n.Groups = groups
		n.BMC.Endpoint, n.BMC.System, n.MAC = bmcs[pick(i, bmcs)], systems[pick(i, systems)], macs[pick(i, macs)]
		if !p.register(n, entry) {
			return nil
		}
		nodes = append(nodes, n)
	}
	return nodes
}

func pick(i int, values []string) int {
	if len(values) == 1 {
		return 0
	}
	return i
}

func (p *parser) names(entry *yaml.Node, path string, node *settings) []string {
	f, ok := node.given["name"]
	if !ok {
		p.Problemf(entry, yamlstrict.Join(path, "name"), "missing: every node needs a name (an xname, a hostname or a range such as nid[0001-0128])")
		return nil
	}
	names, err := hostlist.Expand(node.text["name"])
	if err != nil {
		p.Problemf(f.Value, f.Path, "%v", err)
		return nil
	}
	for _, name := range names {
		if !namePattern.MatchString(name) || name == "all" {
			p.Problemf(f.Value, f.Path, "%q is not a usable node name: use letters, digits, '.', '_' and '-' (and not \"all\")", name)
			return nil
		}
	}
	return names
}

// perName expands a bmc/system/mac value to one value or one per name,
// checking each; nil means a problem was reported.
func (p *parser) perName(node, defaults *settings, key string, count int, entry *yaml.Node, path string) []string {
	value, f := field(node, defaults, key)
	at, fieldPath := f.Value, f.Path
	if at == nil {
		at, fieldPath = entry, yamlstrict.Join(path, key)
	}
	if value == "" {
		if key == "bmc" {
			p.Problemf(at, fieldPath, "missing: every node needs its BMC's Redfish URL, e.g. bmc: https://x3000c0s1b0")
			return nil
		}
		return []string{""}
	}
	values, err := hostlist.ExpandPattern(value)
	if err != nil {
		p.Problemf(at, fieldPath, "%s", redactURL(key, err.Error()))
		return nil
	}
	if len(values) != 1 && len(values) != count {
		p.Problemf(at, fieldPath, "expands to %d values but the name to %d nodes: give one value for all, or a range of the same length", len(values), count)
		return nil
	}
	check := map[string]func(string) (string, error){"bmc": normalizeEndpoint, "system": checkSystem, "mac": normalizeMAC}[key]
	for i, v := range values {
		normalized, err := check(v)
		if err != nil {
			p.Problemf(at, fieldPath, "%v", err)
			return nil
		}
		values[i] = normalized
	}
	return values
}

// redactURL keeps an expansion error about a BMC URL from echoing it,
// since a URL may carry user:password.
func redactURL(key, message string) string {
	if key == "bmc" {
		return "not a valid range of BMC URLs: bracket groups must hold numbers or ranges such as [1-4]"
	}
	return message
}

func normalizeEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL: write the BMC as https://HOST or http://HOST:PORT")
	}
	if u.User != nil {
		return "", errors.New("credentials in the BMC URL are not allowed (they would show in logs): use username and password_file")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL: write the BMC as https://HOST or http://HOST:PORT", raw)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: give only scheme and host (and port); bos adds /redfish/v1 itself", raw)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

func checkSystem(system string) (string, error) {
	if !strings.HasPrefix(system, "/redfish/v1/Systems/") || len(strings.Trim(system, "/")) <= len("redfish/v1/Systems") {
		return "", fmt.Errorf("%q is not a ComputerSystem path: write it as /redfish/v1/Systems/ID", system)
	}
	return system, nil
}

func normalizeMAC(mac string) (string, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return "", fmt.Errorf("%q is not a MAC address such as b4:2e:99:00:00:01", mac)
	}
	return hw.String(), nil
}

// nodeTemplate builds the settings every node of an entry shares.
func (p *parser) nodeTemplate(entry *yaml.Node, path string, node, defaults *settings) *Node {
	n := &Node{Enabled: flag(node, defaults, "enabled", true)}
	n.Role, _ = field(node, defaults, "role")
	n.SubRole, _ = field(node, defaults, "subrole")
	n.Partition, _ = field(node, defaults, "partition")
	n.Arch, _ = field(node, defaults, "arch")
	n.BMC.Username, _ = field(node, defaults, "username")
	n.BMC.Insecure = flag(node, defaults, "insecure", false)
	// Every check runs so that one entry's problems are all reported.
	valid := true
	auth, authField := field(node, defaults, "auth")
	switch auth {
	case "", "auto":
		n.BMC.Auth = "auto"
	case "session", "basic":
		n.BMC.Auth = auth
	default:
		p.Problemf(authField.Value, authField.Path, "%q is not auto, session or basic", auth)
		valid = false
	}
	caFile, caField := field(node, defaults, "ca_file")
	if caFile != "" {
		n.BMC.CAFile = p.relative(caFile)
		valid = p.caFileExists(n.BMC.CAFile, caField) && valid
	}
	if !p.singlePasswordSource(node, path) {
		return nil
	}
	password, found := p.password(entry, path, node, defaults)
	if !valid || !found {
		return nil
	}
	n.BMC.Password = password
	return n
}

func (p *parser) relative(file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(p.dir, file)
}

func (p *parser) caFileExists(path string, f yamlstrict.Field) bool {
	ok, seen := p.caFiles[path]
	if !seen {
		_, err := os.Stat(path)
		ok = err == nil
		p.caFiles[path] = ok
		if !ok {
			p.Problemf(f.Value, f.Path, "CA file %s cannot be read: %v", path, errors.Unwrap(err))
		}
	}
	return ok
}

// singlePasswordSource refuses a mapping that names two password sources.
func (p *parser) singlePasswordSource(s *settings, path string) bool {
	var given []string
	for _, key := range passwordFields {
		if _, ok := s.given[key]; ok {
			given = append(given, key)
		}
	}
	if len(given) > 1 {
		f := s.given[given[1]]
		p.Problemf(f.KeyAt, path, "several password sources (%s): keep exactly one", strings.Join(given, ", "))
	}
	return len(given) <= 1
}

// password resolves the node's password source, else the default one.
func (p *parser) password(entry *yaml.Node, path string, node, defaults *settings) (string, bool) {
	for _, level := range []*settings{node, defaults} {
		for _, key := range passwordFields {
			f, ok := level.given[key]
			if !ok {
				continue
			}
			s := p.resolveSecret(key, level.text[key])
			if s.err != "" {
				if !s.reported {
					p.Problemf(f.Value, f.Path, "%s", s.err)
					s.reported = true
					p.secrets[secretKey(key, level.text[key])] = s
				}
				return "", false
			}
			return s.password, true
		}
	}
	p.Problemf(entry, path, "no BMC password: set password_file or password_env here or under defaults:")
	return "", false
}

func (p *parser) resolveSecret(kind, source string) secret {
	cacheKey := secretKey(kind, source)
	if s, ok := p.secrets[cacheKey]; ok {
		return s
	}
	var s secret
	switch kind {
	case "password":
		s.password = source
		if source == "" {
			s.err = "empty password"
		}
	case "password_env":
		value, set := os.LookupEnv(source)
		switch {
		case source == "":
			s.err = "empty: name the environment variable that holds the BMC password"
		case !set:
			s.err = fmt.Sprintf("environment variable %s is not set (export %s=... before running bos)", source, source)
		case value == "":
			s.err = fmt.Sprintf("environment variable %s is empty", source)
		}
		s.password = value
	case "password_file":
		s = readPasswordFile(p.relative(source))
	}
	p.secrets[cacheKey] = s
	return s
}

func secretKey(kind, source string) string { return kind + "\x00" + source }

func readPasswordFile(path string) secret {
	info, err := os.Stat(path)
	if err != nil {
		return secret{err: fmt.Sprintf("password file %s cannot be read: %v", path, errors.Unwrap(err))}
	}
	if info.IsDir() {
		return secret{err: fmt.Sprintf("password file %s is a directory", path)}
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return secret{err: fmt.Sprintf("password file %s is readable by others (mode %04o): run `chmod 600 %s`", path, perm, path)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return secret{err: fmt.Sprintf("password file %s cannot be read: %v", path, errors.Unwrap(err))}
	}
	password := strings.TrimRight(string(data), "\r\n")
	if password == "" {
		return secret{err: fmt.Sprintf("password file %s is empty", path)}
	}
	return secret{password: password}
}

// register records a node for duplicate detection; false when it clashes
// with an earlier one.
func (p *parser) register(n Node, entry *yaml.Node) bool {
	here := placed{name: n.Name, line: entry.Line}
	if line, dup := p.byName[n.Name]; dup {
		p.Problemf(entry, "", "node %s is defined twice (lines %d and %d): remove one", n.Name, line, entry.Line)
		return false
	}
	p.byName[n.Name] = entry.Line
	key := n.BMC.Endpoint + " " + n.BMC.System
	if other, dup := p.byBMC[key]; dup {
		p.Problemf(entry, "", "node %s (line %d) has the same BMC and system as node %s (line %d): %s%s", n.Name, entry.Line, other.name, other.line, n.BMC.Endpoint, n.BMC.System)
		return false
	}
	p.byBMC[key] = here
	if n.MAC != "" {
		// Boot files are also written by MAC (what iPXE asks for): two
		// nodes with one MAC would boot each other's script.
		if other, dup := p.byMAC[n.MAC]; dup {
			p.Problemf(entry, "", "node %s (line %d) has the same mac as node %s (line %d): %s; give each node its own (a range entry takes a range of MACs as long as its names, e.g. mac: b4:2e:99:00:00:[01-16])", n.Name, entry.Line, other.name, other.line, n.MAC)
			return false
		}
		p.byMAC[n.MAC] = here
	}
	// A node without system means "the BMC's only system", which cannot be
	// true when another node shares that BMC.
	if other, shared := p.bmcFirstUse[n.BMC.Endpoint]; shared {
		lone, hasLone := p.soleSystem[n.BMC.Endpoint]
		if n.BMC.System == "" || hasLone {
			if hasLone {
				other = lone
			}
			p.Problemf(entry, "", "nodes %s (line %d) and %s (line %d) share BMC %s: give each its system: /redfish/v1/Systems/ID", other.name, other.line, n.Name, entry.Line, n.BMC.Endpoint)
			return false
		}
	} else {
		p.bmcFirstUse[n.BMC.Endpoint] = here
	}
	if n.BMC.System == "" {
		p.soleSystem[n.BMC.Endpoint] = here
	}
	return true
}
