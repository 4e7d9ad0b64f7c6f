"""Print one center's OneStop dossier events live, with nothing but kombu.

    python examples/subscriber.py hue-vyda                 # every public event of Vỹ Dạ
    python examples/subscriber.py hue-vyda --durable vyda   # a queue that keeps events while you are away
    python examples/subscriber.py '*'                      # all centers

A subscriber's broker user (sub-<name>, docs/security.md) may declare and read only queues
named sub.<name>.*, on the public exchanges only: pass --name and its --amqp URI.

It imports nothing from OneStop: the contract is the exchange `onestop.events`
(topic), routing keys `<type>.<center>` such as `dossier.received.v1.hue-vyda`,
and a CloudEvents-style JSON envelope (docs/events.md).
"""
import argparse
import json
import os
import uuid

from kombu import Connection, Exchange, Queue
from kombu.mixins import ConsumerMixin

EVENTS = Exchange("onestop.events", type="topic", durable=True, passive=True)


class Printer(ConsumerMixin):
    def __init__(self, connection, queue):
        self.connection, self.queue = connection, queue

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[self.queue], callbacks=[self.on_message], accept=["json"])]

    def on_message(self, body, message):
        print(f"{body['time']}  {body['type']:<24} {body['center']:<14} {body['subject']:<18} "
              f"{json.dumps(body['data'], ensure_ascii=False)}", flush=True)
        message.ack()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("center", help="a center id such as hue-vyda, or '*' for all")
    parser.add_argument("--events", default="#", help="event type pattern, e.g. 'dossier.received.v1' (default: all)")
    parser.add_argument("--name", default="demo", help="your subscriber name: queues are sub.NAME.* (default: demo)")
    parser.add_argument("--durable", metavar="QUEUE", help="a durable queue sub.NAME.QUEUE instead of a temporary one")
    parser.add_argument("--amqp", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/onestop-dev"))
    args = parser.parse_args()
    key = f"{args.events}.{args.center}"
    if args.durable:
        queue = Queue(f"sub.{args.name}.{args.durable}", EVENTS, routing_key=key, durable=True)
    else:
        queue = Queue(f"sub.{args.name}.live-{uuid.uuid4().hex[:8]}", EVENTS, routing_key=key, exclusive=True,
                      auto_delete=True, durable=False)
    with Connection(args.amqp) as connection:
        print(f"listening on onestop.events with binding {key!r} (Ctrl-C to stop)", flush=True)
        try:
            Printer(connection, queue).run()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
