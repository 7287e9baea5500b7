#!/bin/sh
# The reboot an administrator scripts without bos: per node, GracefulShutdown,
# poll PowerState until Off, then On, with Debian's redfishtool, 64 nodes at
# a time. Usage: redfishtool-reboot.sh HOSTS_FILE USER PASSWORD_FILE POLL_SECONDS
# (HOSTS_FILE: one host:port per line). Prints one "host ok|failed" per node.
set -eu
hosts=$1 user=$2 password=$(cat "$3") poll=$4
export user password poll
xargs -P 64 -n 1 sh -c '
	host=$1
	rft() { redfishtool -r "$host" -S Never -u "$user" -p "$password" Systems "$@"; }
	rft reset GracefulShutdown >/dev/null || { echo "$host failed"; exit 0; }
	until rft get 2>/dev/null | grep -q "\"PowerState\": \"Off\""; do sleep "$poll"; done
	rft reset On >/dev/null && echo "$host ok" || echo "$host failed"
' sh <"$hosts"
