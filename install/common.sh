# common.sh — sourced by Lowbit's scripts: logging, the JDK, the machine's torch.

LOWBIT_ROOT="${LOWBIT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

say() { printf 'lowbit: %s\n' "$*" >&2; }
die() { printf 'lowbit: error: %s\n' "$*" >&2; exit 1; }

# The major version of the java in folder $1, or nothing.
java_major() {
  [ -x "$1/bin/java" ] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
}

# Sets JAVA_HOME to a JDK >= 22 (Lowbit needs java.lang.foreign; it is built for 25).
find_jdk() {
  local candidates=() c v
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for c in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25* /usr/lib/jvm/*; do [ -d "$c" ] && candidates+=("$c"); done
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for c in "${candidates[@]}"; do
    v=$(java_major "$c")
    if [ -n "$v" ] && [ "$v" -ge 25 ] && [ -x "$c/bin/javac" ] && [ -x "$c/bin/jlink" ]; then
      export JAVA_HOME="$c"
      return 0
    fi
  done
  die "no JDK 25 found (looked at JAVA_HOME and /usr/lib/jvm). Install one, e.g. Eclipse Temurin 25 \
(https://adoptium.net), and set JAVA_HOME to it."
}

# Asks the python that has a pip-installed PyTorch one question (torch imported); prints nothing without one.
torch_ask() {
  local py
  for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" -c "import os, torch; print($1)" 2>/dev/null && return 0
  done
  return 0
}

# The CMake prefix of a pip-installed PyTorch ($LOWBIT_TORCH_PREFIX overrides), or nothing.
torch_prefix() {
  if [ -n "${LOWBIT_TORCH_PREFIX:-}" ]; then echo "$LOWBIT_TORCH_PREFIX"; return 0; fi
  torch_ask 'torch.utils.cmake_prefix_path'
}

# The lib folder of a pip-installed PyTorch, or nothing.
torch_lib_dir() {
  torch_ask 'os.path.join(os.path.dirname(torch.__file__), "lib")'
}
