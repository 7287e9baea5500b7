package engine

import "slices"

// Operation is what a session does to its nodes.
type Operation string

const (
	Boot      Operation = "boot"
	Shutdown  Operation = "shutdown"
	Reboot    Operation = "reboot"
	Configure Operation = "configure"
)

// OperationSpec is one operation as every part of bos sees it: the engine
// runs its phases (each phase's work is in phases.go), the session record
// lays out its status tree from them, the session runner prepares boots and
// configurations as it says, and the command line offers, checks and
// explains it.
type OperationSpec struct {
	Name Operation
	// Description is what the operation does, in the words of the command
	// line (completion, help).
	Description string
	// Phases are every phase the operation may run, in order.
	Phases []Phase
	// Boots: its nodes are pointed at an image and powered on, so a boot is
	// prepared before the first power change, even a reboot's shutdown.
	Boots bool
	// Configures: it may run a configuration on its nodes.
	Configures bool
}

// operations is the one table of operations, in the order the command line
// lists them. Adding an operation is a row here plus, for a new phase, its
// work in phases.go.
var operations = []OperationSpec{
	{Name: Boot, Description: "power on and boot the template's image",
		Phases: []Phase{PhaseBoot, PhaseConfigure}, Boots: true, Configures: true},
	{Name: Shutdown, Description: "shut down gracefully, then force off",
		Phases: []Phase{PhaseShutdown}},
	{Name: Reboot, Description: "shutdown, then boot",
		Phases: []Phase{PhaseShutdown, PhaseBoot, PhaseConfigure}, Boots: true, Configures: true},
	{Name: Configure, Description: "run the template's configuration only",
		Phases: []Phase{PhaseConfigure}, Configures: true},
}

// Operations returns every operation, in the order the command line lists
// them.
func Operations() []OperationSpec {
	specs := slices.Clone(operations)
	for i := range specs {
		specs[i].Phases = slices.Clone(specs[i].Phases)
	}
	return specs
}

// LookupOperation returns the operation named name.
func LookupOperation(name Operation) (OperationSpec, bool) {
	i := slices.IndexFunc(operations, func(o OperationSpec) bool { return o.Name == name })
	if i < 0 {
		return OperationSpec{}, false
	}
	spec := operations[i]
	spec.Phases = slices.Clone(spec.Phases)
	return spec, true
}

// OperationNames lists the operations' names, in table order, for help
// and error messages.
func OperationNames() []string {
	names := make([]string, len(operations))
	for i, o := range operations {
		names[i] = string(o.Name)
	}
	return names
}

// conditional reports whether only some boot sets go through phase: a
// configure phase after a boot is for the boot sets that name a
// configuration (enable_cfs and one named), and the others finish booted.
// The configure operation's own phase is every boot set's: the nodes of
// one naming no configuration are excluded, saying why.
func (o OperationSpec) conditional(phase Phase) bool {
	return phase == PhaseConfigure && o.Boots
}

// Skips reports whether the nodes of boot set bs skip phase, one of the
// operation's phases: they finish with the phase before.
func (o OperationSpec) Skips(phase Phase, bs BootSetPlan) bool {
	return o.conditional(phase) && bs.Configuration == ""
}

// PhasesRun are the phases a session of this operation runs, in order:
// without a configure phase after the boot when no boot set names a
// configuration (configured false).
func (o OperationSpec) PhasesRun(configured bool) []Phase {
	return slices.DeleteFunc(slices.Clone(o.Phases), func(phase Phase) bool {
		return o.conditional(phase) && !configured
	})
}
