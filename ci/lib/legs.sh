# shellcheck shell=bash disable=SC2015 # `A && B || die` is a guard
# ci/lib/legs.sh: the leg table and running legs. A leg is one kernel line
# and cgroup layout (`6.12-v1`), optionally with a variant that takes a
# feature away (`6.12-v2-nouserns`), or `host`. Here: the default legs,
# what each name means for the guest (leg_params), `list`, the host leg,
# one guest leg end to end (initramfs, boot, collect, status), and `run`
# (fetch, then at most JOBS legs at once, a summary line as each ends; on
# a terminal a live progress line too).
# Sourced after every other ci/lib piece.
#
# Reads the options of ci/kernel-matrix (BINARY, GUEST_CMD, JOBS, TIMEOUT,
# CONTROLLERS, APPEND, USE_VMLINUX, STRIP, LOGS, UPDATE_REFS) and TMP.

# The legs `run` runs without leg names: every kernel line of
# ci/kernels.lock from the oldest to the newest, on cgroup v2 and on the
# v1/hybrid layout, then the policy variants on the oldest line (5.10) and
# the newest (sid, the line that moves first). `run all` runs `host` first,
# then these. Only 5.10-v1 and 6.1-v1 have a v1 memory controller: Debian's
# 6.12 and 7.x are built without CONFIG_MEMCG_V1 (memory stays on cgroup2).
LINES=(5.10 6.1 6.12 backports sid)
DEFAULT_LEGS=()
for _line in "${LINES[@]}"; do DEFAULT_LEGS+=("$_line-v2" "$_line-v1"); done
for _line in "${LINES[0]}" "${LINES[-1]}"; do DEFAULT_LEGS+=("$_line-v2-nouserns" "$_line-v2-nomemcg"); done
unset _line
# A guest leg is <lock id>-<v1|v2>[-<variant>]; a variant changes the guest
# so that requirements go unmet on purpose and must become typed skips:
#   nouserns  user.max_user_namespaces=0 on the kernel command line
#   nomemcg   the memory controller is not enabled for isocheck's cgroup
LEG_RE='^(.+)-(v1|v2)(-(nouserns|nomemcg))?$'
# What each variant takes away, as the skip reason kinds its cases may get:
# a case that passes on the base leg (<lock id>-<v1|v2>) may skip on the
# variant leg only for one of these. Any other case that ran there and
# skips here is lost coverage and fails the leg, as it does against the
# leg's own reference (`isocheck diff --allow-skip KIND`).
# shellcheck disable=SC2034 # read by against_references (ci/lib/report.sh)
declare -A VARIANT_SKIPS=(
	[nouserns]="sysctl-policy"
	[nomemcg]="not-delegated"
)

# Sets LEG_KERNEL (lock id), LEG_LAYOUT (v1, v2), LEG_VARIANT (or empty),
# LEG_LABEL (the layout label: v2-nouserns), LEG_CONTROLLERS and LEG_APPEND
# (the guest's cgroup controllers and extra kernel arguments) for guest
# leg $1; returns 1 when $1 is no guest leg name.
leg_params() {
	[[ $1 =~ $LEG_RE ]] || return 1
	LEG_KERNEL=${BASH_REMATCH[1]} LEG_LAYOUT=${BASH_REMATCH[2]} LEG_VARIANT=${BASH_REMATCH[4]}
	# shellcheck disable=SC2034 # read by leg_initrd (ci/lib/initramfs.sh)
	LEG_LABEL=$LEG_LAYOUT${LEG_VARIANT:+-$LEG_VARIANT}
	LEG_CONTROLLERS=${CONTROLLERS:-} LEG_APPEND=${APPEND:-}
	case "$LEG_VARIANT" in
	nouserns) LEG_APPEND="${LEG_APPEND:+$LEG_APPEND }sysctl.user.max_user_namespaces=0" ;;
	nomemcg) LEG_CONTROLLERS=$(tr ' ' '\n' <<<"$LEG_CONTROLLERS" | grep -vx memory | tr '\n' ' ') LEG_CONTROLLERS=${LEG_CONTROLLERS% } ;;
	esac
}

# The variant of a leg name (nouserns, nomemcg), or nothing.
leg_variant() {
	if [[ $1 =~ $LEG_RE ]]; then
		printf '%s' "${BASH_REMATCH[4]}"
	fi
}

# ------------------------------------------------------------------- list
cmd_list() {
	local id leg kid st what sha
	echo "legs ('run' runs the ${#DEFAULT_LEGS[@]} guest legs; 'run all' runs host first, then them):"
	printf '  %-18s %s\n' "host-$(host_layout)" "this host's kernel ($(uname -r)), isocheck run directly ('run host')"
	for leg in "${DEFAULT_LEGS[@]}"; do
		leg_params "$leg" || continue
		id=$LEG_KERNEL
		case "$LEG_LAYOUT" in
		v2) what='cgroup v2 (unified)' ;;
		*) what='cgroup v1 (hybrid: v1 controllers, cgroup2 at unified/)' ;;
		esac
		case "$LEG_VARIANT" in
		nouserns) what+='; user.max_user_namespaces=0' ;;
		nomemcg) what+='; memory not enabled' ;;
		esac
		printf '  %-18s %s %s, %s\n' "$leg" "${LOCK_SUITE[$id]:-(no lock entry)}" "$(use_head "$id" 2>/dev/null)" "$what"
	done
	echo "any <lock id>-<v1|v2>[-nouserns|-nomemcg] is a leg too."
	echo "lock entries ($LOCK):"
	for kid in "${LOCK_IDS[@]}"; do
		st=cached
		for sha in ${LOCK_SHAS[$kid]}; do [[ -f $(deb_file "$sha") ]] || st="not fetched"; done
		printf '  %-9s %-17s %-44s %s\n' "$kid" "${LOCK_SUITE[$kid]}" "$(use_head "$kid")" "$st"
	done
	echo "cache: $CACHE (unpacked), $DEB_CACHE (.debs by sha256)"
}

# -------------------------------------------------------------------- run
# The host's cgroup layout: v2 (cgroup2 at /sys/fs/cgroup), hybrid (v1
# hierarchies and a cgroup2 at unified/) or v1. It names the host leg
# (host-hybrid) and its reference.
host_layout() {
	if [[ $(stat -fc %T /sys/fs/cgroup 2>/dev/null) == cgroup2fs ]]; then
		echo v2
	elif [[ $(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]]; then
		echo hybrid
	else
		echo v1
	fi
}

# The host leg: isocheck run directly here, under the leg timeout. Its
# report is reports/host-<layout>/ on any machine: a different kernel
# release is said, and the diff still runs.
run_host_leg() {
	local leg=host dir=$TMP/legs/host rc=0 out names t0 t1 layout
	layout=$(host_layout)
	mkdir -p "$LOGS"
	out=$dir/out
	mkdir -p "$out"
	t0=$(now_ns)
	timeout --kill-after=10 "$TIMEOUT" "$BINARY" run --out "$out" \
		--label "layout=$layout" --label "leg=host-$layout" --label line=host >"$LOGS/host.log" 2>&1 || rc=$?
	t1=$(now_ns)
	if ((rc == 124 || rc == 137)); then
		leg_status $leg INFRA - "timed out after ${TIMEOUT}s (log: $LOGS/host.log)"
		return
	fi
	names=$(install_results "$out" "$(uname -r)-$layout" "host-$layout" | tr '\n' ' ')
	report_status $leg "$rc" "$names" "run $(elapsed "$t0" "$t1")s" "$(uname -r)"
}

# One guest leg: its initramfs, the boot, what the guest left, its status.
run_guest_leg() {
	local leg=$1 dir=$TMP/legs/$1 kdir kernel log names rel
	leg_params "$leg" || return 1
	kdir=$(kernel_dir "$LEG_KERNEL")
	log=$LOGS/$leg.console.log
	mkdir -p "$dir" "$LOGS"
	rm -rf "${LOGS:?}/$leg.guest"
	leg_initrd "$dir" "$leg"
	kernel=$kdir/vmlinuz
	((USE_VMLINUX)) && [[ -f $kdir/vmlinux ]] && kernel=$kdir/vmlinux
	# no_timer_check: under TCG on a loaded host the kernel's check of the
	# IO-APIC timer can miss its ticks and panic ("IO-APIC + timer doesn't
	# work!"); the check proves nothing about what the suite tests.
	boot_guest "$dir" "$kernel" "$dir/initrd.cpio" "$log" \
		"console=ttyS0 panic=-1 quiet loglevel=4 cryptomgr.notests no_timer_check isocheck.leg=$leg${LEG_APPEND:+ $LEG_APPEND}"
	collect_guest "$leg" "$dir" "$log" || return 0
	rel=$(<"$kdir/release")
	names=$(install_results "$dir/out/results" "$rel-$LEG_LABEL" "$leg" | tr '\n' ' ')
	report_status "$leg" "$GUEST_CODE" "$names" "$GUEST_TIMING${USE_NOTE[$LEG_KERNEL]:+; ${USE_NOTE[$LEG_KERNEL]}}" "$rel"
}

# ------------------------------------------------------- progress line
# On a terminal (stderr is a tty, CI unset, TERM not dumb) `run` keeps one
# live line at the bottom: legs started of all, the legs running, the time
# since the legs began, and the legs passed and not passed so far. It is
# redrawn in place each second (a ticker process signals the driver, whose
# wait for a leg returns to redraw) and cleared before every other line.
# Anywhere else (a log, a pipe, CI) only the plain lines are printed, with
# no control characters.
progress_wanted() { [[ -t 2 && -z ${CI:-} && ${TERM:-dumb} != dumb ]]; }

# Draws the line from cmd_run's state: P_STARTED, P_TOTAL, P_PASS, P_FAIL,
# P_T0 and the running legs (the values of P_LIVE).
progress_draw() {
	((PROGRESS_LIVE)) || return 0
	local s=$(($(date +%s) - P_T0)) names line cols
	names=${P_LIVE[*]:-}
	line=$(printf '%s: [%d/%d] %s | %dm%02ds | %d pass, %d fail' "$PROG" "$P_STARTED" "$P_TOTAL" \
		"${names:-(none running)}" $((s / 60)) $((s % 60)) "$P_PASS" "$P_FAIL")
	cols=$(tput cols 2>/dev/null || echo 80)
	# One character short of the width: a line that wraps cannot be redrawn.
	printf '\r\033[K%s' "${line:0:cols-1}" >&2
}

# Waits for the next leg to end and sets P_DONE to its pid (a pid in
# P_LIVE); while the progress line is live, redraws it at each tick.
wait_leg() {
	local pid rc
	while :; do
		pid="" rc=0
		wait -n -p pid || rc=$?
		if [[ -n ${pid:-} && -n ${P_LIVE[$pid]:-} ]]; then
			P_DONE=$pid
			return 0
		fi
		# No child left to wait for: nothing can end any more.
		((rc != 127)) || return 1
		progress_draw
	done
}

cmd_run() {
	local legs=("$@") leg kid overall=0
	((${#legs[@]})) || legs=("${DEFAULT_LEGS[@]}")
	if [[ ${legs[*]} == all ]]; then legs=(host "${DEFAULT_LEGS[@]}"); fi
	for leg in "${legs[@]}"; do
		[[ $leg == host ]] && continue
		leg_params "$leg" && is_kernel_id "$LEG_KERNEL" ||
			die "unknown leg '$leg' (see 'ci/kernel-matrix list')"
	done
	mkdir -p "$LOGS" "$TMP/legs"
	if [[ -n $BINARY ]]; then
		[[ -f $BINARY && -x $BINARY ]] || die "--binary $BINARY is not an executable file"
		BINARY=$(realpath "$BINARY")
	else
		say "building the static isocheck (log: $LOGS/build.log)"
		if ! build_static "${CARGO_TARGET_DIR:-$REPO/target}" "" >"$LOGS/build.log" 2>&1; then
			tail -n 30 "$LOGS/build.log" >&2
			say "build failed"
			exit 3
		fi
		BINARY=$STATIC_BIN
	fi

	if [[ " ${legs[*]} " != " host " ]]; then check_static "$BINARY" || exit 3; fi

	# Fetch what the legs need (a failed id fails only its legs).
	lock_cache
	local -A kernel_ok=()
	for leg in "${legs[@]}"; do
		[[ $leg == host ]] && continue
		leg_params "$leg" && kid=$LEG_KERNEL
		[[ -n ${kernel_ok[$kid]:-} ]] && continue
		if fetch_id "$kid"; then kernel_ok[$kid]=1; else kernel_ok[$kid]=0; fi
	done
	flock -u "$CACHE_FD"

	# Run the legs, at most $JOBS at once; print a line as each finishes.
	local -A P_LIVE=()
	local P_STARTED=0 P_TOTAL=${#legs[@]} P_PASS=0 P_FAIL=0 P_T0 P_DONE ticker=
	P_T0=$(date +%s)
	say "running ${#legs[@]} legs, $JOBS at once, timeout ${TIMEOUT}s each; payload $BINARY"
	if progress_wanted; then
		PROGRESS_LIVE=1
		trap ':' USR1
		(while sleep 1; do kill -USR1 $$ 2>/dev/null || exit 0; done) &
		ticker=$!
		WORKERS+=("$ticker")
	fi
	summarize() {
		local leg=$1 st detail
		IFS='|' read -r st _ detail <"$TMP/legs/$leg/status" || st=INFRA detail="leg runner died"
		clear_progress
		printf '%-16s %-6s %s\n' "$leg" "$st" "$detail" | tee -a "$LOGS/summary.txt"
		case "$st" in
		PASS) P_PASS=$((P_PASS + 1)) ;;
		*) P_FAIL=$((P_FAIL + 1)) ;;
		esac
		case "$st" in
		INFRA) overall=4 ;;
		ERROR) ((overall >= 3)) || overall=3 ;;
		FAIL | REGRESSION) ((overall >= 1)) || overall=1 ;;
		esac
		progress_draw
	}
	# Starts guest leg $1's runner in the background.
	start_leg() {
		run_guest_leg "$1" &
		P_LIVE[$!]=$1
		WORKERS+=($!)
		P_STARTED=$((P_STARTED + 1))
		progress_draw
	}
	# Waits for a running leg to end and prints its line.
	finish_leg() {
		local leg pid
		if ! wait_leg; then
			# No child left to wait for: the legs still listed ended unseen.
			for pid in "${!P_LIVE[@]}"; do
				leg=${P_LIVE[$pid]}
				unset "P_LIVE[$pid]"
				summarize "$leg"
			done
			return 0
		fi
		leg=${P_LIVE[$P_DONE]}
		unset "P_LIVE[$P_DONE]"
		summarize "$leg"
	}
	: >"$LOGS/summary.txt"
	# The host leg runs alone, first: qemu guests under TCG take every
	# core, and timing properties (a CPU quota's share) would measure them.
	local rest=()
	for leg in "${legs[@]}"; do
		if [[ $leg == host ]]; then
			# In the foreground, as a signal to the driver must find it:
			# the progress line is drawn before and after, not during.
			mkdir -p "$TMP/legs/host"
			P_STARTED=$((P_STARTED + 1))
			P_LIVE[host]=host
			progress_draw
			run_host_leg
			unset 'P_LIVE[host]'
			summarize host
		else
			rest+=("$leg")
		fi
	done
	for leg in "${rest[@]}"; do
		mkdir -p "$TMP/legs/$leg"
		leg_params "$leg"
		kid=$LEG_KERNEL
		if [[ ${kernel_ok[$kid]} != 1 ]]; then
			leg_status "$leg" INFRA - "kernel '$kid': ${FETCH_WHY[$kid]:-${FETCH_WHY[busybox]:-not available (see above)}}"
			P_STARTED=$((P_STARTED + 1))
			summarize "$leg"
			continue
		fi
		while ((${#P_LIVE[@]} >= JOBS)); do finish_leg; done
		start_leg "$leg"
	done
	while ((${#P_LIVE[@]} > 0)); do finish_leg; done
	if [[ -n $ticker ]]; then
		kill "$ticker" 2>/dev/null || true
		wait "$ticker" 2>/dev/null || true
		trap - USR1
		clear_progress
		PROGRESS_LIVE=0
	fi
	say "matrix done in $(($(date +%s) - P_T0))s; exit $overall (logs: $LOGS)"
	if ((UPDATE_REFS)); then
		update_references
	fi
	return $overall
}
