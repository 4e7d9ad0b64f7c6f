#!/usr/bin/env bash
# Make sure a local RabbitMQ runs and has the management API (the tests' vhosts
# and nameko's test fixtures use it): what a fresh development or CI machine
# needs. It may install RabbitMQ, enable the management plugin and start a
# broker that is not running, and says so. It never restarts a running broker
# and never deletes a vhost or a queue: the broker may be shared, and what is on
# it is not ours. Leftover test vhosts go only when an operator asks:
# `make clean-test-vhosts`.
set -uo pipefail
MGMT="http://127.0.0.1:15672"
WAIT=120
if [ -n "${AMQP_URI:-}" ] && [[ "$AMQP_URI" != *"127.0.0.1"* && "$AMQP_URI" != *"localhost"* ]]; then
  exit 0  # a remote broker: not ours to start
fi
if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "RabbitMQ is not installed; installing it from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi
if ! grep -q rabbitmq_management /etc/rabbitmq/enabled_plugins 2>/dev/null; then
  echo "enabling RabbitMQ's management plugin" >&2
  # online when the node runs (takes effect at once, no restart), else for its next boot
  rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 ||
    rabbitmq-plugins --offline -q enable rabbitmq_management >/dev/null
fi

answers() {
  curl -fsS --max-time 5 -u guest:guest "$MGMT/api/overview" >/dev/null 2>&1
}

answers && exit 0
if pgrep -f "beam.smp.*rabbit" >/dev/null; then
  echo "RabbitMQ runs but its management API does not answer yet; waiting up to ${WAIT}s" >&2
else
  echo "RabbitMQ is not running; starting it (rabbitmq-server -detached)" >&2
  rabbitmq-server -detached
fi
for _ in $(seq 1 "$WAIT"); do
  answers && exit 0
  sleep 1
done
echo "RabbitMQ's management API ($MGMT) did not answer within ${WAIT}s. It was not restarted:" \
     "see 'rabbitmq-diagnostics status', and restart it yourself if nobody else uses it." >&2
exit 1
