#!/usr/bin/env bash
# Make sure the local RabbitMQ runs, with the management API (nameko's test
# fixtures use it) — what a fresh development or CI machine needs.
set -euo pipefail
if [ -n "${AMQP_URI:-}" ] && [[ "$AMQP_URI" != *"127.0.0.1"* && "$AMQP_URI" != *"localhost"* ]]; then
  exit 0  # a remote broker: not ours to start
fi
if ! command -v rabbitmqctl >/dev/null 2>&1; then
  echo "RabbitMQ is not installed; installing it from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "starting RabbitMQ" >&2
  rabbitmq-server -detached
fi
for _ in $(seq 1 60); do
  rabbitmqctl -q await_startup >/dev/null 2>&1 && break
  sleep 1
done
if ! rabbitmq-plugins -q list -e rabbitmq_management 2>/dev/null | grep -q rabbitmq_management; then
  rabbitmq-plugins -q enable rabbitmq_management >/dev/null
fi
for _ in $(seq 1 30); do
  curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "RabbitMQ management API did not come up on :15672" >&2
exit 1
