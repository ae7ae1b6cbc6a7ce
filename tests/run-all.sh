#!/bin/sh
# Installs what is needed, builds, and runs the whole test suite twice: a
# normal build with warnings as errors (plus `make distcheck`), and an
# AddressSanitizer/UndefinedBehaviorSanitizer build.  Build trees go to
# build/ and build-asan/ below the source tree; their test logs stay there.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sh tests/install-deps.sh
autoreconf -fi >/dev/null

jobs=$(nproc 2>/dev/null || echo 2)
status=0

mkdir -p build
(cd build && ../configure -q --enable-werror && make -s -j"$jobs" && make -s -j"$jobs" check) || status=1

if [ "${MS_SKIP_ASAN:-}" != 1 ]; then
  mkdir -p build-asan
  (cd build-asan &&
     ../configure -q --enable-werror \
       CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
       LDFLAGS="-fsanitize=address,undefined" &&
     make -s -j"$jobs" &&
     ASAN_OPTIONS=detect_leaks=0 make -s -j"$jobs" check) || status=1
fi

if [ "${MS_SKIP_DISTCHECK:-}" != 1 ]; then
  (cd build && make -s -j"$jobs" distcheck >distcheck.log 2>&1) || { tail -40 build/distcheck.log; status=1; }
fi

exit $status
