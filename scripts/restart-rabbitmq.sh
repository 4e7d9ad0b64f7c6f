#!/usr/bin/env bash
# Hard-restart the local RabbitMQ node, for a node that no longer answers.
# Test data only: if the node cannot even boot (seen: stuck recovering the
# quorum queues of abandoned test vhosts), its data directory is wiped.
set -uo pipefail
MGMT="http://127.0.0.1:15672"
kill_all() {
  pkill -9 -f "rabbitmqctl|rabbitmq-plugins|rabbitmq-diagnostics|rabbitmq-server" 2>/dev/null
  pkill -9 -f "beam.smp" 2>/dev/null
  sleep 2
  pkill -9 epmd 2>/dev/null
  sleep 1
}
boot() {
  (rabbitmq-server -detached >/dev/null 2>&1 &)
  for _ in $(seq 1 60); do
    curl -fsS --max-time 5 -u guest:guest "$MGMT/api/overview" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}
kill_all
boot && exit 0
echo "RabbitMQ did not boot; wiping its (test) data and booting again" >&2
kill_all
rm -rf /var/lib/rabbitmq/mnesia/*
boot
