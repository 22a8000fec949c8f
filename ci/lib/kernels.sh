# shellcheck shell=bash disable=SC2015 # `A && B || say` is a guard
# ci/lib/kernels.sh: the pinned kernels: the lock file (ci/kernels.lock),
# the download cache and its lock, `refresh` (re-pin the newest packages),
# and `fetch` (download, check the sha256, unpack a kernel, extract its
# vmlinux, resolve and decompress the guest's modules, then build its base
# initramfs with ci/lib/initramfs.sh). Sourced after ci/lib/common.sh.
#
# Reads LOCK, CACHE, TMP and GUEST_MODULES; fills LOCK_IDS,
# LOCK_{PATTERN,PKG,VER,SHA}[id], and FETCH_WHY[id] when a fetch fails.

LOCK=$CI_DIR/kernels.lock
CACHE=${ISOCHECK_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/isocheck/kernels}
# Modules the guest loads (with their dependencies, resolved from each
# module's depends=); the ones built into a kernel are skipped.
GUEST_MODULES=${ISOCHECK_GUEST_MODULES:-virtio_blk virtio_pci veth}
# Bump when the layout of the cache changes.
PREP_VERSION=1

# ------------------------------------------------------------- lock file
declare -A LOCK_PATTERN LOCK_PKG LOCK_VER LOCK_SHA
LOCK_IDS=()
read_lock() {
	[[ -f $LOCK ]] || die "no lock file $LOCK"
	local id pattern pkg ver sha extra
	while read -r id pattern pkg ver sha extra; do
		[[ -z $id || $id == \#* ]] && continue
		[[ -n $sha && -z $extra && $sha =~ ^[0-9a-f]{64}$ ]] ||
			die "$LOCK: bad line for '$id' (want: id pattern package version sha256)"
		LOCK_IDS+=("$id")
		LOCK_PATTERN[$id]=$pattern LOCK_PKG[$id]=$pkg LOCK_VER[$id]=$ver LOCK_SHA[$id]=$sha
	done <"$LOCK"
}
# True when lock id $1 is a kernel (not busybox).
is_kernel_id() { [[ ${LOCK_PKG[$1]:-} == linux-image-* ]]; }

# Cache paths of lock id $1: its .deb, its unpacked kernel; busybox's binary.
safe_name() { local s=${1//:/%3a}; echo "${s//\//_}"; }
deb_path() { echo "$CACHE/debs/$(safe_name "${LOCK_PKG[$1]}_${LOCK_VER[$1]}").deb"; }
kernel_dir() { echo "$CACHE/kernels/$(safe_name "${LOCK_PKG[$1]}_${LOCK_VER[$1]}")"; }
busybox_bin() { echo "$CACHE/busybox/$(safe_name "${LOCK_VER[busybox]}")/busybox"; }

# Holds the cache's lock (flock on CACHE_FD) while fetching.
lock_cache() {
	mkdir -p "$CACHE"
	exec {CACHE_FD}>"$CACHE/.lock"
	flock "$CACHE_FD"
}

# ---------------------------------------------------------------- refresh
cmd_refresh() {
	[[ $(id -u) -eq 0 ]] && apt-get update -qq >/dev/null 2>&1 ||
		say "apt-get update failed or not root: resolving against the current apt lists"
	local out=$TMP/kernels.lock id pkg ver sha changed=0
	sed -n '/^#/p' "$LOCK" >"$out"
	for id in "${LOCK_IDS[@]}"; do
		# The newest matching name that has a candidate version.
		pkg='' ver='' sha=''
		local name
		for name in $(apt-cache pkgnames 2>/dev/null | grep -E -- "${LOCK_PATTERN[$id]}" | sort -rV); do
			ver=$(apt-cache policy "$name" | sed -n 's/^ *Candidate: *//p')
			[[ -n $ver && $ver != "(none)" ]] || continue
			sha=$(apt-cache show "$name=$ver" 2>/dev/null | sed -n 's/^SHA256: *//p' | head -n1)
			[[ $sha =~ ^[0-9a-f]{64}$ ]] || die "refresh: no SHA256 for $name $ver in the apt lists"
			pkg=$name
			break
		done
		if [[ -z $pkg ]]; then
			say "refresh: no package matches ${LOCK_PATTERN[$id]} for '$id'; keeping ${LOCK_PKG[$id]} ${LOCK_VER[$id]}"
			pkg=${LOCK_PKG[$id]} ver=${LOCK_VER[$id]} sha=${LOCK_SHA[$id]}
		fi
		if [[ $pkg != "${LOCK_PKG[$id]}" || $ver != "${LOCK_VER[$id]}" || $sha != "${LOCK_SHA[$id]}" ]]; then
			say "refresh: $id: ${LOCK_PKG[$id]} ${LOCK_VER[$id]} -> $pkg $ver"
			changed=1
		fi
		printf '%-8s %-52s %-42s %-22s %s\n' "$id" "${LOCK_PATTERN[$id]}" "$pkg" "$ver" "$sha" >>"$out"
	done
	cp "$out" "$LOCK"
	if ((changed)); then
		say "refresh: rewrote $LOCK; 'ci/kernel-matrix fetch' downloads and checks the new pins"
	else
		say "refresh: $LOCK is up to date"
	fi
}

# ------------------------------------------------------------------ fetch
APT_UPDATED=0
declare -A FETCH_WHY=()
apt_has() { apt-cache show "$1=$2" >/dev/null 2>&1; }

# Makes sure the .deb of lock id $1 is in the cache with the pinned sha256.
fetch_deb() {
	local id=$1 pkg=${LOCK_PKG[$1]} ver=${LOCK_VER[$1]} sha=${LOCK_SHA[$1]}
	local deb dl f got
	deb=$(deb_path "$id")
	if [[ -f $deb ]] && [[ $(sha256sum <"$deb" | cut -d' ' -f1) == "$sha" ]]; then
		return 0
	fi
	if ! apt_has "$pkg" "$ver" && ((APT_UPDATED == 0)) && [[ $(id -u) -eq 0 ]]; then
		APT_UPDATED=1
		apt-get update -qq >/dev/null 2>&1 || true
	fi
	if ! apt_has "$pkg" "$ver"; then
		FETCH_WHY[$id]="$pkg $ver is gone from the apt mirror; run 'ci/kernel-matrix refresh' to pin the newest package"
		say "$id: ${FETCH_WHY[$id]}"
		return 1
	fi
	dl=$TMP/dl-$id
	mkdir -p "$dl" "$CACHE/debs"
	if ! (cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$ver" >/dev/null 2>"$dl.err"); then
		FETCH_WHY[$id]="apt-get download $pkg=$ver failed: $(tail -n3 "$dl.err" | tr '\n' ' ')"
		say "$id: ${FETCH_WHY[$id]}"
		return 1
	fi
	f=$(find "$dl" -maxdepth 1 -name '*.deb' | head -n1)
	got=$(sha256sum <"$f" | cut -d' ' -f1)
	if [[ $got != "$sha" ]]; then
		FETCH_WHY[$id]="sha256 mismatch for $pkg $ver: got $got, the lock has $sha"
		say "$id: ${FETCH_WHY[$id]}"
		return 1
	fi
	mv "$f" "$deb"
	rm -rf "$dl"
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

# Unpacks kernel lock id $1 into its cache dir: vmlinuz, vmlinux, config,
# release, and lib/modules/<release>/ with the guest modules (decompressed)
# and load.order (dependencies first).
prepare_kernel() {
	local id=$1 kdir x rel modroot ko name m
	kdir=$(kernel_dir "$id")
	[[ -f $kdir/.prepared-$PREP_VERSION && $(<"$kdir/modules.wanted") == "$GUEST_MODULES" ]] && return 0
	x=$TMP/x-$id
	rm -rf "$x" "$kdir" && mkdir -p "$x" "$kdir"
	dpkg-deb -x "$(deb_path "$id")" "$x"
	rel=$(ls "$x/lib/modules")
	[[ -n $rel && $(wc -w <<<"$rel") -eq 1 ]] || { FETCH_WHY[$id]="cannot find one module dir in the .deb"; say "$id: ${FETCH_WHY[$id]}"; return 1; }
	echo "$rel" >"$kdir/release"
	cp "$x/boot/vmlinuz-$rel" "$kdir/vmlinuz"
	cp "$x/boot/config-$rel" "$kdir/config"
	extract_vmlinux "$kdir/vmlinuz" "$kdir/vmlinux" || say "$id: could not extract vmlinux; will boot vmlinuz"

	# Module index: name (with - as _) -> path, and the built-in names.
	modroot=$x/lib/modules/$rel
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
		[[ -n $src ]] || { FETCH_WHY[$id]="module $n is neither built in nor in the package"; say "$id: ${FETCH_WHY[$id]}"; return 1; }
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
	dpkg-deb -x "$(deb_path busybox)" "$x"
	cp "$x/bin/busybox" "$bb.tmp" && mv "$bb.tmp" "$bb"
	rm -rf "$x"
}

# fetch + prepare one lock id; 0 ok, 1 failed (message said why).
FETCH_FAILED=()
fetch_id() {
	local id=$1
	if ! fetch_deb "$id"; then FETCH_FAILED+=("$id"); return 1; fi
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
	[[ -n ${LOCK_PKG[busybox]:-} ]] || { say "ci/kernels.lock has no 'busybox' entry"; BUSYBOX_OK=1; return 1; }
	if ! fetch_deb busybox; then BUSYBOX_OK=1; FETCH_FAILED+=(busybox); return 1; fi
	prepare_busybox
}

cmd_fetch() {
	local ids=("$@") id rc=0
	((${#ids[@]})) || ids=("${LOCK_IDS[@]}")
	lock_cache
	for id in "${ids[@]}"; do
		[[ -n ${LOCK_PKG[$id]:-} ]] || die "no lock id '$id' (have: ${LOCK_IDS[*]})"
		if fetch_id "$id"; then
			if is_kernel_id "$id"; then
				say "$id: ${LOCK_PKG[$id]} ${LOCK_VER[$id]} ready ($(<"$(kernel_dir "$id")/release"))"
			else
				say "$id: ${LOCK_PKG[$id]} ${LOCK_VER[$id]} ready"
			fi
		else
			rc=4
		fi
	done
	return $rc
}
