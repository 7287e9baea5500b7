package bootimage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"github.com/bos-project/bos/internal/reason"
	"github.com/bos-project/bos/internal/safetext"
)

// Boot directory layout. Every node gets two files by name and, when the
// inventory gives its MAC, the same two by MAC (lower case, dashes: what
// iPXE's ${net0/mac:hexhyp} expands to):
//
//	<boot.dir>/nodes/<name>.ipxe   iPXE script: kernel + parameters, initrd, boot
//	<boot.dir>/nodes/<name>.json   boot parameters: hosts, macs, kernel, initrd, params
//	<boot.dir>/mac/<aa-bb-cc-dd-ee-ff>.ipxe
//	<boot.dir>/mac/<aa-bb-cc-dd-ee-ff>.json
//
// Directories are 0755 and files 0644 so any HTTP server can serve them;
// they hold no secrets. Each file is written to a temporary file, made
// durable and renamed into place, so a node never fetches half a script
// (see WriteNode).
const (
	nodesDir = "nodes"
	macDir   = "mac"
)

// BootParameters is what Cray's BSS served for a node: its boot
// parameters JSON, written beside its iPXE script.
type BootParameters struct {
	Hosts  []string `json:"hosts"`
	MACs   []string `json:"macs,omitempty"`
	Kernel string   `json:"kernel"`
	Initrd string   `json:"initrd"`
	Params string   `json:"params"`
}

// NodeFiles are one node's rendered boot files.
type NodeFiles struct {
	Script     []byte // the iPXE script
	Parameters []byte // BootParameters as indented JSON
}

// RenderNode renders a node's iPXE script and boot parameters. The script
// retries from the top every 30 s when a download or the boot fails, as
// BSS's scripts did, instead of dropping the node to the iPXE shell.
//
// Templates, manifests and inventories are checked when loaded; RenderNode
// checks again what it writes into the script, so that no other way in can
// add a command to it: a control character or an iPXE separator word in
// the kernel parameters, or anything but one word for the node name and
// the kernel and initrd URLs, is refused.
func RenderNode(node, mac string, img *Image, kernelParams string) (NodeFiles, error) {
	for _, v := range []struct {
		what, value string
		check       func(string) error
	}{
		{"node name", node, safetext.CheckIPXEWord},
		{"kernel URL", img.Kernel, safetext.CheckIPXEWord},
		{"initrd URL", img.Initrd, safetext.CheckIPXEWord},
		{"kernel parameters", kernelParams, safetext.CheckIPXEArguments},
	} {
		if err := v.check(v.value); err != nil {
			return NodeFiles{}, reason.At(fmt.Sprintf("node %q", node), fmt.Errorf("refusing to write its boot script: %s: %w", v.what, err))
		}
	}
	params := BootParameters{Hosts: []string{node}, Kernel: img.Kernel, Initrd: img.Initrd, Params: kernelParams}
	if mac != "" {
		hw, err := net.ParseMAC(mac)
		if err != nil {
			return NodeFiles{}, reason.At("node "+node, macError(mac, err))
		}
		params.MACs = []string{hw.String()}
	}
	var paramsJSON bytes.Buffer
	encoder := json.NewEncoder(&paramsJSON)
	encoder.SetEscapeHTML(false) // kernel parameters may hold < > &
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(params); err != nil {
		return NodeFiles{}, reason.At("node "+node, fmt.Errorf("render boot parameters: %w", err))
	}
	var script strings.Builder
	fmt.Fprintf(&script, "#!ipxe\n# written by bos for node %s\n", node)
	script.WriteString(":boot\n")
	script.WriteString("imgfree\n")
	fmt.Fprintf(&script, "kernel --name kernel %s initrd=initrd %s || goto retry\n", img.Kernel, kernelParams)
	fmt.Fprintf(&script, "initrd --name initrd %s || goto retry\n", img.Initrd)
	script.WriteString("boot || goto retry\n")
	script.WriteString(":retry\n")
	script.WriteString("echo bos: boot of " + node + " failed, retrying in 30 s\n")
	script.WriteString("sleep 30\n")
	script.WriteString("goto boot\n")
	return NodeFiles{Script: []byte(script.String()), Parameters: paramsJSON.Bytes()}, nil
}

// NodeScriptPath is the node's iPXE script relative to the boot directory.
func NodeScriptPath(node string) string { return nodesDir + "/" + node + ".ipxe" }

// macFileName is a MAC as the boot directory spells it: aa-bb-cc-dd-ee-ff.
func macFileName(mac string) (string, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return "", macError(mac, err)
	}
	return strings.ReplaceAll(hw.String(), ":", "-"), nil
}

// macError is err about a node's MAC address: the reason (package reason)
// says what is wrong with it, not which it is.
func macError(mac string, err error) error {
	return reason.At(fmt.Sprintf("mac %q", mac), err)
}

// checkNodeName keeps a node name from escaping its directory.
func checkNodeName(node string) error {
	if node == "" || strings.ContainsAny(node, `/\`) || strings.HasPrefix(node, ".") {
		return fmt.Errorf("node name %q cannot name a file in the boot directory", node)
	}
	return nil
}
