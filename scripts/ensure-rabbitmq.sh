#!/usr/bin/env bash
# Make sure the local RabbitMQ runs, answers, and has the management API
# (nameko's test fixtures and the test vhosts use it) — what a fresh
# development or CI machine needs. A node that is up but no longer answers
# (seen: vhost operations hanging for minutes) is restarted.
set -uo pipefail
MGMT="http://127.0.0.1:15672"
if [ -n "${AMQP_URI:-}" ] && [[ "$AMQP_URI" != *"127.0.0.1"* && "$AMQP_URI" != *"localhost"* ]]; then
  exit 0  # a remote broker: not ours to start
fi
if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "RabbitMQ is not installed; installing it from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi
if ! grep -q rabbitmq_management /etc/rabbitmq/enabled_plugins 2>/dev/null; then
  # online when the node runs (takes effect at once), else for its next boot
  rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 ||
    rabbitmq-plugins --offline -q enable rabbitmq_management >/dev/null
fi

answers() {  # the management API creates and deletes a vhost within 20 s
  curl -fsS --max-time 20 -u guest:guest -X PUT "$MGMT/api/vhosts/onestop-probe" >/dev/null 2>&1 &&
    curl -fsS --max-time 20 -u guest:guest -X DELETE "$MGMT/api/vhosts/onestop-probe" >/dev/null 2>&1
}

wait_up() {
  for _ in $(seq 1 90); do
    curl -fsS --max-time 5 -u guest:guest "$MGMT/api/overview" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

if ! curl -fsS --max-time 5 -u guest:guest "$MGMT/api/overview" >/dev/null 2>&1; then
  if ! pgrep -f "beam.smp.*rabbit" >/dev/null; then
    echo "starting RabbitMQ" >&2
    rabbitmq-server -detached
  fi
  wait_up || { echo "RabbitMQ is not answering; restarting it" >&2; ./scripts/restart-rabbitmq.sh; }
fi
if ! answers; then
  echo "RabbitMQ does not answer vhost operations; restarting it" >&2
  ./scripts/restart-rabbitmq.sh && wait_up && answers || { echo "RabbitMQ is unusable" >&2; exit 1; }
fi
# Test vhosts left behind by interrupted runs: their quorum queues slow the node down.
curl -fsS --max-time 20 -u guest:guest "$MGMT/api/vhosts" 2>/dev/null |
  python3 -c 'import json,sys; [print(v["name"]) for v in json.load(sys.stdin) if v["name"].startswith(("onestop-it-","onestop-test-","onestop-e2e-"))]' |
  while read -r vhost; do
    curl -fsS --max-time 60 -u guest:guest -X DELETE "$MGMT/api/vhosts/$vhost" >/dev/null 2>&1 || true
  done
exit 0
