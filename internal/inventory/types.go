// Package inventory is bos's replacement for Cray's Hardware State Manager:
// the nodes, their BMCs, roles, groups and partitions, read from a YAML
// file, and the BOS limit expressions that select among them.
package inventory

// Node is one managed node after defaults have been applied and hostlist
// ranges expanded.
type Node struct {
	Name      string   `json:"name"`
	BMC       BMC      `json:"bmc"`
	Role      string   `json:"role,omitempty"`
	SubRole   string   `json:"subrole,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	Partition string   `json:"partition,omitempty"`
	Enabled   bool     `json:"enabled"`
	Arch      string   `json:"arch,omitempty"`
	MAC       string   `json:"mac,omitempty"`
}

// BMC says how to reach and log in to the Redfish service that manages a
// node. Several nodes may share one endpoint (Cray EX node cards), told
// apart by System.
type BMC struct {
	// Endpoint is the Redfish service root URL's scheme and host, e.g.
	// https://x3000c0s1b0 or http://127.1.0.1:8000.
	Endpoint string `json:"endpoint"`
	// System is the ComputerSystem path; empty means "the only system".
	System   string `json:"system,omitempty"`
	Username string `json:"username,omitempty"`
	// Password is resolved from password_env/password_file/password; it is
	// never serialised.
	Password string `json:"-"`
	CAFile   string `json:"ca_file,omitempty"`
	Insecure bool   `json:"insecure,omitempty"`
	// Auth is "auto" (the default: a Redfish session where the BMC's
	// service root advertises a SessionService, else Basic auth),
	// "session" (one Redfish session per BMC) or "basic".
	Auth string `json:"auth,omitempty"`
}

// Inventory is a loaded inventory file.
type Inventory struct {
	// Path is the file it was read from, for error messages.
	Path  string
	Nodes []Node
	// PasswordEnv names every environment variable the file takes a BMC
	// password from (password_env, under defaults: and in node entries,
	// used or not), sorted: programs bos starts must not inherit them.
	PasswordEnv []string
	index       map[string]int
}

// Node returns the named node.
func (inv *Inventory) Node(name string) (Node, bool) {
	if inv.index == nil {
		inv.buildIndex()
	}
	i, ok := inv.index[name]
	if !ok {
		return Node{}, false
	}
	return inv.Nodes[i], true
}

func (inv *Inventory) buildIndex() {
	inv.index = make(map[string]int, len(inv.Nodes))
	for i, n := range inv.Nodes {
		inv.index[n.Name] = i
	}
}
