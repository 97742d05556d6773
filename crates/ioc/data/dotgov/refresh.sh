#!/usr/bin/env bash
# Refreshes the embedded copy of CISA's .gov registry (current-full.csv) from its public source,
# the cisagov/dotgov-data repository (CC0 1.0). Rebuild the crate afterwards: the file is embedded
# with include_str!, so a new copy takes effect at the next build.
#
# The file is parsed by header name (case-insensitively), so upstream column renames that keep
# the known names (see src/gov.rs) need no code change. The script refuses a download that does
# not look like the registry, so a captive portal or an error page never replaces good data.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
url="${DOTGOV_URL:-https://raw.githubusercontent.com/cisagov/dotgov-data/main/current-full.csv}"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
curl --fail --silent --show-error --location --max-time 120 "$url" -o "$tmp"
header="$(head -n 1 "$tmp" | tr -d '\r' | tr 'A-Z' 'a-z')"
case "$header" in
  "domain name,domain type,"*) ;;
  *) echo "refresh.sh: unexpected header from $url: $header" >&2; exit 1 ;;
esac
rows="$(wc -l < "$tmp")"
if [ "$rows" -lt 10000 ]; then
  echo "refresh.sh: only $rows lines from $url; refusing to replace the registry" >&2
  exit 1
fi
mv "$tmp" "$here/current-full.csv"
trap - EXIT
echo "refresh.sh: $rows lines; sha256 $(sha256sum "$here/current-full.csv" | cut -d' ' -f1)"
echo "Update SOURCE.md (date, commit, checksum) and run: cargo test -p streamer-ioc"
