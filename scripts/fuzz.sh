#!/usr/bin/env bash
# scripts/fuzz.sh — make fuzz: every fuzzer of the module, one after another,
# each for FUZZTIME. go test -fuzz runs one fuzzer per package per
# invocation, so we list them (go test -list) and loop: a new func FuzzX is
# picked up without touching this file. New crashers land in the package's
# testdata/fuzz/FuzzX/ (commit them with the fix); the loop goes on and the
# script fails at the end if any fuzzer failed.
#
# Environment: GO (go), FUZZTIME (30s), FUZZ (regexp of fuzzer names, all
# by default), FUZZPARALLEL (workers per fuzzer, go test's default: GOMAXPROCS).
# -short keeps cmd/quern's TestMain from building the binary in every worker.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZ=${FUZZ:-.}
par=()
[[ -n ${FUZZPARALLEL:-} ]] && par=(-parallel "$FUZZPARALLEL")

targets=$("$GO" test -short -list '^Fuzz' ./... |
	awk '/^Fuzz/ { f[n++] = $1 } /^ok/ { for (i = 0; i < n; i++) print $2, f[i]; n = 0 }')
failed=()
while read -r pkg name; do
	[[ -z $pkg ]] && continue
	[[ $name =~ $FUZZ ]] || continue
	echo "== $name ($pkg, $FUZZTIME)"
	if ! "$GO" test -short -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "${par[@]}" "$pkg"; then
		failed+=("$pkg $name")
	fi
done <<<"$targets"
if ((${#failed[@]})); then
	printf 'fuzzer failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "all fuzzers ran $FUZZTIME without a failure"
