#!/usr/bin/env bash
# Enforces the determinism rules (docs/determinism.md) in sim/ fs/ oracle/ scenarios/:
# no host clocks, host randomness, std distributions/shuffles, threads, environment or pid,
# unordered containers, pointer-keyed maps or unsorted readdir. A deliberate exception carries
# a 'determinism-ok: why' comment on the same line.
#
# Usage: lint_determinism.sh ROOT      check the tree at ROOT
#        lint_determinism.sh --selftest  show that every rule fires on a planted violation
set -uo pipefail

rules=(
  'std::chrono::[a-z_]*clock::now|system_clock|steady_clock|high_resolution_clock'
  '[^_a-zA-Z]time\((nullptr|NULL|0)?\)|clock_gettime|gettimeofday|[^_a-zA-Z]clock\(\)'
  'std::random_device|[^_a-zA-Z]s?rand\(|random_shuffle|std::shuffle|std::sample'
  '_distribution<|#include <random>'
  'std::thread|std::jthread|std::async|pthread_create|std::execution::'
  '[^_a-zA-Z]getenv\(|[^_a-zA-Z]getpid\(|[^_a-zA-Z]gethostname\('
  'unordered_map|unordered_set|unordered_multimap'
  'std::(multi)?(map|set)<[A-Za-z_:]+ *\*'
  # Host readdir(DIR*) takes one argument; the filesystem's own Vfs::readdir takes four.
  '[^_a-zA-Z.>:]readdir\([^,()]*\)|directory_iterator'
)

scan() {  # scan DIR... -> prints offending lines, returns 1 if any
  local found=0 rule hits
  for rule in "${rules[@]}"; do
    hits=$(grep -rnE "$rule" "$@" --include='*.h' --include='*.hpp' --include='*.cc' --include='*.cpp' 2>/dev/null \
           | grep -v 'determinism-ok' || true)
    if [[ -n "$hits" ]]; then
      echo "banned (rule: $rule):"
      echo "$hits" | sed 's/^/  /'
      found=1
    fi
  done
  return $found
}

if [[ "${1:-}" == "--selftest" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  samples=(
    'auto t = std::chrono::steady_clock::now();'
    'long s = time(nullptr);'
    'int r = rand();'
    'std::uniform_int_distribution<int> d(0, 9);'
    'std::thread t([]{});'
    'const char* h = getenv("HOME");'
    'std::unordered_map<int, int> m;'
    'std::map<Node *, int> by_ptr;'
    'while (auto* e = readdir(d)) {}'
  )
  fails=0
  for i in "${!samples[@]}"; do
    mkdir -p "$tmp/$i"
    printf '%s\n' "${samples[$i]}" > "$tmp/$i/x.cc"
    if scan "$tmp/$i" >/dev/null; then
      echo "rule missed: ${samples[$i]}"
      fails=1
    fi
  done
  printf '%s\n' 'auto t = std::chrono::steady_clock::now();  // determinism-ok: progress display' > "$tmp/ok.cc"
  mkdir -p "$tmp/okdir" && mv "$tmp/ok.cc" "$tmp/okdir/"
  if ! scan "$tmp/okdir" >/dev/null; then
    echo "a determinism-ok exception was not honoured"
    fails=1
  fi
  [[ $fails -eq 0 ]] && echo "selftest: all ${#samples[@]} rules fire"
  exit $fails
fi

root="${1:?usage: lint_determinism.sh ROOT | --selftest}"
dirs=()
for d in sim fs oracle scenarios; do [[ -d "$root/$d" ]] && dirs+=("$root/$d"); done
if scan "${dirs[@]}"; then
  echo "determinism lint: clean (${dirs[*]##*/})"
else
  exit 1
fi
