#!/usr/bin/env bash
# Installs what building and testing Appliance needs on Debian: the native toolchain Native AOT links with,
# and the real BitTorrent programs the interop tests run against. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  clang zlib1g-dev make          # Native AOT links with clang; zlib for the runtime
  python3 python3-libtorrent     # libtorrent 2.0 peers (seeding, DHT, prometheus interop) and the comparison seeder
  mktorrent transmission-cli     # .torrent makers to cross-check metainfo and `appliance create`
  transmission-daemon            # transmission peer for the tracker interop test
  aria2                          # aria2c downloads through the embedded tracker and opentracker
  opentracker                    # a real tracker for the announcer
  prometheus                     # real scrape test; promtool checks the rules and config
  iperf3                         # the loopback ceiling in the load comparison
  iproute2 procps psmisc curl    # network namespaces for transmission; ps/kill and HTTP probes in scripts
)

# `install-deps.sh fuzz` adds afl++ for `make fuzz`; `make test` does not need it.
if [ "${1:-}" = "fuzz" ]; then packages+=(afl++); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts these as services on install; the tests run their own instances.
for service in prometheus opentracker transmission-daemon; do
  $sudo service "$service" stop >/dev/null 2>&1 || true
done
echo "install-deps: done"
