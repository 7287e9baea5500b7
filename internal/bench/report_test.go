//go:build bench

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var bmcLine = regexp.MustCompile(`(?m)^\s*bmc: http://(\S+)$`)

// runBaseline reboots baselineNodes with redfishtool and xargs -P 64.
func runBaseline(t *testing.T, bos, work, repo string) *run {
	if _, err := exec.LookPath("redfishtool"); err != nil {
		t.Logf("baseline skipped: redfishtool not installed (apt-get install -y redfishtool)")
		return nil
	}
	limit, _ := openFileLimit()
	if sizes, err := shardSizes(baselineNodes, limit, filesPerBMC(false)); err != nil || len(sizes) > 1 {
		t.Logf("baseline skipped: %d nodes need %d bos sim processes here (%v), and the baseline script takes one password for all", baselineNodes, len(sizes), err)
		return nil
	}
	// redfishtool polls: the fleet needs no event streams.
	e := newEnv(t, bos, work, "baseline", baselineNodes, false)
	defer e.sim.stop()
	inventory, err := os.ReadFile(e.sim.inventory)
	if err != nil {
		t.Fatal(err)
	}
	var hosts strings.Builder
	for _, m := range bmcLine.FindAllSubmatch(inventory, -1) {
		fmt.Fprintf(&hosts, "%s\n", m[1])
	}
	hostsFile := filepath.Join(work, "baseline-hosts")
	if err := os.WriteFile(hostsFile, []byte(hosts.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	poll := strconv.FormatFloat(scaled(5*time.Second).Seconds(), 'f', -1, 64)
	cmd := exec.Command("sh", filepath.Join(repo, "internal/bench/testdata/redfishtool-reboot.sh"),
		hostsFile, "root", e.sim.inventory+".password", poll)
	start := time.Now()
	out, err := cmd.Output()
	r := run{name: fmt.Sprintf("baseline: redfishtool + xargs -P 64, %d nodes", baselineNodes), nodes: baselineNodes, wall: time.Since(start), shards: e.sim.sizes}
	if err != nil {
		t.Fatalf("baseline: %v", err)
	}
	if ok := strings.Count(string(out), " ok\n"); ok != baselineNodes {
		t.Logf("baseline: %d of %d nodes ok", ok, baselineNodes)
		r.exit = 1
	}
	usage := cmd.ProcessState.SysUsage().(*syscall.Rusage) // includes every redfishtool it waited for
	r.cpu = time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	r.maxRSSKB = usage.Maxrss
	r.requests = e.sim.counts(t).requests
	return &r
}

func render(runs, listing, describing []run, baseline *run, profile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Performance\n\nMeasured by `make bench` on %s. Every figure below is from that run;\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "the file is rewritten by each run.\n\n## Reboot\n\n")
	fmt.Fprintf(&b, "`bos sim` runs in processes of its own with default (realistic) timings scaled by %g: graceful shutdown %s, power on %s, boot to OSRunning %s, request latency %s. ",
		timeScale, scaled(gracefulShutdown), scaled(powerOn), scaled(bootToOS), scaled(requestLatency))
	fmt.Fprintf(&b, "The floor is their sum plus %d sequential requests: **%s**. bos polls with BOS_POLL_BASE and BOS_POLL_INTERVAL scaled the same way. CPU and peak RSS are the bos process's own (rusage); requests (event streams included) and SSE events are counted by the simulator; connections and retries are bos's own count (the `bmc traffic:` line at the end of each session.log), one connection per node being the design. The SSE column says whether the simulated BMCs offered Server-Sent Events (`bos sim` does by default; `--fault no-sse=1` turns them off); SSE events/node is how many they wrote to streams bos held open, 0 when bos held none.\n\n",
		criticalRequests, floor().Round(time.Millisecond))
	b.WriteString(simProcessesNote(runs))
	fmt.Fprintf(&b, "| run | nodes | sim processes | SSE | wall | × floor | CPU/node | peak RSS | requests/node | SSE events/node | connections/node | retries | exit |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		b.WriteString(r.row(fmt.Sprintf("%d MB", r.maxRSSKB>>10)))
	}
	if baseline != nil {
		r := *baseline
		b.WriteString(r.row(fmt.Sprintf("%d MB (largest process)", r.maxRSSKB>>10)))
		for _, bos := range runs {
			if bos.nodes == r.nodes {
				fmt.Fprintf(&b, "\nbos is **%.1f×** faster than the baseline at %d nodes (wall time), using %.0f× less CPU. The baseline does less: it does not confirm On or wait for the OS to boot.\n",
					r.wall.Seconds()/bos.wall.Seconds(), r.nodes, r.cpu.Seconds()/bos.cpu.Seconds())
				break
			}
		}
	}
	if profile != "" {
		fmt.Fprintf(&b, "\n## CPU profile\n\n%s", profile)
	}
	fmt.Fprintf(&b, "\n## Session list and describe\n\n| command | wall | CPU | peak RSS |\n|---|---|---|---|\n")
	for _, r := range append(listing, describing...) {
		fmt.Fprintf(&b, "| %s | %s | %s | %d MB |\n", r.name, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond), r.maxRSSKB>>10)
	}
	fmt.Fprintf(&b, "\nList runs over %d sessions (a finished 16-node session cloned under new ids); describe shows the %d-node session.\n",
		listSessions, nodeCounts[len(nodeCounts)-1])
	fmt.Fprintf(&b, "\n## Targets\n\n%s", targets(runs, listing, describing, baseline))
	if hot, err := os.ReadFile(os.Getenv("BENCH_HOTPATHS")); err == nil {
		fmt.Fprintf(&b, "\n## Hot paths (go test -bench)\n\n```\n%s```\n", hot)
	}
	fmt.Fprintf(&b, "\n## Machine\n\n%s", machine())
	fmt.Fprintf(&b, "\n## Reproduce\n\n```sh\nmake bench                      # everything above, about 20 minutes on 2 CPUs\n"+
		"make bench BENCH_SCALE=1        # real-time timings\nBENCH_NODES=1000 BENCH_NOSSE_NODES=1000 BENCH_BASELINE_NODES=0 make bench   # quicker\n"+
		"# BENCH_NOSSE_NODES: fleets rebooted again with no-sse (5000); BENCH_MAX_CONCURRENCY_NODES: fleets from this size\n"+
		"# also rebooted with --max-concurrency NODES (10000); BENCH_SESSIONS: sessions listed (10000)\n```\n\n"+
		"By hand (what the harness runs):\n\n```sh\nulimit -n $(ulimit -Hn)\ngo build -o /tmp/bos .\n"+
		"%s"+
		"BOS_STATE_DIR=/tmp/state BOS_INVENTORY=/tmp/sim/inventory.yaml BOS_POLL_BASE=%g BOS_POLL_INTERVAL=%g \\\n"+
		"  BOS_BOOT_BASE_URL=http://127.0.0.1:8080/boot \\\n"+
		"  /usr/bin/time -v /tmp/bos session create --template templates/compute-reboot.yaml --operation reboot [--max-concurrency 10000]\n"+
		"# baseline: HOSTS lists the BMCs (host:port) of a one-process fleet of %d nodes\n"+
		"sh internal/bench/testdata/redfishtool-reboot.sh HOSTS root /tmp/sim/inventory.yaml.password %g\n```\n",
		simCommands(runs), scaled(time.Second).Seconds(), scaled(5*time.Second).Seconds(), max(baselineNodes, 1000), scaled(5*time.Second).Seconds())
	return b.String()
}

// simCommands starts the largest fleet by hand as the harness did, shards
// and all.
func simCommands(runs []run) string {
	largest := run{nodes: 10000, shards: []int{10000}}
	for i, r := range runs {
		if i == 0 || r.nodes > largest.nodes {
			largest = r
		}
	}
	scale := strconv.FormatFloat(timeScale, 'f', -1, 64)
	var b strings.Builder
	fmt.Fprintf(&b, "# add %s to each bos sim for the runs without SSE\n", strings.Join(noSSE, " "))
	if len(largest.shards) < 2 {
		fmt.Fprintf(&b, "/tmp/bos sim --nodes %d --time-scale %s --write-inventory /tmp/sim/inventory.yaml &\n", largest.nodes, scale)
		return b.String()
	}
	for k, size := range largest.shards {
		prefix := ""
		if p := shardPrefix(k); p != "" {
			prefix = " --name-prefix " + p
		}
		fmt.Fprintf(&b, "/tmp/bos sim --nodes %d%s --time-scale %s --write-inventory /tmp/sim/shard%d.yaml &\n", size, prefix, scale, k)
	}
	fmt.Fprintf(&b, "# /tmp/sim/inventory.yaml: shard0.yaml, then the node entries of the other shards, each given\n"+
		"# password_file: /tmp/sim/shardK.yaml.password (mergeInventories in internal/bench/fleet_test.go)\n")
	return b.String()
}

// row is the run's line in the reboot table.
func (r run) row(rss string) string {
	connections, retries := "–", "–"
	if r.traffic != nil {
		connections = fmt.Sprintf("%.2f", r.perNode(r.traffic.connections))
		retries = strconv.FormatInt(r.traffic.retries, 10)
	}
	sse := "no"
	if r.sse {
		sse = "yes"
	}
	return fmt.Sprintf("| %s | %d | %d | %s | %s | %.2f | %s | %s | %.1f | %.1f | %s | %s | %d |\n", r.name, r.nodes, len(r.shards), sse, r.wall.Round(10*time.Millisecond),
		r.wall.Seconds()/floor().Seconds(), r.cpuPerNode().Round(10*time.Microsecond), rss,
		r.perNode(r.requests), r.perNode(r.sseEvents), connections, retries, r.exit)
}

func (r run) cpuPerNode() time.Duration { return r.cpu / time.Duration(r.nodes) }

// simProcessesNote says which fleets were split over several `bos sim`
// processes, and why.
func simProcessesNote(runs []run) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, r := range runs {
		if len(r.shards) < 2 || seen[fmt.Sprint(r.shards)] {
			continue
		}
		seen[fmt.Sprint(r.shards)] = true
		limit, hard := openFileLimit()
		perBMC, what := filesPerBMC(r.sse), "two open files, its listener and the one connection bos keeps to it"
		if r.sse {
			what = "three open files, its listener, the one connection bos keeps to it and the event stream bos may hold"
		}
		fmt.Fprintf(&b, "The %d-node fleet was served by %d `bos sim` processes (%s BMCs) rather than one. In its simulator every BMC holds %s: "+
			"%d BMCs need %d, plus %d for the process itself, more than the %d one process may open here (ulimit -n; the hard limit is %d). "+
			"Within one process the simulator would close idle connections to stay under the limit and bos would redial them, "+
			"an artifact of running the whole fleet under one process's limit: real BMCs each have their own. "+
			"The shards after the first name their nodes s1n…, s2n… (`bos sim --name-prefix`); bos drives them all as one fleet from one inventory.\n\n",
			r.nodes, len(r.shards), joinInts(r.shards, " + "), what, r.nodes, perBMC*r.nodes, spareFiles, limit, hard)
	}
	if b.Len() == 0 {
		return "Each fleet was served by one `bos sim` process.\n\n"
	}
	return b.String()
}

func joinInts(values []int, separator string) string {
	text := make([]string, len(values))
	for i, v := range values {
		text[i] = strconv.Itoa(v)
	}
	return strings.Join(text, separator)
}

// Targets of issue 18, by fleet size: a reboot at 5,000 nodes is the bar
// (wall, CPU, memory); 10,000 nodes have their own wall and memory bounds.
// Requests per node are bounded at every size, tighter where the BMCs
// offer events.
const (
	wallBarNodes        = 5000
	wallBar             = 1.15
	wallLargeNodes      = 10000
	wallLarge           = 1.3
	cpuBar              = 1200 * time.Microsecond
	rssBarMB            = 120
	rssLargeMB          = 200
	requestsPolling     = 10
	requestsWithEvents  = 6
	baselineSpeedup     = 20
	listDescribeSeconds = 0.3
)

// targets says, per target of issues 18 and 9, whether this run met it.
func targets(runs, listing, describing []run, baseline *run) string {
	var b strings.Builder
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	for _, r := range runs {
		var checks []string
		ratio := r.wall.Seconds() / floor().Seconds()
		switch {
		case r.nodes >= wallLargeNodes:
			checks = append(checks, fmt.Sprintf("wall %.2f× floor (target ≤%g: %s)", ratio, wallLarge, verdict(ratio <= wallLarge)))
		case r.nodes >= wallBarNodes:
			checks = append(checks, fmt.Sprintf("wall %.2f× floor (target ≤%g: %s)", ratio, wallBar, verdict(ratio <= wallBar)))
		}
		if r.nodes >= wallBarNodes {
			perNode := r.cpuPerNode()
			checks = append(checks, fmt.Sprintf("CPU %s/node (target ≤%s: %s)", perNode.Round(10*time.Microsecond), cpuBar, verdict(perNode <= cpuBar)))
		}
		rssMB := r.maxRSSKB >> 10
		switch {
		case r.nodes >= wallLargeNodes:
			checks = append(checks, fmt.Sprintf("peak RSS %d MB (target ≤%d MB: %s)", rssMB, rssLargeMB, verdict(rssMB <= rssLargeMB)))
		case r.nodes >= wallBarNodes:
			checks = append(checks, fmt.Sprintf("peak RSS %d MB (target ≤%d MB: %s)", rssMB, rssBarMB, verdict(rssMB <= rssBarMB)))
		}
		requests := r.perNode(r.requests)
		checks = append(checks, fmt.Sprintf("requests %.1f/node (target ≤%d: %s)", requests, requestsPolling, verdict(requests <= requestsPolling)))
		if r.sse {
			used := ""
			if r.sseEvents == 0 {
				used = ", though bos held no event stream"
			}
			checks = append(checks, fmt.Sprintf("with SSE offered%s, target ≤%d: %s", used, requestsWithEvents, verdict(requests <= requestsWithEvents)))
		}
		fmt.Fprintf(&b, "- %s: %s\n", r.name, strings.Join(checks, "; "))
	}
	if baseline != nil {
		for _, r := range runs {
			if r.nodes == baseline.nodes {
				ratio := baseline.wall.Seconds() / r.wall.Seconds()
				fmt.Fprintf(&b, "- vs baseline: %.1f× faster (target ≥%d×: %s)\n", ratio, baselineSpeedup, verdict(ratio >= baselineSpeedup))
				break
			}
		}
	}
	for _, r := range append(listing, describing...) {
		fmt.Fprintf(&b, "- %s: %s (target ≤%g s: %s)\n", r.name, r.wall.Round(time.Millisecond), listDescribeSeconds, verdict(r.wall.Seconds() <= listDescribeSeconds))
	}
	return b.String()
}
