#!/bin/sh
# bench/cli_test.sh - the command line of every bench program (meson test, suite bench).
#
#   bench/cli_test.sh PROGRAM...
#
# For each program: --help and -h print a usage to stdout and exit 0; an
# unknown option, every option from the usage left without its value, every
# option given a bad value (--opt=value form) and --qd 0 each exit 2 with one
# line on stderr naming the option. mapio-bench also: a missing MODE, a
# missing input file (the message says how to make one), and a short real run
# with --opt=value options; ring-bench and vec-bench a tiny real run.
set -u
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}

# run PROGRAM ARGS...: sets rc, and out/err (the two streams, in files)
run() {
    "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
    rc=$?
}

# bad WORD PROGRAM ARGS...: exit 2, nothing on stdout, one line on stderr containing WORD
bad() {
    word=$1
    shift
    run "$@"
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -ne 2 ] || [ -s "$TMP/out" ] || [ "$lines" -ne 1 ] ||
        ! grep -q -F -e "$word" "$TMP/err"; then
        fail "$* -> rc $rc, want 2 and one line with '$word' on stderr; got: $(cat "$TMP/err")"
    fi
}

# good WORD PROGRAM ARGS...: exit 0 and WORD on stdout
good() {
    word=$1
    shift
    run "$@"
    if [ "$rc" -ne 0 ] || ! grep -q -F -e "$word" "$TMP/out"; then
        fail "$* -> rc $rc, want 0 and '$word' on stdout; stderr: $(cat "$TMP/err")"
    fi
}

head -c 65536 /dev/zero >"$TMP/data"
for prog in "$@"; do
    name=$(basename "$prog")
    good usage "$prog" --help
    good usage "$prog" -h
    # Every option of the usage ("  --name META  help").
    sed -n 's/^  \(--[a-z-]*\) \([^ ]*\) .*/\1 \2/p' "$TMP/out" >"$TMP/opts"
    [ -s "$TMP/opts" ] || fail "$name --help lists no options"
    bad --no-such-option "$prog" --no-such-option
    bad --no-such-option "$prog" --no-such-option=1
    while read -r opt meta; do
        bad "$opt: missing value" "$prog" "$opt"
        # A bad value; any string names a FILE, so that one has none.
        [ "$meta" = FILE ] || bad "$opt" "$prog" "$opt=x1"
    done <"$TMP/opts"
    if grep -q '^--qd ' "$TMP/opts"; then
        bad "--qd: must be >= 1 (got 0)" "$prog" --qd 0
        bad "--qd: must be >= 1 (got 0)" "$prog" --qd=0
    fi
    case $name in
    mapio-bench)
        bad MODE "$prog"
        bad FILE "$prog" randread
        bad "head -c" "$prog" randread "$TMP/none"
        bad "$TMP/none" "$prog" roundtrip "$TMP/none" --op read1
        good mode=roundtrip "$prog" roundtrip "$TMP/data" --op=nop --seconds=0.05
        ;;
    ring-bench)
        good median "$prog" 1 64 1
        bad unexpected "$prog" 1 64 1 1
        ;;
    vec-bench)
        good median "$prog" --count=1000 --elem-size=8 "--dir=$TMP"
        bad "$TMP/none" "$prog" --dir "$TMP/none"
        ;;
    ranges-bench)
        bad "$TMP/none" "$prog" "$TMP/none"
        ;;
    esac
    echo "$name: checked"
done
[ "$#" -gt 0 ] || fail "no programs given"
[ "$FAILS" -eq 0 ]
