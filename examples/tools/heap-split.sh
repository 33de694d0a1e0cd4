#!/usr/bin/env bash
# Splits basic-sfu's live heap per idle participant by owner: str0m, sfu-kit, and the
# example server's HTTP (hyper/axum). Runs `sfu-load --scenario idle` against basic-sfu
# under heaptrack and sums heaptrack's peak-consumption stacks by the crates they pass
# through. A client's str0m `Rtc` lives inside sfu-kit's boxed `Client`, so that box is
# split by `size_of` (given as RTC_BYTES and CLIENT_BYTES; see docs/load.md).
#
# Usage: examples/tools/heap-split.sh [PARTICIPANTS]   (needs heaptrack and python3;
# build first: cargo build --release -p examples)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-500}"
rtc_bytes="${RTC_BYTES:-10080}"
client_bytes="${CLIENT_BYTES:-11120}"
bin="$PWD/target/release/basic-sfu"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The wrapper sfu-load starts as its SFU: tokens are minted by the plain binary; the server
# runs under heaptrack, and only its own first line ("open URL") reaches sfu-load.
cat >"$work/sfu.sh" <<EOF
#!/usr/bin/env bash
case " \$* " in *" token "*) exec "$bin" "\$@";; esac
heaptrack -o "$work/heap" "$bin" "\$@" | grep --line-buffered "^open "
EOF
chmod +x "$work/sfu.sh"

# (Its RSS line is the wrapper's, not the server's: read memory from heaptrack below.)
target/release/sfu-load --scenario idle --participants "$n" --sfu-bin "$work/sfu.sh" >/dev/null
# sfu-load ends the wrapper; end the server too, so heaptrack writes its data out.
pkill -INT -f "^$bin --http-port" || true
for _ in $(seq 1 60); do
  pgrep -f "heaptrack_interpret|^$bin --http-port" >/dev/null || break
  sleep 1
done
heaptrack_print "$work/heap.zst" | grep "peak heap memory consumption"
heaptrack_print "$work/heap.zst" --print-flamegraph "$work/peak.txt" \
  --flamegraph-cost-type peak >/dev/null

python3 - "$work/peak.txt" "$n" "$rtc_bytes" "$client_bytes" <<'EOF'
import collections, re, sys

path, n, rtc, client = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
owners = collections.Counter()
for line in open(path):
    stack, _, cost = line.rstrip("\n").rpartition(" ")
    if not cost.isdigit():
        continue
    cost = int(cost)
    if "str0m" in stack:
        owner = "str0m"
    elif re.search(r"hyper|axum|tower", stack):
        owner = "basic-sfu: HTTP (hyper, axum)"
    elif "Registry::insert" in stack:
        # The boxed Client: its Rtc is str0m's, the rest sfu-kit's.
        owners["str0m"] += cost * rtc // client
        owner, cost = "sfu-kit", cost - cost * rtc // client
    elif re.search(r"sfu_(registry|client|udp|ids|bwe|metrics)", stack):
        owner = "sfu-kit"
    else:
        owner = "basic-sfu and runtime (tasks, rooms, the rest)"
    owners[owner] += cost
total = sum(owners.values())
for owner, cost in owners.most_common():
    print(f"{owner:48} {cost / n / 1024:6.1f} KiB per participant ({100 * cost / total:4.1f} %)")
EOF
