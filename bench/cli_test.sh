#!/bin/sh
# bench/cli_test.sh - the command line of every bench program (meson test, suite bench).
#
#   bench/cli_test.sh PROGRAM...
#
# For each program: --help and -h print a usage to stdout and exit 0; an
# unknown option, every option from the usage left without its value (a flag
# given one), every option given a bad value (--opt=value form) and --qd 0
# each exit 2 with one line on stderr naming the option. mapio-bench also:
# MODE --help for every mode, listing only options that mode takes; an
# option given to a mode that does not use it; a missing or unknown MODE; a
# missing input file (created, or with --create 0 the message says how to
# make one); a FILE in a missing folder; and a short real run with
# --opt=value options; ring-bench, vec-bench and life-bench a tiny real run.
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
        if [ -z "$meta" ]; then # a flag
            bad "$opt: takes no value" "$prog" "$opt=1"
            continue
        fi
        bad "$opt: missing value" "$prog" "$opt"
        # A bad value; any string names a FILE, a DIR or a --name, so those have none.
        [ "$meta" = FILE ] || [ "$meta" = DIR ] || [ "$opt" = --name ] || bad "$opt" "$prog" "$opt=x1"
    done <"$TMP/opts"
    if grep -q '^--qd ' "$TMP/opts"; then
        bad "--qd: must be >= 1 (got 0)" "$prog" --qd 0
        bad "--qd: must be >= 1 (got 0)" "$prog" --qd=0
    fi
    case $name in
    mapio-bench)
        bad MODE "$prog"
        bad "MODE: must be one of" "$prog" nosuchmode "$TMP/data"
        bad "MODE: must be one of" "$prog" nosuchmode --help
        bad FILE "$prog" randread
        run "$prog" --help
        modes=$(sed -n '/^Modes/,/^$/s/^  \([a-z-]*\) .*/\1/p' "$TMP/out")
        [ -n "$modes" ] || fail "$name --help lists no modes"
        for mode in $modes; do
            good "usage: $name $mode FILE" "$prog" "$mode" --help
            good "usage: $name $mode FILE" "$prog" --help "--mode=$mode"
            sed -n 's/^  \(--[a-z-]*\) \([^ ]*\) .*/\1 \2/p' "$TMP/out" >"$TMP/mode-opts"
            grep -q -e '^--mode ' "$TMP/mode-opts" && fail "$name $mode --help lists --mode"
            # Every option listed is taken: a bad value is a bad value, not an unused option.
            while read -r opt meta; do
                [ -n "$meta" ] && [ "$meta" != FILE ] && [ "$opt" != --name ] || continue
                bad "$opt" "$prog" "$mode" "$TMP/data" "$opt=x1"
                grep -q "not used" "$TMP/err" && fail "$name $mode --help lists $opt, not taken"
            done <"$TMP/mode-opts"
        done
        bad "--qd: not used by commit" "$prog" commit "$TMP/w" --qd 4
        bad "--committers: not used by randread" "$prog" randread "$TMP/data" --committers=2
        bad "head -c" "$prog" randread "$TMP/none" --create 0
        bad "$TMP/none" "$prog" roundtrip "$TMP/none" --op read1 --create=0
        [ ! -e "$TMP/none" ] || fail "--create 0 created $TMP/none"
        bad "$TMP/no/dir" "$prog" randread "$TMP/no/dir/f" --size-mib 1
        bad "$TMP/no/dir" "$prog" commit "$TMP/no/dir/f"
        bad "not a regular file" "$prog" sync-each "$TMP"
        # A missing input is created (--size-mib MiB), with a line saying so.
        good mode=randread "$prog" randread "$TMP/made" --size-mib 1 --seconds 0.05 --qd 4
        grep -q "creating $TMP/made" "$TMP/err" || fail "no 'creating' line: $(cat "$TMP/err")"
        [ "$(stat -c %s "$TMP/made" 2>/dev/null)" = 1048576 ] || fail "$TMP/made is not 1 MiB"
        good mode=roundtrip "$prog" roundtrip "$TMP/data" --op=nop --seconds=0.05
        # No progress line when stderr is not a terminal.
        [ ! -s "$TMP/err" ] || fail "roundtrip wrote to stderr: $(cat "$TMP/err")"
        # On a terminal (a pty from script(1)): the line is redrawn from the
        # first second on (throughput, time left), then erased.
        if command -v script >/dev/null; then
            script -qfec "$prog roundtrip $TMP/data --op nop --seconds 1.6 >/dev/null" /dev/null \
                >"$TMP/tty" 2>&1 </dev/null || fail "roundtrip on a terminal failed"
            grep -q "roundtrip nop .*ops/s, [0-9.]* s left" "$TMP/tty" ||
                fail "no progress line on a terminal: $(od -c "$TMP/tty" | head -5)"
            [ "$(tail -c 3 "$TMP/tty" | od -An -c | tr -d ' ')" = '033[K' ] ||
                fail "the progress line was not erased at the end"
        fi
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
    life-bench)
        bad MODE "$prog"
        bad "MODE: must be one of" "$prog" nosuchmode "$TMP"
        bad "$TMP/none" "$prog" files "$TMP/none"
        bad "--qd: not used by files-loop" "$prog" files-loop "$TMP" --qd 4
        mkdir -p "$TMP/life"
        good mode=files "$prog" files "$TMP/life" --files=20 --qd=4 --seconds=0.05
        good mode=files-loop "$prog" files-loop "$TMP/life" --files=20 --seconds=0.05
        good final_sync_ms "$prog" write-behind "$TMP/life" --total-mib=2 --range-mib=1
        ;;
    esac
    echo "$name: checked"
done
[ "$#" -gt 0 ] || fail "no programs given"
[ "$FAILS" -eq 0 ]
