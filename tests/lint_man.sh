#!/usr/bin/env bash
# Lints rendered manual pages: groff with every warning on, and mandoc's
# checker at error level (its style notes on scdoc's empty paragraphs are
# not errors). Any message fails. Usage: lint_man.sh PAGE...
set -uo pipefail
failed=0
for page in "$@"; do
  messages=$(groff -ww -man -z "$page" 2>&1; mandoc -T lint -W error "$page" 2>&1)
  if [[ -n $messages ]]; then
    echo "$page:"
    echo "$messages"
    failed=1
  else
    echo "ok $page"
  fi
done
exit $failed
