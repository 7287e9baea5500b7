// Command bos orchestrates boot, shutdown, reboot and configure of HPC nodes
// through their Redfish BMCs.
package main

import "github.com/bos-project/bos/cmd"

func main() {
	cmd.Execute()
}
