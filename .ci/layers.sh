#!/usr/bin/env bash
# The layers' import rule (DESIGN.md, "Layers"): nothing under the kernel
# layer (overlapped/src/sys/: the backends and kernel helpers) names a layer
# above it. Fails, listing each offending place, if a file under sys/ names
# any `crate::` path other than `crate::sys::...` and `crate::semantics`
# (the facts, in doc links) — `crate::winsock`, `crate::model`, a crate-root
# re-export (`crate::Socket`, `crate::{..}`, `crate::set_batching`) — or
# climbs out of sys/ with `super::`. Doc comments count too. And the
# io_uring crate is named only under sys/uring/. (`unsafe` outside sys/ is
# refused by the compiler: `#![forbid(unsafe_code)]` in winsock/ and model/.)
# The same rule one layer up: nothing under the model (overlapped/src/model/)
# names the surface — only `crate::model`, `crate::sys`, `crate::semantics`.
# Spaces around `::` (`crate :: winsock`, `super ::super::`) count too; a path split
# over lines does not (rustfmt joins it; CI runs `cargo fmt --check`).
# `.ci/layers.sh --self-test` checks the patterns on offending lines in a scratch tree.
set -euo pipefail
cd "$(dirname "$0")/.."
src=overlapped/src

# Each `crate::NAME` (or `crate::{`) under $1 whose NAME is not one of the
# allowed layers ($2, a regex alternation); shown as `crate::NAME`.
names() {
  grep -rnoE --include='*.rs' 'crate[[:space:]]*::[[:space:]]*(\{|[A-Za-z_][A-Za-z0-9_]*)' "$1" \
    | sed -E 's/crate[[:space:]]*::[[:space:]]*/crate::/' \
    | grep -vE ":crate::($2)\$" || true
}

# `super::` chains that climb out of $1: a file's module sits at depth d
# below it ($1/x.rs and $1/x/mod.rs: 1; $1/x/y.rs: 2); d + 1 supers (d for
# $1/mod.rs itself, which is depth 0) leave the layer.
escapes() {
  local f rel slashes depth pat hits
  while IFS= read -r f; do
    rel=${f#"$1/"}
    slashes=${rel//[^\/]/}
    depth=$(( ${#slashes} + 1 ))
    case $rel in mod.rs) depth=0 ;; */mod.rs) depth=$((depth - 1)) ;; esac
    pat=$(printf 'super[[:space:]]*::[[:space:]]*%.0s' $(seq $((depth + 1))))
    hits=$(grep -nE "$pat" "$f" || true)
    if [ -n "$hits" ]; then printf "%s: %s\n" "$f" "$hits"; fi
  done < <(find "$1" -name '*.rs')
}

if [ "${1:-}" = --self-test ]; then
  t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
  mkdir -p "$t/sys/epoll"
  fails=0
  for line in 'use crate::winsock;' 'use crate :: winsock;' 'use crate ::winsock;' 'use crate::	model::op;' \
      'use crate::{sys, winsock};' 'use crate :: { sys };' 'use crate::Socket;' \
      'use super::super::super::model::op;' 'use super :: super ::super:: model;'; do
    printf '%s\n' "$line" > "$t/sys/epoll/core.rs"
    if [ -z "$(names "$t/sys" 'sys|semantics')$(escapes "$t/sys")" ]; then
      echo "layers self-test: not caught: $line" >&2; fails=1
    fi
  done
  for line in 'use crate::sys::op;' 'use crate :: sys :: op;' 'use super::super::driver;' '/// [fact 3](crate::semantics)'; do
    printf '%s\n' "$line" > "$t/sys/epoll/core.rs"
    if [ -n "$(names "$t/sys" 'sys|semantics')$(escapes "$t/sys")" ]; then
      echo "layers self-test: refused, but allowed: $line" >&2; fails=1
    fi
  done
  [ $fails = 0 ] && echo "layers self-test: ok"
  exit $fails
fi

[ -d "$src/sys" ] || { echo "layers: $src/sys not found" >&2; exit 1; }
bad=$(names "$src/sys" 'sys|semantics')
escape=$(escapes "$src/sys")

# The io_uring crate belongs to its backend: nothing outside sys/uring/ names it.
uring=$(grep -rnE --include='*.rs' '\bio_uring::' "$src" | grep -v "^$src/sys/uring/" || true)
if [ -n "$uring" ]; then
  echo "layers: only $src/sys/uring names the io_uring crate:" >&2
  echo "$uring" >&2
  exit 1
fi

if [ -n "$bad$escape" ]; then
  echo "layers: files under $src/sys name a layer above it (only crate::sys and crate::semantics are allowed):" >&2
  [ -n "$bad" ] && echo "$bad" >&2
  [ -n "$escape" ] && echo "$escape" >&2
  exit 1
fi
echo "layers: $src/sys ($(find "$src/sys" -name '*.rs' | wc -l) files) names no layer above it"

# The model (overlapped/src/model/) names only itself, the kernel layer and
# the facts: not `crate::winsock`, nor a crate-root item (`crate::Socket`,
# `crate::{..}`, `crate::startup`: the root re-exports the surface).
mbad=$(names "$src/model" 'model|sys|semantics')
mescape=$(escapes "$src/model")
if [ -n "$mbad$mescape" ]; then
  echo "layers: files under $src/model name the surface above it (only crate::model, crate::sys and crate::semantics are allowed):" >&2
  [ -n "$mbad" ] && echo "$mbad" >&2
  [ -n "$mescape" ] && echo "$mescape" >&2
  exit 1
fi
echo "layers: $src/model ($(find "$src/model" -name '*.rs' | wc -l) files) names no layer above it"
