#!/bin/sh
# tests/wal/bigendian.sh - the WAL format tests on a big-endian CPU (s390x
# under qemu-user), so the little-endian helpers are proven where they do
# real work. Debian 12: apt-get install gcc-s390x-linux-gnu qemu-user.
#
#   tests/wal/bigendian.sh [BUILD_DIR]     default: build-be (created)
#
# Builds the wal sources, the CRC (its portable table: s390x has no CPU path
# in mapio) and the WAL tests statically with s390x-linux-gnu-gcc against
# a minimal cmocka (tests/wal/bigendian/cmocka.h), then runs each test and
# the fuzz target's seeds under qemu-s390x. The golden-bytes tests pin the
# on-disk layout, so the same bytes must come out as on x86. Exits non-zero
# on any failure.
set -eu
cd "$(dirname "$0")/../.."
CC=${CC:-s390x-linux-gnu-gcc}
QEMU=${QEMU:-qemu-s390x}
out=${1:-build-be}
for tool in "$CC" "$QEMU"; do
    command -v "$tool" >/dev/null || {
        echo "bigendian.sh: $tool not found (apt-get install gcc-s390x-linux-gnu qemu-user)" >&2
        exit 2
    }
done
mkdir -p "$out"
# The target must really be big-endian, or this proves nothing.
echo 'int main(void){return __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__;}' >"$out/be.c"
$CC -static -o "$out/be" "$out/be.c"
$QEMU "$out/be" || { echo "bigendian.sh: $CC does not target big-endian" >&2; exit 2; }

flags="-std=c11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -static"
inc="-Iapi -Iwal -Itests/support -Itests/wal"
lib="wal/wal_format.c wal/wal_scan.c wal/wal_recover.c wal/crc32c.c wal/crc32c_none.c"
util="tests/support/testutil.c tests/support/testutil_posix.c tests/wal/walt.c"
fail=0
for t in wal_format_test wal_recover_test wal_model_test; do
    $CC $flags $inc -Itests/wal/bigendian -o "$out/$t" "tests/wal/$t.c" $util $lib
    if $QEMU "$out/$t" >"$out/$t.log" 2>&1; then
        echo "$t: ok ($(tail -1 "$out/$t.log"))"
    else
        echo "$t: FAILED"; tail -5 "$out/$t.log"; fail=1
    fi
done
$CC $flags $inc -DWAL_FUZZ_MAIN -o "$out/wal_fuzz_regress" tests/wal/wal_fuzz.c $lib
if $QEMU "$out/wal_fuzz_regress" >"$out/wal_fuzz_regress.log" 2>&1; then
    echo "wal_fuzz_regress: ok ($(tail -1 "$out/wal_fuzz_regress.log"))"
else
    echo "wal_fuzz_regress: FAILED"; tail -5 "$out/wal_fuzz_regress.log"; fail=1
fi
exit $fail
