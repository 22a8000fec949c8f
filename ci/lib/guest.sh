# shellcheck shell=bash
# ci/lib/guest.sh: one qemu guest: boot it (kernel, initramfs, a scratch
# disk and a results disk, the serial console to a log) under a timeout,
# then collect what it left: the console markers (ISOCHECK-BEGIN, -EXIT,
# -TIMEOUT, -TAR ...) and the raw tar of the results disk. Sourced after
# ci/lib/common.sh.
#
# Reads MACHINE, ACCEL, CPU, SMP, MEMORY, TIMEOUT, DISK_SIZE and LOGS.

# The guest's uptime (seconds) printed with a console marker.
marker_time() {
	case "$2" in
	EXIT) sed -n 's/.*ISOCHECK-EXIT [0-9]* \([0-9.]*\).*/\1/p' "$1" | tail -n1 ;;
	*) sed -n "s/.*ISOCHECK-$2 \([0-9.]*\).*/\1/p" "$1" | tail -n1 ;;
	esac
}

# The last console marker the guest printed, or why there is none.
last_marker() { grep -a -o 'ISOCHECK-[A-Z]*' "$1" | tail -n1 | grep . || echo "no marker: the kernel did not reach /init"; }

# Unpacks the raw tar of the results disk into $dir/out; guest logs go to
# $LOGS/<leg>.guest/.
extract_tar() {
	local leg=$1 dir=$2
	mkdir -p "$dir/out"
	tar -xf "$dir/results.img" -C "$dir/out" --no-same-owner 2>"$dir/tar.err" || return 1
	[[ -d $dir/out/results ]] || return 1
	[[ -d $dir/out/meta ]] && cp -r "$dir/out/meta" "$LOGS/$leg.guest"
	return 0
}

# Boots a guest in work dir $1: kernel $2, initramfs $3, serial console to
# log $4, kernel command line $5; a blank scratch disk and the results disk
# (both DISK_SIZE) as virtio-blk, qemu's pid in $1/qemu.pid (the cleanup
# kills it), its output in $1/qemu.out, under TIMEOUT. Sets BOOT_RC (qemu's
# exit status, 124 or 137 on the timeout) and BOOT_SECS (wall seconds).
boot_guest() {
	local dir=$1 kernel=$2 initrd=$3 log=$4 cmdline=$5 t0 t1
	truncate -s "$DISK_SIZE" "$dir/scratch.img" "$dir/results.img"
	BOOT_RC=0
	t0=$(now_ns)
	timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 \
		-machine "$MACHINE,accel=$ACCEL" -cpu "$CPU" -smp "$SMP" -m "$MEMORY" \
		-nodefaults -no-user-config -display none -vga none -monitor none \
		-serial "file:$log" -no-reboot -pidfile "$dir/qemu.pid" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "$cmdline" \
		-drive "if=none,id=scratch,format=raw,file=$dir/scratch.img" -device virtio-blk-pci,drive=scratch \
		-drive "if=none,id=results,format=raw,file=$dir/results.img" -device virtio-blk-pci,drive=results \
		>"$dir/qemu.out" 2>&1 || BOOT_RC=$?
	t1=$(now_ns)
	BOOT_SECS=$(elapsed "$t0" "$t1")
}

# What the guest of leg $1 (work dir $2, console log $3) left after
# boot_guest: notes the timing in $2/qemu.out, then returns 0 with
# GUEST_CODE (the payload's exit status), GUEST_TIMING and the results
# unpacked in $2/out/results; or records the leg INFRA (leg_status) and
# returns 1: qemu timed out or failed, the guest panicked or never said
# ISOCHECK-EXIT, the payload hit the guest's timeout, no results tar.
collect_guest() {
	local leg=$1 dir=$2 log=$3 boot exit_t code
	boot=$(marker_time "$log" BEGIN)
	exit_t=$(marker_time "$log" EXIT)
	# shellcheck disable=SC2034 # read by run_guest_leg
	GUEST_TIMING="boot ${boot:-?}s, to exit ${exit_t:-?}s, qemu ${BOOT_SECS}s"
	echo "qemu exit $BOOT_RC; wall ${BOOT_SECS}s; guest uptime at BEGIN ${boot:-?} EXIT ${exit_t:-?}" >>"$dir/qemu.out"
	cp "$dir/qemu.out" "$LOGS/$leg.qemu.log"

	if ((BOOT_RC == 124 || BOOT_RC == 137)); then
		leg_status "$leg" INFRA - "guest timed out after ${TIMEOUT}s ($(last_marker "$log")); log $log"
		return 1
	fi
	if ((BOOT_RC != 0)); then
		leg_status "$leg" INFRA - "qemu exited $BOOT_RC: $(head -c 300 "$dir/qemu.out" | tr '\n' ' '); log $log"
		return 1
	fi
	code=$(sed -n 's/.*ISOCHECK-EXIT \([0-9][0-9]*\).*/\1/p' "$log" | tail -n1)
	if [[ -z $code ]]; then
		if grep -q 'Kernel panic' "$log"; then
			leg_status "$leg" INFRA - "guest panicked before ISOCHECK-EXIT: $(grep -m1 -o 'Kernel panic.*' "$log" | tr -d '\r' | head -c 160); log $log"
		else
			leg_status "$leg" INFRA - "no ISOCHECK-EXIT marker ($(last_marker "$log")); log $log"
		fi
		return 1
	fi
	if grep -q 'ISOCHECK-TIMEOUT' "$log"; then
		leg_status "$leg" INFRA - "the payload hit the guest timeout ($(sed -n 's/.*ISOCHECK-TIMEOUT \([0-9]*\).*/\1/p' "$log" | tail -n1)s) and was killed; log $log"
		extract_tar "$leg" "$dir" || true
		return 1
	fi
	if ! extract_tar "$leg" "$dir"; then
		leg_status "$leg" INFRA "$code" "no results tar on the second disk ($(grep -a -o 'ISOCHECK-TAR.*' "$log" | tr -d '\r' | tail -n1)); log $log"
		return 1
	fi
	# shellcheck disable=SC2034 # read by run_guest_leg
	GUEST_CODE=$code
}
