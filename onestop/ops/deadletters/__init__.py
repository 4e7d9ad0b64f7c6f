"""Dead-letter queues: one dead letter (pure), the queues on the broker, the `onestop dlq` command."""
