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
# Also reports (without failing) how many model files still name the
# surface: the model → surface direction is not clean yet (DESIGN.md).
set -euo pipefail
cd "$(dirname "$0")/.."
src=overlapped/src
[ -d "$src/sys" ] || { echo "layers: $src/sys not found" >&2; exit 1; }

# Each `crate::NAME` (or `crate::{`) under sys/ whose NAME is not allowed.
bad=$(grep -rnoE --include='*.rs' 'crate::(\{|[A-Za-z_][A-Za-z0-9_]*)' "$src/sys" \
  | grep -vE ':crate::(sys|semantics)$' || true)

# `super::` chains that reach the crate root: a file's module sits at depth
# d below sys/ (sys/x.rs and sys/x/mod.rs: 1; sys/x/y.rs: 2); d + 1 supers
# (d for sys/mod.rs itself, which is depth 0) leave sys/.
escape=""
while IFS= read -r f; do
  rel=${f#"$src/sys/"}
  slashes=${rel//[^\/]/}
  depth=$(( ${#slashes} + 1 ))
  case $rel in mod.rs) depth=0 ;; */mod.rs) depth=$((depth - 1)) ;; esac
  pat=$(printf 'super::%.0s' $(seq $((depth + 1))))
  hits=$(grep -nF "$pat" "$f" || true)
  [ -n "$hits" ] && escape+="$f: $hits"$'\n'
done < <(find "$src/sys" -name '*.rs')

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
  [ -n "$escape" ] && printf '%s' "$escape" >&2
  exit 1
fi
echo "layers: $src/sys ($(find "$src/sys" -name '*.rs' | wc -l) files) names no layer above it"
# The surface: `crate::winsock::…` and the crate root's re-exports of it
# (`crate::WsaError`, `crate::{Event, ..}`).
up=$(grep -rlE --include='*.rs' 'crate::(winsock\b|[A-Z{])' "$src/model" | wc -l)
echo "layers (information, not enforced): $up of $(find "$src/model" -name '*.rs' | wc -l) model files name the surface (crate::winsock or a crate-root type)"
