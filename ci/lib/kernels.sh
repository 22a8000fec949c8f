# shellcheck shell=bash disable=SC2015 # `A && B || say` is a guard
# ci/lib/kernels.sh: the pinned kernels: the lock file (ci/kernels.lock),
# a throwaway apt configuration per Debian suite (its own sources list,
# lists and cache in the temp dir: the machine's apt sources and lists are
# never read or written), the .deb cache (by sha256, outside the repo),
# `refresh` (re-pin the newest package set of each line) and `fetch`
# (download and check the set, fall back to the line's newest when a pin is
# gone from its suite, unpack, extract vmlinux, resolve and decompress the
# guest's modules, build the base initramfs with ci/lib/initramfs.sh).
# Sourced after ci/lib/common.sh.
#
# Reads LOCK, CACHE, DEB_CACHE, TMP and GUEST_MODULES; fills LOCK_IDS,
# LOCK_{SUITE,PATTERN,PKGS,VERS,SHAS}[id], USE_{PKGS,VERS,SHAS}[id] (the
# set fetch settled on), USE_NOTE[id] (why it is not the pin) and
# FETCH_WHY[id] when a fetch fails.

LOCK=$CI_DIR/kernels.lock
# Unpacked kernels and base initramfs archives.
CACHE=${ISOCHECK_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/isocheck/kernels}
# Downloaded .debs, named by their sha256; shared by every checkout.
DEB_CACHE=${ISOCHECK_DEB_CACHE:-/var/cache/isocheck/debs}
# Where each suite is served from.
DEBIAN_MIRROR=${ISOCHECK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${ISOCHECK_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
APT_KEYRING=${ISOCHECK_APT_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
# Modules the guest loads (with their dependencies, resolved from each
# module's depends=); the ones built into a kernel are skipped.
GUEST_MODULES=${ISOCHECK_GUEST_MODULES:-virtio_blk virtio_pci veth}
# Bump when the layout of the cache changes.
PREP_VERSION=2

# ------------------------------------------------------------- lock file
# A lock id is a kernel line (5.10, backports, sid) or busybox; it has one
# row per .deb of its set, every row naming the same suite and pattern.
declare -A LOCK_SUITE LOCK_PATTERN LOCK_PKGS LOCK_VERS LOCK_SHAS
declare -A USE_PKGS USE_VERS USE_SHAS USE_NOTE
LOCK_IDS=()
read_lock() {
	[[ -f $LOCK ]] || die "no lock file $LOCK"
	local id suite pattern pkg ver sha extra
	while read -r id suite pattern pkg ver sha extra; do
		[[ -z $id || $id == \#* ]] && continue
		[[ -n $sha && -z $extra && $sha =~ ^[0-9a-f]{64}$ && $id =~ ^[A-Za-z0-9][A-Za-z0-9._+]*$ ]] ||
			die "$LOCK: bad line for '$id' (want: id suite pattern package version sha256)"
		if [[ -z ${LOCK_SUITE[$id]:-} ]]; then
			LOCK_IDS+=("$id")
			LOCK_SUITE[$id]=$suite LOCK_PATTERN[$id]=$pattern
		elif [[ ${LOCK_SUITE[$id]} != "$suite" || ${LOCK_PATTERN[$id]} != "$pattern" ]]; then
			die "$LOCK: the rows of '$id' name different suites or patterns"
		fi
		LOCK_PKGS[$id]+="${LOCK_PKGS[$id]:+ }$pkg"
		LOCK_VERS[$id]+="${LOCK_VERS[$id]:+ }$ver"
		LOCK_SHAS[$id]+="${LOCK_SHAS[$id]:+ }$sha"
	done <"$LOCK"
	for id in "${LOCK_IDS[@]}"; do
		USE_PKGS[$id]=${LOCK_PKGS[$id]} USE_VERS[$id]=${LOCK_VERS[$id]} USE_SHAS[$id]=${LOCK_SHAS[$id]}
	done
}
# True when lock id $1 is a kernel line (not busybox).
is_kernel_id() { [[ ${LOCK_PKGS[$1]:-} == linux-* ]]; }
# The set of lock id $1 as "package version" pairs, one per line (what fetch
# settled on: the pin, or the line's newest when the pin is gone).
use_set() {
	local -a p v
	read -r -a p <<<"${USE_PKGS[$1]}"
	read -r -a v <<<"${USE_VERS[$1]}"
	local i
	for i in "${!p[@]}"; do echo "${p[$i]} ${v[$i]}"; done
}
# The first package and version of lock id $1's set (its image), one line.
use_head() { use_set "$1" | head -n1; }

# Cache paths: a .deb by sha256; an unpacked kernel by its set; busybox.
safe_name() { local s=${1//:/%3a}; echo "${s//\//_}"; }
deb_file() { echo "$DEB_CACHE/$1.deb"; }
kernel_dir() {
	local key
	key=$(sha256sum <<<"${USE_SHAS[$1]}" | cut -c1-16)
	echo "$CACHE/kernels/$(safe_name "$1")-$key"
}
busybox_bin() { echo "$CACHE/busybox/$(safe_name "${USE_VERS[busybox]}")/busybox"; }

# Holds the cache's lock (flock on CACHE_FD) while fetching. The .deb
# cache falls back to one under CACHE when DEB_CACHE cannot be made (not
# root).
lock_cache() {
	mkdir -p "$CACHE"
	if ! mkdir -p "$DEB_CACHE" 2>/dev/null || [[ ! -w $DEB_CACHE ]]; then
		say "cannot write $DEB_CACHE; caching .debs in $CACHE/debs"
		DEB_CACHE=$CACHE/debs
		mkdir -p "$DEB_CACHE"
	fi
	exec {CACHE_FD}>"$CACHE/.lock"
	flock "$CACHE_FD"
}

# ------------------------------------------------- throwaway apt, per suite
# Each suite gets its own sources list, lists, cache and an empty dpkg
# status under TMP/apt/<suite>, so that a package is looked up in its own
# suite only, and the machine's apt configuration of sources, lists and
# preferences plays no part.
declare -A APT_STATE=() APT_ERR=()
suite_url() {
	case "$1" in
	*-security) echo "$DEBIAN_SECURITY_MIRROR" ;;
	*) echo "$DEBIAN_MIRROR" ;;
	esac
}
# Sets APT_O to the -o options of suite $1's configuration.
apt_opts() {
	local d=$TMP/apt/$1
	APT_O=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o "Dir::State::status=$d/status"
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
		-o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Acquire::Languages=none)
	if [[ $(id -u) -eq 0 ]]; then APT_O+=(-o APT::Sandbox::User=root); fi
}
# Downloads suite $1's index once per run; 1 (APT_ERR says why) when the
# mirror does not serve that suite.
apt_update() {
	local s=$1 d=$TMP/apt/$1
	[[ -n ${APT_STATE[$s]:-} ]] && return "${APT_STATE[$s]}"
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	: >"$d/status"
	echo "deb [signed-by=$APT_KEYRING] $(suite_url "$s") $s main" >"$d/sources.list"
	apt_opts "$s"
	if apt-get -q "${APT_O[@]}" update >"$d/update.log" 2>&1 &&
		! grep -q '^\(E\|Err\|W: Failed\)' "$d/update.log"; then
		APT_STATE[$s]=0
	else
		APT_STATE[$s]=1
		APT_ERR[$s]=$(grep -E '^(E|Err|W)' "$d/update.log" | tail -n2 | tr '\n' ' ')
		APT_ERR[$s]=${APT_ERR[$s]% }
	fi
	return "${APT_STATE[$s]}"
}
apt_q() {
	local s=$1
	shift
	apt_opts "$s"
	apt-cache "${APT_O[@]}" "$@" 2>/dev/null
}
# True when suite $1 has package $2 at version $3.
apt_has() { [[ -n $(apt_q "$1" show "$2=$3" | sed -n 's/^SHA256: *//p') ]]; }
apt_sha() { apt_q "$1" show "$2=$3" | sed -n 's/^SHA256: *//p' | head -n1; }
# The newest version of package $2 in suite $1 (its candidate: the status
# is empty and there are no preferences), or nothing.
apt_newest() {
	local v
	v=$(apt_q "$1" policy "$2" | sed -n 's/^ *Candidate: *//p')
	[[ $v != "(none)" ]] && echo "$v"
}

# The set of the newest package of lock id $1's line in its suite: sets
# R_PKGS, R_VERS, R_SHAS (space separated) or returns 1 with R_WHY.
# The newest name matching the pattern is the line's image; from 7.x it is
# a metapackage whose exact (=) dependencies are the image
# (linux-binary-<abi>), the modules (linux-modules-<abi>) and the config
# (linux-base-<abi>): the set is those three at that one version, the
# unsigned image preferred when the suite has it at that version (no
# signature to carry, as on the older lines' -unsigned images).
resolve_line() {
	local id=$1 suite=${LOCK_SUITE[$1]} name ver deps item dep dver sha p
	R_PKGS='' R_VERS='' R_SHAS='' R_WHY=''
	for name in $(apt_q "$suite" pkgnames | grep -E -- "${LOCK_PATTERN[$id]}" | sort -rV); do
		ver=$(apt_newest "$suite" "$name")
		[[ -n $ver ]] || continue
		local set=()
		deps=$(apt_q "$suite" show "$name=$ver" | sed -n 's/^Depends: *//p' | head -n1)
		IFS=',' read -r -a items <<<"$deps"
		for item in "${items[@]}"; do
			item=${item# } item=${item% }
			if [[ $item =~ ^(linux-(binary|modules|base)-[^ ]+)\ \(=\ ([^\)]+)\)$ ]]; then
				dep=${BASH_REMATCH[1]} dver=${BASH_REMATCH[3]}
				if [[ $dep == linux-binary-* && $dep != linux-binary-unsigned-* ]] &&
					apt_has "$suite" "linux-binary-unsigned-${dep#linux-binary-}" "$dver"; then
					dep=linux-binary-unsigned-${dep#linux-binary-}
				fi
				set+=("$dep=$dver")
			fi
		done
		# The image first: the binary, then modules, then base.
		if ((${#set[@]})); then
			mapfile -t set < <(printf '%s\n' "${set[@]}" | sed 's/^linux-binary/0&/; s/^linux-modules/1&/; s/^linux-base/2&/' | sort | cut -c2-)
		else
			set=("$name=$ver")
		fi
		# A set the suite does not hold whole (a transition under way) is
		# skipped for the next newest name.
		R_PKGS='' R_VERS='' R_SHAS=''
		for p in "${set[@]}"; do
			sha=$(apt_sha "$suite" "${p%%=*}" "${p#*=}")
			if [[ ! $sha =~ ^[0-9a-f]{64}$ ]]; then
				R_WHY="$suite has no ${p%%=*} ${p#*=} (for $name $ver)"
				continue 2
			fi
			R_PKGS+="${R_PKGS:+ }${p%%=*}" R_VERS+="${R_VERS:+ }${p#*=}" R_SHAS+="${R_SHAS:+ }$sha"
		done
		return 0
	done
	R_PKGS='' R_VERS='' R_SHAS=''
	R_WHY=${R_WHY:-no package in $suite matches ${LOCK_PATTERN[$id]}}
	return 1
}

# ---------------------------------------------------------------- refresh
cmd_refresh() {
	local out=$TMP/kernels.lock id changed=0 i
	sed -n '/^#/p' "$LOCK" >"$out"
	for id in "${LOCK_IDS[@]}"; do
		local suite=${LOCK_SUITE[$id]}
		if ! apt_update "$suite"; then
			say "refresh: $id: suite '$suite' is not configured at $(suite_url "$suite") (${APT_ERR[$suite]}); keeping the pin"
			R_PKGS=${LOCK_PKGS[$id]} R_VERS=${LOCK_VERS[$id]} R_SHAS=${LOCK_SHAS[$id]}
		elif ! resolve_line "$id"; then
			say "refresh: $id: $R_WHY; keeping the pin"
			R_PKGS=${LOCK_PKGS[$id]} R_VERS=${LOCK_VERS[$id]} R_SHAS=${LOCK_SHAS[$id]}
		fi
		if [[ $R_PKGS != "${LOCK_PKGS[$id]}" || $R_VERS != "${LOCK_VERS[$id]}" || $R_SHAS != "${LOCK_SHAS[$id]}" ]]; then
			say "refresh: $id: ${LOCK_PKGS[$id]%% *} ${LOCK_VERS[$id]%% *} -> ${R_PKGS%% *} ${R_VERS%% *}"
			changed=1
		fi
		local -a p v h
		read -r -a p <<<"$R_PKGS"
		read -r -a v <<<"$R_VERS"
		read -r -a h <<<"$R_SHAS"
		for i in "${!p[@]}"; do
			printf '%-9s %-17s %-53s %-42s %-22s %s\n' "$id" "$suite" "${LOCK_PATTERN[$id]}" "${p[$i]}" "${v[$i]}" "${h[$i]}" >>"$out"
		done
	done
	cp "$out" "$LOCK"
	if ((changed)); then
		say "refresh: rewrote $LOCK; 'ci/kernel-matrix fetch' downloads and checks the new pins"
	else
		say "refresh: $LOCK is up to date"
	fi
}

# ------------------------------------------------------------------ fetch
declare -A FETCH_WHY=()
# shellcheck disable=SC2034 # FETCH_WHY is read by ci/lib/legs.sh
fetch_fail() { FETCH_WHY[$1]=$2; say "$1: $2"; return 1; }

# True when every .deb of lock id $1's settled set is in the cache.
all_cached() {
	local sha
	for sha in ${USE_SHAS[$1]}; do [[ -f $(deb_file "$sha") ]] || return 1; done
}

# Makes sure every .deb of lock id $1 is in the cache with its sha256. The
# pinned set when its suite still has it (or the cache does); when a pin
# is gone from its suite (superseded), the line's newest set, said in
# USE_NOTE; fails when the suite cannot be had at all.
fetch_debs() {
	local id=$1 suite=${LOCK_SUITE[$1]} pkg ver sha dl f got gone=''
	all_cached "$id" && return 0
	apt_update "$suite" ||
		fetch_fail "$id" "suite '$suite' is not configured at $(suite_url "$suite"): ${APT_ERR[$suite]}" || return 1
	while read -r pkg ver; do
		apt_has "$suite" "$pkg" "$ver" || gone+="${gone:+, }$pkg $ver"
	done < <(use_set "$id")
	if [[ -n $gone ]]; then
		resolve_line "$id" ||
			fetch_fail "$id" "$gone was superseded in $suite, and the line has no newer package: $R_WHY" || return 1
		USE_PKGS[$id]=$R_PKGS USE_VERS[$id]=$R_VERS USE_SHAS[$id]=$R_SHAS
		USE_NOTE[$id]="pin $gone superseded in $suite; using the line's newest $(use_head "$id") ('ci/kernel-matrix refresh' re-pins)"
		say "$id: ${USE_NOTE[$id]}"
		all_cached "$id" && return 0
	fi
	dl=$TMP/dl-$id
	rm -rf "$dl" && mkdir -p "$dl"
	local -a p v h
	read -r -a p <<<"${USE_PKGS[$id]}"
	read -r -a v <<<"${USE_VERS[$id]}"
	read -r -a h <<<"${USE_SHAS[$id]}"
	local i
	for i in "${!p[@]}"; do
		pkg=${p[$i]} ver=${v[$i]} sha=${h[$i]}
		[[ -f $(deb_file "$sha") ]] && continue
		rm -f "$dl"/*.deb
		apt_opts "$suite"
		if ! (cd "$dl" && apt-get download -qq "${APT_O[@]}" "$pkg=$ver" >/dev/null 2>"$dl.err"); then
			fetch_fail "$id" "apt-get download $pkg=$ver from $suite failed: $(tail -n3 "$dl.err" | tr '\n' ' ')"
			return 1
		fi
		f=$(find "$dl" -maxdepth 1 -name '*.deb' | head -n1)
		got=$(sha256sum <"$f" | cut -d' ' -f1)
		[[ $got == "$sha" ]] ||
			fetch_fail "$id" "sha256 mismatch for $pkg $ver: got $got, want $sha" || return 1
		mv "$f" "$(deb_file "$sha").tmp" && mv "$(deb_file "$sha").tmp" "$(deb_file "$sha")"
	done
	rm -rf "$dl" "$dl.err"
}

# extract-vmlinux: find the compressed payload of a bzImage by its magic and
# decompress it; keep the first result that is an ELF file.
extract_vmlinux() {
	local in=$1 out=$2 magic tool off
	for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd' '\x1f\x8b\x08\x00:gzip'; do
		tool=${magic##*:} magic=${magic%:*}
		command -v "$tool" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "$magic" "$in" | cut -d: -f1 | head -n5); do
			tail -c+$((off + 1)) "$in" | "$tool" -dc >"$out" 2>/dev/null || true
			is_elf "$out" && return 0
		done
	done
	rm -f "$out"
	return 1
}

# Reads a module's depends= from its .modinfo.
mod_depends() {
	decompress "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '
}

# Unpacks kernel lock id $1's set into its cache dir: vmlinuz, vmlinux,
# config, release, and lib/modules/<release>/ with the guest modules
# (decompressed) and load.order (dependencies first). The modules live in
# lib/modules/<release>/ or, merged /usr, usr/lib/modules/<release>/; the
# image is boot/vmlinuz-<release> or, from 7.x, vmlinuz[.unsigned] beside
# the modules; the config boot/config-<release> or config there.
prepare_kernel() {
	local id=$1 kdir x rel modroot ko name m sha d f
	kdir=$(kernel_dir "$id")
	[[ -f $kdir/.prepared-$PREP_VERSION && $(<"$kdir/modules.wanted") == "$GUEST_MODULES" ]] && return 0
	x=$TMP/x-$id
	rm -rf "$x" "$kdir" && mkdir -p "$x" "$kdir"
	for sha in ${USE_SHAS[$id]}; do dpkg-deb -x "$(deb_file "$sha")" "$x"; done
	local roots=()
	for d in "$x"/lib/modules/* "$x"/usr/lib/modules/*; do
		[[ -d $d ]] && roots+=("$d")
	done
	((${#roots[@]} == 1)) ||
		fetch_fail "$id" "want one module dir in the .debs, found ${#roots[@]}: ${roots[*]#"$x"/}" || return 1
	modroot=${roots[0]}
	rel=${modroot##*/}
	echo "$rel" >"$kdir/release"
	for f in "$x/boot/vmlinuz-$rel" "$modroot/vmlinuz" "$modroot/vmlinuz.unsigned" ''; do
		[[ -f $f ]] && break
	done
	[[ -n $f ]] || fetch_fail "$id" "no vmlinuz for $rel in the .debs" || return 1
	cp "$f" "$kdir/vmlinuz"
	for f in "$x/boot/config-$rel" "$modroot/config" ''; do
		[[ -f $f ]] && break
	done
	[[ -n $f ]] || fetch_fail "$id" "no config for $rel in the .debs" || return 1
	cp "$f" "$kdir/config"
	[[ -f $modroot/modules.builtin && -d $modroot/kernel ]] ||
		fetch_fail "$id" "no modules.builtin or kernel/ in ${modroot#"$x"/}" || return 1
	extract_vmlinux "$kdir/vmlinuz" "$kdir/vmlinux" || say "$id: could not extract vmlinux; will boot vmlinuz"

	# Module index: name (with - as _) -> path, and the built-in names.
	declare -A path_of=() builtin=() done_=()
	while IFS= read -r ko; do
		name=${ko##*/} name=${name%%.ko*} name=${name//-/_}
		path_of[$name]=$ko
	done < <(find "$modroot/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
	while IFS= read -r ko; do
		name=${ko##*/} name=${name%%.ko*} name=${name//-/_}
		builtin[$name]=1
	done <"$modroot/modules.builtin"
	mkdir -p "$kdir/lib/modules/$rel"
	: >"$kdir/lib/modules/load.order"
	add_module() {
		local n=${1//-/_} src rel_path dep
		[[ -n ${done_[$n]:-} || -n ${builtin[$n]:-} ]] && return 0
		src=${path_of[$n]:-}
		[[ -n $src ]] || fetch_fail "$id" "module $n is neither built in nor in the package" || return 1
		done_[$n]=1
		for dep in $(mod_depends "$src"); do add_module "$dep" || return 1; done
		rel_path=${src#"$modroot"/} rel_path=${rel_path%.xz} rel_path=${rel_path%.zst} rel_path=${rel_path%.gz}
		mkdir -p "$kdir/lib/modules/$rel/$(dirname "$rel_path")"
		decompress "$src" >"$kdir/lib/modules/$rel/$rel_path"
		echo "/lib/modules/$rel/$rel_path" >>"$kdir/lib/modules/load.order"
	}
	for m in $GUEST_MODULES; do add_module "$m" || return 1; done
	cp "$modroot/modules.builtin" "$kdir/lib/modules/$rel/"
	echo "$GUEST_MODULES" >"$kdir/modules.wanted"
	rm -rf "$x"
	touch "$kdir/.prepared-$PREP_VERSION"
}

prepare_busybox() {
	local bb x
	bb=$(busybox_bin)
	[[ -x $bb ]] && return 0
	x=$TMP/x-busybox
	mkdir -p "$x" "$(dirname "$bb")"
	dpkg-deb -x "$(deb_file "${USE_SHAS[busybox]}")" "$x"
	cp "$x/bin/busybox" "$bb.tmp" && mv "$bb.tmp" "$bb"
	rm -rf "$x"
}

# fetch + prepare one lock id; 0 ok, 1 failed (message said why).
FETCH_FAILED=()
fetch_id() {
	local id=$1
	if ! fetch_debs "$id"; then FETCH_FAILED+=("$id"); return 1; fi
	if [[ $id == busybox ]]; then
		prepare_busybox
	elif is_kernel_id "$id"; then
		if ! prepare_kernel "$id"; then FETCH_FAILED+=("$id"); return 1; fi
		fetch_busybox_once || return 1
		build_initramfs "$id"
	fi
}
BUSYBOX_OK=
fetch_busybox_once() {
	[[ -n $BUSYBOX_OK ]] && return "$BUSYBOX_OK"
	BUSYBOX_OK=0
	[[ -n ${LOCK_PKGS[busybox]:-} ]] || { say "ci/kernels.lock has no 'busybox' entry"; BUSYBOX_OK=1; return 1; }
	if ! fetch_debs busybox; then BUSYBOX_OK=1; FETCH_FAILED+=(busybox); return 1; fi
	prepare_busybox
}

cmd_fetch() {
	local ids=("$@") id rc=0
	((${#ids[@]})) || ids=("${LOCK_IDS[@]}")
	lock_cache
	for id in "${ids[@]}"; do
		[[ -n ${LOCK_PKGS[$id]:-} ]] || die "no lock id '$id' (have: ${LOCK_IDS[*]})"
		if fetch_id "$id"; then
			if is_kernel_id "$id"; then
				say "$id: $(use_head "$id") ready ($(<"$(kernel_dir "$id")/release"))"
			else
				say "$id: $(use_head "$id") ready"
			fi
		else
			rc=4
		fi
	done
	return $rc
}
