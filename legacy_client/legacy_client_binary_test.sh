#!/usr/bin/env bash
# legacy_client against a real mock_provider: no idempotency (a repeated book
# makes a second booking), errors passed through without retry, cancel by
# booking id.
set -euo pipefail

bin=legacy_client/legacy_client
mock=mock_provider/mock_provider
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

"$mock" --listen=127.0.0.1:0 \
  --modes=ok=immediate,rej=reject,slow=delayed:delay_ms=3000 \
  >"$tmp/mock.out" 2>"$tmp/mock.log" &
mock_pid=$!
trap 'kill -TERM $mock_pid 2>/dev/null || true; wait $mock_pid 2>/dev/null || true' EXIT

addr=""
for _ in $(seq 1 600); do  # bounded: 30 s for a broken binary
  addr=$(sed -n 's/^listening on //p' "$tmp/mock.out" | head -1)
  [ -n "$addr" ] && break
  kill -0 "$mock_pid" || { echo "mock_provider exited"; cat "$tmp/mock.log"; exit 1; }
  sleep 0.05
done
[ -n "$addr" ] || { echo "mock_provider did not start"; exit 1; }

book() {  # provider id, then extra flags
  local p=$1; shift
  "$bin" --provider_addr="$addr" --provider_id="$p" \
    --start_time=2030-01-02T09:00:00Z --duration_minutes=30 \
    --location="Room 1" --customer_ref=cust-1 --log_file="$tmp/legacy.log" \
    "$@" book
}
field() {  # compact json, key -> value (strings and booleans)
  printf '%s' "$1" | sed -n 's/.*"'"$2"'":"\{0,1\}\([^",}]*\).*/\1/p'
}
fail() { echo "FAIL: $*"; exit 1; }

first=$(book ok)
second=$(book ok)
[ "$(field "$first" ok)" = "true" ] || fail "first book: $first"
[ "$(field "$first" status)" = "CONFIRMED" ] || fail "first status: $first"
[ "$(field "$first" booking_id)" != "$(field "$second" booking_id)" ] ||
  fail "a repeated request must make a second booking: $first / $second"
[ "$(field "$first" idempotency_key)" != "$(field "$second" idempotency_key)" ] ||
  fail "keys must be fresh per call"

set +e
rejected=$(book rej); rc=$?
set -e
[ "$rc" = 1 ] || fail "reject exit code $rc"
[ "$(field "$rejected" code)" = "FAILED_PRECONDITION" ] || fail "reject: $rejected"

set +e
slow=$(book slow --timeout=200ms); rc=$?
set -e
[ "$rc" = 1 ] || fail "delayed exit code $rc"
[ "$(field "$slow" code)" = "DEADLINE_EXCEEDED" ] || fail "delayed: $slow"

cancelled=$("$bin" --provider_addr="$addr" --provider_id=ok \
  --booking_id="$(field "$first" booking_id)" --log_file="$tmp/legacy.log" cancel)
[ "$(field "$cancelled" status)" = "CANCELLED" ] || fail "cancel: $cancelled"

set +e
"$bin" --provider_addr="$addr" --provider_id=ok cancel >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "cancel without --booking_id must be a usage error, got $rc"

# JSON log lines, one per call.
[ "$(grep -c '"service":"legacy_client"' "$tmp/legacy.log")" = 5 ] ||
  fail "log lines: $(cat "$tmp/legacy.log")"
echo PASS
