#!/bin/sh
# with_kernel.sh KERNEL TOKMETER_CLI COMMAND [ARGS...] - run a test with TOKMETER_KERNEL=KERNEL, so
# that its whole body runs once more on that kernel. Exit 77 (ctest: skipped) when this CPU cannot
# run the kernel, or when it is already the default kernel (the plain run of the test covers it).
# These runs also set TOKMETER_HUGE_TABLES=1, so that the built-in tables are copied at the first
# count (kernel/tables.c) and the parity suites meet the copy too; the plain runs mostly count with
# the tables in place (a test process seldom counts the 64 MiB that brings the copy).
k=$1
cli=$2
shift 2
kernels=$("$cli" --kernels 2>/dev/null) || { echo "with_kernel: $cli --kernels failed" >&2; exit 1; }
if printf '%s\n' "$kernels" | grep -q "^\* $k "; then
    echo "kernel $k is the default kernel: covered by the plain run, skipped"
    exit 77
fi
if ! TOKMETER_KERNEL=$k "$cli" --kernels >/dev/null 2>&1; then
    echo "kernel $k: not supported by this CPU, skipped"
    exit 77
fi
TOKMETER_KERNEL=$k
TOKMETER_HUGE_TABLES=1
export TOKMETER_KERNEL TOKMETER_HUGE_TABLES
exec "$@"
