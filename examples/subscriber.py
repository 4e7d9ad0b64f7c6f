"""Print OneStop's dossier events live, with nothing but kombu.

    python examples/subscriber.py hue-vyda                 # every public event of Vỹ Dạ
    python examples/subscriber.py hue-vyda --events 'dossier.*.v1'      # the dossier events only
    python examples/subscriber.py hue-vyda --procedure 1.001193         # one procedure (headers exchange)
    python examples/subscriber.py '*' --field justice                   # one field, every center
    python examples/subscriber.py hue-vyda --durable vyda               # queue sub.demo.vyda keeps events while you are away

A subscriber's broker user (sub-<name>, docs/security.md) may declare and read only queues
named sub.<name>.*, on the public exchanges only: pass --name and its --amqp URI.

It imports nothing from OneStop: the contract is docs/events.md. Every event is
a CloudEvents 1.0 event in structured mode (content type
`application/cloudevents+json`, the JSON event format; read it with the
official `cloudevents` SDK if you like, as tests/integration/test_cloudevents.py
does). Two exchanges carry them:

- `onestop.events` (topic), routing key `<type>.<center>`: bind
  `*.*.v1.hue-vyda` (one center), `dossier.received.v1.*` (one type), `#`;
- `onestop.events.match` (headers), every message with its `ce-type`,
  `ce-center`, `ce-procedure`, `ce-field` headers: bind with `x-match: all`
  and the headers you want, to filter by procedure or field.
"""
import argparse
import json
import os
import uuid

from kombu import Connection, Exchange, Queue, binding
from kombu.mixins import ConsumerMixin
from kombu.serialization import register

CLOUDEVENTS = "application/cloudevents+json"
register("cloudevents", json.dumps, json.loads, content_type=CLOUDEVENTS, content_encoding="utf-8")
EVENTS = Exchange("onestop.events", type="topic", durable=True, passive=True)
MATCH = Exchange("onestop.events.match", type="headers", durable=True, passive=True)


class Printer(ConsumerMixin):
    def __init__(self, connection, queue, ready: str = ""):
        self.connection, self.queue, self.ready = connection, queue, ready

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        print(self.ready, flush=True)  # the queue is declared and bound: events from now on reach it

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[self.queue], callbacks=[self.on_message], accept=[CLOUDEVENTS])]

    def on_message(self, event, message):
        print(f"{event['time']}  {event['type']:<30} {event['center']:<14} {event['subject']:<18} "
              f"{event.get('procedure', '-'):<10} {json.dumps(event['data'], ensure_ascii=False)}", flush=True)
        message.ack()


def bindings(args) -> list:
    """Topic bindings for center and type; headers bindings once a procedure or field is asked for."""
    if not (args.procedure or args.field):
        return [binding(EVENTS, routing_key=f"{args.events}.{args.center}")]
    wanted = {"x-match": "all"}
    if args.center != "*":
        wanted["ce-center"] = args.center
    if args.procedure:
        wanted["ce-procedure"] = args.procedure
    if args.field:
        wanted["ce-field"] = args.field
    if args.events != "#":  # headers match exactly: one binding per type
        return [binding(MATCH, arguments={**wanted, "ce-type": t}) for t in args.events.split(",")]
    return [binding(MATCH, arguments=wanted)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("center", help="a center id such as hue-vyda, or '*' for all")
    parser.add_argument("--events", default="#", help="event type pattern, e.g. 'dossier.received.v1' (default: all); "
                        "with --procedure/--field, exact types separated by commas")
    parser.add_argument("--procedure", help="only this procedure's events, e.g. 1.001193")
    parser.add_argument("--field", help="only this field's events, e.g. justice")
    parser.add_argument("--name", default="demo", help="your subscriber name: queues are sub.NAME.* (default: demo)")
    parser.add_argument("--durable", metavar="QUEUE", help="a durable queue sub.NAME.QUEUE instead of a temporary one")
    parser.add_argument("--amqp", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/onestop-dev"))
    args = parser.parse_args()
    chosen = bindings(args)
    if args.durable:
        queue = Queue(f"sub.{args.name}.{args.durable}", bindings=chosen, durable=True)
    else:
        queue = Queue(f"sub.{args.name}.live-{uuid.uuid4().hex[:8]}", bindings=chosen, exclusive=True,
                      auto_delete=True, durable=False)
    with Connection(args.amqp) as connection:
        ready = (f"listening with {len(chosen)} binding(s): "
                 + "; ".join(f"{b.exchange.name} {b.routing_key or b.arguments}" for b in chosen) + " (Ctrl-C to stop)")
        try:
            Printer(connection, queue, ready).run()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
