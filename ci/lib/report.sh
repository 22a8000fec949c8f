# shellcheck shell=bash disable=SC2153 # REFS, REPORTS: set by ci/kernel-matrix
# ci/lib/report.sh: what a leg's results become: its status line (PASS,
# FAIL, REGRESSION, ERROR, INFRA), the result directories copied into
# REPORTS, each fresh report diffed against its reference (and a variant
# leg's also against its base leg's), and --update-references. Reports are
# read by the isocheck binary ($BINARY diff, report summary, matrix),
# never by grep. Sourced after ci/lib/common.sh and ci/lib/legs.sh.
#
# Reads TMP, REPO, REPORTS, REFS, LOGS and BINARY.

# Writes "<status>|<isocheck exit or ->|<detail>" to $TMP/legs/<leg>/status;
# status is PASS, FAIL, REGRESSION, ERROR or INFRA.
leg_status() { echo "$2|$3|$4" >"$TMP/legs/$1/status"; }

# Copies each result dir (results/<name>/) into REPORTS, replacing old
# ones; the one named $2 (isocheck's <release>-<layout label>) lands as $3,
# the leg name, so that a line's report keeps its place when the release
# moves on. Prints the names copied.
install_results() {
	local src=$1 own=${2:-} as=${3:-} d name
	mkdir -p "$REPORTS"
	for d in "$src"/*/; do
		[[ -d $d ]] || continue
		name=$(basename "$d")
		[[ -n $own && $name == "$own" ]] && name=$as
		rm -rf "${REPORTS:?}/$name"
		cp -r "$d" "$REPORTS/$name"
		echo "$name"
	done
}

# What changed between two reports, from `isocheck diff --json` on stdin:
# "N regressions, N lost coverage, N fixes, ..." (the non-zero ones), or
# "no case changed".
diff_counts() {
	jq -r '[["regressions", (.regressions|length)], ["lost coverage", (.lost_coverage|length)],
		["fixes", (.fixes|length)], ["skip changes", (.skip_changes|length)],
		["other changes", (.other_changes|length)], ["new cases", (.new_cases|length)],
		["vanished", (.vanished|length)]] | map(select(.[1] > 0) | "\(.[1]) \(.[0])")
		| if length == 0 then "no case changed" else join(", ") end'
}

# Diffs each fresh report with its reference (reports/<leg name>/), and a
# variant leg's also with the reference of its base leg (the same line and
# layout with nothing taken away); prints what it found and returns 1 on a
# regression or lost coverage (a case that ran there and skips here for a
# reason the leg's variant does not explain). A reference from another
# kernel release (the line moved on, or another host) is still diffed, and
# the line says so: "rebased from A to B: <what changed>".
against_references() {
	local leg=$1 names=$2 rel=$3 n ref out drc worst=0 variant kind base json was
	local allow=()
	variant=$(leg_variant "$leg")
	if [[ -n $variant ]]; then
		for kind in ${VARIANT_SKIPS[$variant]}; do
			allow+=(--allow-skip "$kind")
		done
	fi
	for n in $names; do
		local refs=("$n")
		if [[ -n $variant && $n == *-"$variant" ]]; then
			refs+=("${n%-"$variant"}")
		fi
		for base in "${refs[@]}"; do
			ref=$REFS/$base/report.json
			out=$LOGS/$leg.$n.vs.$base.diff.txt
			if [[ ! -f $ref ]]; then
				printf '; %s: no reference %s yet' "$n" "$base"
				continue
			fi
			drc=0
			"$BINARY" diff "${allow[@]}" "$ref" "$REPORTS/$n/report.json" >"$out" 2>&1 || drc=$?
			if ((drc <= 1)) && [[ $base == "$n" ]] &&
				json=$("$BINARY" diff --json "${allow[@]}" "$ref" "$REPORTS/$n/report.json" 2>/dev/null; true) &&
				was=$(jq -r .base.kernel_release <<<"$json" 2>/dev/null) && [[ -n $was && $was != "$rel" ]]; then
				if [[ $leg == host ]]; then
					printf '; %s: the reference ran kernel %s, this host runs %s: %s' "$n" "$was" "$rel" "$(diff_counts <<<"$json")"
				else
					printf '; %s: rebased from %s to %s: %s' "$n" "$was" "$rel" "$(diff_counts <<<"$json")"
				fi
			fi
			case "$drc" in
			0) printf '; %s: no regression vs %s' "$n" "${REFS#"$REPO"/}/$base" ;;
			1) printf '; %s: REGRESSED or lost coverage vs %s (%s)' "$n" "${REFS#"$REPO"/}/$base" "$out"; worst=1 ;;
			*) printf '; %s: diff failed (%s)' "$n" "$out"; worst=1 ;;
			esac
		done
	done
	return $worst
}

# Maps an isocheck exit code (and whether a report came out) to a status:
# leg $1, exit code $2, the report names $3, timing and notes $4, the
# kernel release the leg ran $5.
report_status() {
	local leg=$1 rc=$2 names=$3 timing=$4 rel=$5 where refs regressed=0
	where=${names:+-> $(for n in $names; do printf '%s ' "${REPORTS#"$REPO"/}/$n"; done)}
	if [[ -z $names ]]; then
		leg_status "$leg" ERROR "$rc" "isocheck exited $rc and wrote no report; $timing"
		return
	fi
	echo "$names" >"$TMP/legs/$leg/names"
	refs=$(against_references "$leg" "$names" "$rel") || regressed=1
	where="${where% }$refs"
	if ((regressed)) && [[ $rc == 0 || $rc == 1 ]]; then
		leg_status "$leg" REGRESSION 1 "isocheck exited $rc; $timing ${where% }"
		return
	fi
	case "$rc" in
	0) leg_status "$leg" PASS 0 "isocheck exited 0; $timing ${where% }" ;;
	1) leg_status "$leg" FAIL 1 "isocheck exited 1 (a promise broken); $timing ${where% }" ;;
	*) leg_status "$leg" ERROR "$rc" "isocheck exited $rc; $timing ${where% }" ;;
	esac
}

# Copies this run's fresh reports over the references and rebuilds the
# matrix page from every reference.
update_references() {
	local d name counts
	mkdir -p "$REFS"
	for name in $(cat "$TMP"/legs/*/names 2>/dev/null); do
		d=$REPORTS/$name
		[[ -f $d/report.json ]] || continue
		# A report with harness errors is no reference: fix the leg first.
		# (`report summary` counts the cases; it refuses what is no report.)
		if ! counts=$("$BINARY" report summary "$d/report.json"); then
			say "NOT a reference: $name/report.json cannot be read (see above)"
			continue
		fi
		if [[ " $counts " != *" error=0 "* ]]; then
			say "NOT a reference: $name has error outcomes (see its report)"
			continue
		fi
		rm -rf "${REFS:?}/$name"
		cp -r "$d" "$REFS/$name"
		say "reference updated: ${REFS#"$REPO"/}/$name"
	done
	# `matrix` exits 1 when the page shows a regression between legs: the
	# page is written all the same and the regressions are on it.
	local rc=0
	"$BINARY" matrix "$REFS"/*/report.json --out "$REFS" >&2 || rc=$?
	case $rc in
	0) ;;
	1) say "the references' matrix shows regressions between legs: see ${REFS#"$REPO"/}/matrix.html" ;;
	*) return "$rc" ;;
	esac
}
