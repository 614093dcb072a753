#!/bin/bash
# deps.sh: every external program the tests and benchmarks run comes from
# a Debian package that tests/quickstart.sh installs (its PACKAGES) or
# that every Debian system has (Essential, or Priority required), so that
# the README's commands work on a fresh machine.  The programs are found
# two ways in tests/**/*.sh and bench/*.sh:
#   - absolute paths of programs (/bin/busybox, /usr/lib/qemu/virtiofsd);
#   - words in command position: at the start of a line or after | && ||
#     ; ( $( ! and after if/then/do/else/while and the wrappers
#     (timeout N, env, exec, command, as_user NAME, nice), outside
#     double-quoted text and outside single-quoted text other than a
#     `sh -c '...'` script, minus the scripts' own functions, shell
#     keywords and builtins.
# Each is resolved with `command -v` and owned by a package per `dpkg -S`.
# A program that is not there at all, or from no package, fails too: a
# fresh machine would not have it.  Words that look like commands but are
# not (see NOT_COMMANDS) are listed with their reason.  TAP.
set -u

. "$(dirname "$0")/lib/tap.sh"

src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
command -v dpkg > /dev/null 2>&1 || skip_all "not a Debian system (no dpkg)"

# The quickstart's PACKAGES, exactly as it installs them.
eval "$(sed -n '/^PACKAGES="/,/"$/p' "$src/tests/quickstart.sh")"
[ -n "${PACKAGES:-}" ] || { not_ok "PACKAGES found in tests/quickstart.sh"; echo "1..$n"; exit 0; }

# Words in command position that are not programs the tests run:
#   print   awk's, in an awk program in quotes in a bash -c script
#           (tests/guest/serve.sh)
NOT_COMMANDS=" print "
# Programs only a benchmark runs that the quickstart cannot install for
# every machine (reported as skipped, with the reason):
#   npm     bench/run-npm.sh; Debian's npm package conflicts with the
#           NodeSource nodejs that carries npm on machines that have it
BENCH_ONLY=" npm "

scripts=$(find "$src/tests" "$src/bench" -name '*.sh' ! -name deps.sh | sort)
# shellcheck disable=SC2086
functions=$(sed -n 's/^[[:space:]]*\(function[[:space:]]\+\)\?\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*()[[:space:]]*{\{0,1\}.*$/\2/p' $scripts | sort -u)

# The words in command position of one script, one per line.
command_words() {
	awk '
	# q: the quote open at the end of the last line ("", "\"", keep, drop)
	function strip(s,   out, i, c) {
		# drop "..." text, and '...' text unless it follows -c
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (q == "" && c == "\\") { out = out c substr(s, i + 1, 1); i++; continue }
			if (q == "" && c == "#" && (i == 1 || substr(s, i - 1, 1) ~ /[ \t]/)) break
			if (q == "" && c == "\"") { q = "\""; out = out " %Q "; continue }
			if (q == "\"" && c == "\\") { i++; continue }
			if (q == "\"" && c == "\"") { q = ""; continue }
			if (q == "" && c == "\047") {
				q = (out ~ /-c[ \t]*$/) ? "keep" : "drop"
				out = out (q == "keep" ? " ; " : " %Q "); continue
			}
			if ((q == "keep" || q == "drop") && c == "\047") {
				out = out (q == "keep" ? " ; " : " "); q = ""; continue
			}
			if (q == "keep" && c == "\"") { inner = !inner; out = out (inner ? " %Q " : ""); continue }
			if (q == "\"" || q == "drop" || (q == "keep" && inner)) continue
			out = out c
		}
		return out
	}
	# heredoc bodies are data, not this script
	hd != "" { if ($0 ~ "^[ \t]*" hd "$") hd = ""; next }
	# a line ending in a backslash goes on on the next one
	/\\$/ { cont = cont substr($0, 1, length($0) - 1) " "; next }
	{
		line = cont $0
		cont = ""
		if (match(line, /<<-?[ \t]*[\047"]?[A-Za-z_]+/)) {
			hd = substr(line, RSTART, RLENGTH); gsub(/[<\-\047" \t]/, "", hd)
		}
		was = q
		s = strip(line)
		if (was != "" && was != "keep")
			s = " %Q " s     # the line went on inside a quote: not a command
		sub(/^[ \t]*[^() \t]*\)/, "", s)   # a case pattern
		gsub(/\$?\(\([^()]*\)\)/, "%Q", s)   # arithmetic
		gsub(/[A-Za-z_][A-Za-z0-9_]*\+?=\([^()]*\)/, "%Q", s)   # arrays
		gsub(/\|\||&&|[|;&()`!]|\$\(/, "\n", s)
		n = split(s, segs, "\n")
		for (k = 1; k <= n; k++) {
			m = split(segs[k], w, /[ \t]+/)
			for (j = 1; j <= m; j++) {
				if (w[j] == "") continue
				if (w[j] ~ /^(if|then|do|else|elif|while|until|time|exec|command|nice|env|-i|[{}])$/) continue
				if (w[j] == "-u") { j++; continue }   # env -u NAME
				if (w[j] ~ /^[A-Za-z_][A-Za-z0-9_]*=/) continue
				if (w[j] == "timeout") {
					while (j < m && w[j + 1] ~ /^(-[a-z]+|[0-9.]+[smh]?)$/)
						j += w[j + 1] ~ /^-[sk]$/ ? 2 : 1
					continue
				}
				if (w[j] == "as_user") { j++; continue }
				print w[j]
				break
			}
		}
	}' "$1"
}

# Which package owns each program file, from dpkg's file lists (what
# dpkg -S reads, once instead of per program).
declare -A pkg_of
while IFS=: read -r list path; do
	list=${list##*/}
	list=${list%.list}
	pkg_of[$path]=${list%%:*}
done < <(grep -H -E '/(s?bin|lib/[a-z0-9_-]+)/[^/]+$' /var/lib/dpkg/info/*.list 2>/dev/null)

# The package owning a program path (/bin and /usr/bin are one on a
# merged-/usr system, but dpkg knows each file by one of its names).
owner() {
	local p=$1 real alt
	real=$(readlink -f "$p")
	for alt in "$p" "$real" "${p#/usr}" "/usr$p" "${real#/usr}" "/usr$real"; do
		[ -n "${pkg_of[$alt]:-}" ] && { echo "${pkg_of[$alt]}"; return 0; }
	done
	return 1
}

# What installing PACKAGES installs: them and, over the installed
# packages, everything they depend on (build-essential brings gcc and
# make, pkg-config brings pkgconf-bin's pkg-config).
installs=" $(dpkg-query -W -f='${Package}\t${Depends}, ${Pre-Depends}\n' 2>/dev/null | awk -F'\t' -v want="$PACKAGES" '
	{ n = split($2, d, /[,|]/); deps[$1] = ""
	  for (i = 1; i <= n; i++) { sub(/^[ \t]+/, "", d[i]); sub(/[ :(].*/, "", d[i]); if (d[i] != "") deps[$1] = deps[$1] " " d[i] } }
	END {
		n = split(want, todo, /[ \t\n]+/)
		for (i = 1; i <= n; i++) if (todo[i] != "") { q[++t] = todo[i]; got[todo[i]] = 1 }
		for (h = 1; h <= t; h++) {
			m = split(deps[q[h]], d, " ")
			for (i = 1; i <= m; i++) if (!(d[i] in got)) { got[d[i]] = 1; q[++t] = d[i] }
		}
		for (p in got) printf "%s ", p
	}') "

# ok when the package is in PACKAGES or on every Debian system.
judge() {
	local what=$1 pkg=$2 why
	case "$installs" in
	*" $pkg "*) ok "$what: $pkg (installed by the quickstart)"; return ;;
	esac
	why=$(dpkg-query -W -f='${Essential} ${Priority}' "$pkg" 2>/dev/null)
	case "$why" in
	yes*) ok "$what: $pkg (Essential)" ;;
	*required) ok "$what: $pkg (Priority: required)" ;;
	*) not_ok "$what: $pkg is neither in tests/quickstart.sh's PACKAGES nor on every Debian system ($why)" ;;
	esac
}

# The system's own program NAME (/usr/bin, /bin, /usr/sbin, /sbin).
system_copy() {
	local d

	for d in /usr/bin /bin /usr/sbin /sbin; do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	return 1
}

declare -A seen
# 1. absolute paths of programs
# shellcheck disable=SC2086
for p in $(grep -ohE '(^|[ "=(])/(usr/)?(s?bin|lib/[a-z0-9_-]+)/[A-Za-z0-9._+-]+' $scripts |
		grep -oE '/.*' | sort -u); do
	case "$p" in */lib/*.so*|*/lib/modules*) continue ;; esac
	seen[$p]=1
	if [ ! -e "$p" ]; then
		not_ok "$p: not on this machine (which package installs it?)"
	elif pkg=$(owner "$p"); then
		judge "$p" "$pkg"
	else
		not_ok "$p: from no Debian package"
	fi
done

# 2. words in command position
for s in $scripts; do command_words "$s"; done | sort -u > "${TMPDIR:-/tmp}/fsb-deps.$$"
while read -r w; do
	case "$w" in
	*[!A-Za-z0-9._+-]*|[!A-Za-z]*|*[+-]) continue ;;   # variables, paths, options
	esac
	case "$NOT_COMMANDS" in *" $w "*) continue ;; esac
	case "$BENCH_ONLY" in *" $w "*) ok "$w # SKIP a benchmark's, installed by hand (see tests/deps.sh)"; continue ;; esac
	grep -qx -- "$w" <<< "$functions" && continue
	case "$(type -t -- "$w" 2>/dev/null)" in builtin|keyword) continue ;; esac
	p=$(command -v -- "$w" 2>/dev/null)
	if [ -z "$p" ]; then
		not_ok "$w: run by a test, not on this machine (which package installs it?)"
	elif [ -n "${seen[$p]:-}" ]; then
		continue
	elif pkg=$(owner "$p"); then
		judge "$w" "$pkg"
	elif sys=$(system_copy "$w") && pkg=$(owner "$sys"); then
		# a PATH of one's own (pyenv, ~/.cargo/bin) comes first here; a
		# fresh machine runs the system's, which must be installed
		judge "$w ($p first on this PATH; $sys)" "$pkg"
	else
		not_ok "$w ($p): from no Debian package"
	fi
done < "${TMPDIR:-/tmp}/fsb-deps.$$"
rm -f "${TMPDIR:-/tmp}/fsb-deps.$$"

echo "1..$n"
