#!/bin/sh
# Runs one test under a deadline, so that a hang is a failure, not a stuck CI.
# MS_TEST_TIMEOUT (seconds) overrides the default.
exec timeout -k 10 "${MS_TEST_TIMEOUT:-300}" "$@"
