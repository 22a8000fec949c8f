# shellcheck shell=bash
# ci/lib/payload.sh: the guests' payload: the static isocheck build (a
# guest has no dynamic loader and no NSS) and the check that refuses a
# dynamically linked binary before any guest boots. Sourced after
# ci/lib/common.sh.

# Builds the static release isocheck into CARGO_TARGET_DIR $1 with the
# cargo features $2 (may be empty); cargo's output goes to stdout and
# stderr. Sets STATIC_BIN to the binary's path.
build_static() {
	local target=$1 features=$2
	(cd "$REPO" && RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR=$target \
		cargo build --release ${features:+--features "$features"} --target x86_64-unknown-linux-gnu) || return 1
	# shellcheck disable=SC2034 # read by the caller
	STATIC_BIN=$target/x86_64-unknown-linux-gnu/release/isocheck
}

# A guest has no dynamic loader: refuses (returns 1, says why) an ELF file
# $1 that asks for a program interpreter. A script passes.
check_static() {
	is_elf "$1" || return 0
	if LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		say "$1 is dynamically linked; guests need a static binary" \
			"(RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu)"
		return 1
	fi
}
