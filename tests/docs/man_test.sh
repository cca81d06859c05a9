#!/usr/bin/env bash
# The man pages render without a groff warning, and say what the programs
# accept: every subcommand of `vigil --help` and every option of both
# programs' --help appears in its page.
# Usage: man_test.sh VIGILD_8 VIGIL_1 VIGILD VIGIL
set -uo pipefail
vigild_8=$1 vigil_1=$2 vigild=$3 vigil=$4
failed=0
fail() { echo "FAIL: $*"; failed=1; }

for page in "$vigild_8" "$vigil_1"; do
  warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  [ -z "$warnings" ] || fail "$page: groff warns: $warnings"
done

# Options as --help prints them ("  -c,--config TEXT  ..."): each long name
# must be in the page, written as roff writes a dash (\-\-name).
options_of() { "$1" --help | sed -n 's/^ *\(-[a-zA-Z],\)\{0,1\}--\([a-z-]*\).*/\2/p' | grep -v '^help$'; }
for opt in $(options_of "$vigild"); do
  grep -q -- "\\\\-\\\\-${opt//-/\\\\-}" "$vigild_8" || fail "vigild.8 does not document --$opt"
done
for opt in $(options_of "$vigil"); do
  grep -q -- "\\\\-\\\\-${opt//-/\\\\-}" "$vigil_1" || fail "vigil.1 does not document --$opt"
done

# Subcommands: the lines under "Subcommands:" in vigil --help.
subcommands=$("$vigil" --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$subcommands" ] || fail "vigil --help lists no subcommand"
for cmd in $subcommands; do
  grep -q "^\.B vigil $cmd\b" "$vigil_1" || fail "vigil.1's synopsis does not show 'vigil $cmd'"
  grep -q "^\.B $cmd\b" "$vigil_1" || fail "vigil.1's COMMANDS do not describe '$cmd'"
done

[ $failed -eq 0 ] && echo "man pages: ok ($(echo $subcommands | wc -w) subcommands)"
exit $failed
