package sessionrun

import (
	"cmp"
	"context"
	"fmt"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/template"
)

// PowerTemplateName names the template of a `bos power` session. It is
// not a valid template name, so no template file is mistaken for it.
const PowerTemplateName = "(power)"

// PowerAction is a `bos power` verb and the operation it runs.
type PowerAction struct {
	Verb      string
	Operation engine.Operation
	// Description is the command's one-line help.
	Description string
}

// PowerActions are the verbs of `bos power` that change power, in the
// order help lists them; each is an operation of the engine's table.
var PowerActions = []PowerAction{
	{Verb: "on", Operation: engine.Boot, Description: "Power nodes on: a boot with no image and no boot override"},
	{Verb: "off", Operation: engine.Shutdown, Description: "Shut nodes down gracefully, then force them off"},
	{Verb: "reboot", Operation: engine.Reboot, Description: "Shut nodes down, then power them on, the boot override left as it is"},
}

// powerVerb is the `bos power` verb that ran session rec, if one did.
func powerVerb(template string, op engine.Operation) (string, bool) {
	if template != PowerTemplateName {
		return "", false
	}
	for _, a := range PowerActions {
		if a.Operation == op {
			return a.Verb, true
		}
	}
	return "", false
}

// PreparePower prepares a session without a template file: req.Limit's
// nodes in one boot set whose boot_method is none, so the operation only
// changes power. It is a session as any other (engine, record, retry,
// resume); only its template is made here instead of read from a file.
func (r *Runner) PreparePower(ctx context.Context, req Request) (*Prepared, error) {
	sel, err := r.Inventory.SelectNodes(req.Limit, true)
	if err != nil {
		return nil, err
	}
	if len(sel.Nodes) == 0 {
		why := cmp.Or(sel.Warning, "its terms leave no node of inventory "+r.Inventory.Path)
		return nil, fmt.Errorf("%w: %q selects no node: %s; 'bos inventory list' shows the nodes and groups", ErrInvalid, req.Limit, why)
	}
	req.Template = &template.Template{
		Name:        PowerTemplateName,
		Description: "made by bos power: power only, no boot image",
		BootSets: map[string]*template.BootSet{"power": {
			Name: "power", BootMethod: template.BootMethodNone, NodeList: sel.Names(),
		}},
	}
	return r.Prepare(ctx, req)
}
