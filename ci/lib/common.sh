# shellcheck shell=bash
# ci/lib/common.sh: what the kernel matrix scripts share: the repository's
# paths, messages (and the progress line's switch), and the small steps each of them needs (is this file an
# ELF file, decompress a file by its suffix, seconds between two clocks).
# Sourced; sets CI_DIR and REPO. Messages start with "$PROG: " (the
# sourcing script sets PROG first).

CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # read by the sourcing scripts
REPO=$(cd "$CI_DIR/.." && pwd)
PROG=${PROG:-ci}

# 1 while `run` draws its live progress line on stderr (ci/lib/legs.sh):
# every message then clears that line first, so the two do not mix.
PROGRESS_LIVE=0
clear_progress() { if ((PROGRESS_LIVE)); then printf '\r\033[K' >&2; fi; }

# A usage error: the message, exit 2.
die() { clear_progress; echo "$PROG: $*" >&2; exit 2; }
say() { clear_progress; echo "$PROG: $*" >&2; }

# True when file $1 starts with the ELF magic.
is_elf() { [[ $(head -c4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

# Writes file $1 to stdout, decompressed by its suffix (.xz, .zst, .gz;
# anything else as it is): kernel modules come compressed in some kernels.
decompress() {
	case "$1" in
	*.xz) xz -dc "$1" ;; *.zst) zstd -qdc "$1" ;; *.gz) gzip -dc "$1" ;; *) cat "$1" ;;
	esac
}

# Nanoseconds now, for elapsed.
now_ns() { date +%s%N; }

# The seconds from nanosecond clock $1 to $2, with one decimal: 3.7.
elapsed() {
	local d=$(($2 - $1))
	printf '%d.%01d' $((d / 1000000000)) $(((d / 100000000) % 10))
}
