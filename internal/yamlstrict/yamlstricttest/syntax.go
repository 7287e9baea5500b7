package yamlstricttest

// SyntaxCase is a file that is not well-formed YAML, or sets a key twice,
// and the problem its error must report.
type SyntaxCase struct {
	Name, YAML string
	// Want is "line:col: message", where line:col is what PyYAML 6.0
	// reports as the problem mark (python3 -c 'import yaml;
	// yaml.safe_load(open(FILE))'); PyYAML keeps a key set twice silently,
	// and line:col is then the second setting's.
	Want string
}

// SyntaxCases are the slips of hand-written YAML that templates,
// inventories and the config file must all report where they are.
var SyntaxCases = []SyntaxCase{
	{
		Name: "unclosed [ on line 5",
		YAML: "name: compute\nenable_cfs: false\nboot_sets:\n  compute:\n    node_list: [a, b\n    type: s3\n    path: x\n",
		Want: "6:9: YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence started at 5:16)",
	},
	{
		Name: "bad indentation on line 7",
		YAML: "name: compute\nenable_cfs: false\nboot_sets:\n  compute:\n    type: s3\n    path: x\n   node_list: [a]\n",
		Want: "7:4: YAML syntax: did not find expected key (while parsing a block mapping started at 4:3)",
	},
	{
		Name: "a tab indents",
		YAML: "name: compute\nboot_sets:\n  compute:\n\ttype: s3\n",
		Want: "4:1: YAML syntax: found character that cannot start any token: a tab; YAML indents with spaces only",
	},
	{
		Name: "unclosed quote",
		YAML: "name: compute\ndescription: \"nodes of row 3\nboot_sets:\n  compute:\n    type: s3\n",
		Want: "6:1: YAML syntax: found unexpected end of stream (while scanning a quoted scalar started at 2:14)",
	},
	{
		Name: "':' missing after a key",
		YAML: "name: compute\nenable_cfs false\nboot_sets:\n  compute:\n    type: s3\n",
		Want: "3:1: YAML syntax: could not find expected ':' (while scanning a simple key started at 2:1)",
	},
	{
		Name: "':' missing, then a nested key",
		YAML: "name: compute\nboot_sets:\n  compute:\n    type s3\n    path: x\n",
		Want: "5:9: YAML syntax: mapping values are not allowed in this context",
	},
	{
		Name: "key set twice",
		YAML: "name: compute\nboot_sets:\n  compute:\n    type: s3\n    type: manifest\n",
		Want: "5:5: boot_sets.compute.type: duplicate field (first set on line 4)",
	},
}
